//! Bluetooth: attenuation from distance with log-normal noise and per-model calibration.

/// Attenuation (dB) at 1 m.
pub const ATTENUATION_AT_1M: f64 = 54.0;
/// Path-loss exponent (free space: 2).
pub const PATH_LOSS_EXPONENT: f64 = 2.0;
/// Longest distance at which a scan hears a phone.
pub const MAX_RANGE_M: f64 = 15.0;

/// Mean attenuation at `d` metres.
pub fn path_loss(d: f64) -> f64 {
    ATTENUATION_AT_1M + 10.0 * PATH_LOSS_EXPONENT * d.max(0.3).log10()
}

/// A deterministic standard normal from a 64-bit hash (Box–Muller on two 32-bit halves).
pub fn normal(h: u64) -> f64 {
    let u1 = ((h >> 32) as f64 + 1.0) / 4_294_967_297.0;
    let u2 = (h & 0xffff_ffff) as f64 / 4_294_967_296.0;
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// SplitMix64: a fast, well-mixed hash for deterministic per-event randomness.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The RSSI a receiver measures: transmit power − path loss + receiver offset + noise, clamped.
pub fn rssi(tx_power: i8, distance_m: f64, rx_offset_db: f64, noise_db: f64, h: u64) -> i8 {
    let v = f64::from(tx_power) - path_loss(distance_m) + rx_offset_db + noise_db * normal(h);
    v.round().clamp(-127.0, 20.0) as i8
}
