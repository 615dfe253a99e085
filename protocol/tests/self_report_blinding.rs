//! What the server sees at issuance, the blinded element `B = r·H(x)`, is independent of the
//! phone's input `x`: with `r` uniform and non-zero in a prime-order group, `B` is uniform over
//! the non-identity elements whatever `x` is. That is an algebraic fact; a test can only look
//! for gross violations of it. This one draws many blinded elements for two fixed inputs and
//! checks that (1) none repeats, and (2) per bit of the encoding, the two inputs' samples have
//! the same frequency within 5 standard deviations, and every bit that is not fixed by the
//! canonical encoding is balanced. It cannot show independence; it would catch a blinding
//! that leaks `x` in the encoding's bits (e.g. a constant or low-entropy blind).

use std::collections::BTreeSet;

use en_protocol::selfreport::{phone, TokenInput};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const N: usize = 2000;

fn bit_counts(input: [u8; 32], rng: &mut ChaCha20Rng, seen: &mut BTreeSet<[u8; 32]>) -> Vec<u32> {
    let mut counts = vec![0u32; 256];
    for _ in 0..N {
        let (_, b) = phone::blind_input(TokenInput::from_slice(&input).unwrap(), rng);
        let bytes = b.to_bytes();
        assert!(seen.insert(bytes), "a blinded element repeated");
        for (i, c) in counts.iter_mut().enumerate() {
            *c += u32::from((bytes[i / 8] >> (i % 8)) & 1);
        }
    }
    counts
}

#[test]
fn blinded_elements_do_not_depend_on_the_input() {
    let mut rng = ChaCha20Rng::seed_from_u64(14);
    let mut seen = BTreeSet::new();
    let a = bit_counts([0; 32], &mut rng, &mut seen);
    let b = bit_counts([0xff; 32], &mut rng, &mut seen);
    // Binomial(N, 1/2): sd = sqrt(N)/2 ≈ 22; a difference of two: sd ≈ 32.
    let sd = (N as f64).sqrt() / 2.0;
    let mut balanced = 0;
    for i in 0..256 {
        let (x, y) = (f64::from(a[i]), f64::from(b[i]));
        // Bits the canonical encoding fixes (the lowest bit of a non-negative field element,
        // the top bit) are constant in both samples alike.
        if a[i] == 0 || a[i] == N as u32 {
            assert_eq!(a[i], b[i], "bit {i} is fixed for one input only");
            continue;
        }
        assert!(
            (x - y).abs() < 5.0 * sd * 2f64.sqrt(),
            "bit {i}: {x} vs {y}"
        );
        assert!(
            (x - N as f64 / 2.0).abs() < 5.0 * sd,
            "bit {i} unbalanced: {x}"
        );
        balanced += 1;
    }
    assert!(balanced >= 250, "only {balanced} bits vary");
}
