//! Small statistics for measured claims: the two-sample Kolmogorov–Smirnov test, used to
//! check that fake and real uploads cannot be told apart by their timing (`en-sim bench
//! --only chaff` and `tests/chaff.rs`).

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
