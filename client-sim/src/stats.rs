//! Small statistics for measured claims: the two-sample Kolmogorov–Smirnov test, used to
//! check that fake and real uploads cannot be told apart by their timing (`en-sim bench
//! --only chaff` and `tests/chaff.rs`); means with Student-t 95 % confidence intervals, for
//! results over several seeds (`en-sim run --seeds N`).

use serde::Serialize;

/// A mean over runs with its 95 % confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Interval {
    /// Mean.
    pub mean: f64,
    /// Lower end of the 95 % interval.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
}

/// Two-sided 97.5 % quantiles of Student's t for 1..=30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// The mean of `v` with a 95 % confidence interval for it (Student's t on the sample
/// standard deviation; one value gives an interval of zero width, none gives zeros).
pub fn mean_ci(v: &[f64]) -> Interval {
    if v.is_empty() {
        return Interval::default();
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if v.len() == 1 {
        return Interval {
            mean,
            lo: mean,
            hi: mean,
        };
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let t = T975.get(v.len() - 2).copied().unwrap_or(1.96);
    let half = t * (var / n).sqrt();
    Interval {
        mean,
        lo: mean - half,
        hi: mean + half,
    }
}

/// The two-sample Kolmogorov–Smirnov statistic D (the largest gap between the two empirical
/// distribution functions, 0..=1) and its asymptotic p-value (the probability of a D at
/// least this large if both samples come from one distribution).
pub fn ks_two_sample(a: &[f64], b: &[f64]) -> (f64, f64) {
    if a.is_empty() || b.is_empty() {
        return (0.0, 1.0);
    }
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    let ne = (n * m / (n + m)).sqrt();
    let lambda = (ne + 0.12 + 0.11 / ne) * d;
    (d, kolmogorov_q(lambda))
}

/// Q(λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²}, the Kolmogorov distribution's tail.
fn kolmogorov_q(lambda: f64) -> f64 {
    if lambda < 1e-3 {
        return 1.0;
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let k = f64::from(k);
        let term = (-2.0 * k * k * lambda * lambda).exp();
        sum += if k as u32 % 2 == 1 { term } else { -term };
        if term < 1e-12 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_and_disjoint_samples() {
        let a: Vec<f64> = (0..100).map(f64::from).collect();
        let (d, p) = ks_two_sample(&a, &a);
        assert_eq!(d, 0.0);
        assert!(p > 0.99);
        let b: Vec<f64> = (1000..1100).map(f64::from).collect();
        let (d, p) = ks_two_sample(&a, &b);
        assert_eq!(d, 1.0);
        assert!(p < 1e-10);
    }

    #[test]
    fn confidence_intervals() {
        let ci = mean_ci(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(ci.mean, 2.5);
        // sd = 1.291, se = 0.6455, t(3) = 3.182.
        assert!((ci.hi - ci.mean - 3.182 * 0.645_497).abs() < 1e-4, "{ci:?}");
        assert_eq!(
            mean_ci(&[5.0]),
            Interval {
                mean: 5.0,
                lo: 5.0,
                hi: 5.0
            }
        );
    }

    #[test]
    fn a_shift_of_half_the_spread_is_detected() {
        let a: Vec<f64> = (0..200).map(|i| f64::from(i) / 200.0).collect();
        let b: Vec<f64> = a.iter().map(|x| x + 0.5).collect();
        let (d, p) = ks_two_sample(&a, &b);
        assert!((d - 0.5).abs() < 0.01, "{d}");
        assert!(p < 1e-6, "{p}");
        // Known value: Q(1.0) = 0.27.
        assert!((kolmogorov_q(1.0) - 0.2700).abs() < 1e-3);
    }
}
