//! Deterministic randomness: independent ChaCha8 sub-streams per entity and
//! dataset, keyed permutations for unique identifiers, weighted tables.
//!
//! Every random decision is drawn from `stream(seed, KIND, id)`, a ChaCha8
//! generator whose key comes from the run seed and whose 64-bit stream number
//! names the entity (a person, a unit, a dataset writer...). The same
//! `(people, seed, as_of)` therefore gives the same bytes whatever the order
//! or the thread in which the entities are generated.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Stream kinds (the top 16 bits of the stream number).
pub(crate) mod kind {
    pub const WORLD: u64 = 1;
    pub const PERSON: u64 = 2;
    pub const PLAN: u64 = 3;
    pub const NOISE_TAX: u64 = 4;
    pub const NOISE_SI: u64 = 5;
    pub const OWNER: u64 = 6;
    pub const VOLUNTARY: u64 = 7;
    pub const HOUSEHOLD: u64 = 8;
    pub const EMPLOYER: u64 = 9;
    pub const UNIT: u64 = 10;
    pub const WRITER: u64 = 11;
    pub const OFFICE: u64 = 12;
    pub const PAYMENT: u64 = 13;
    pub const PERM: u64 = 14;
    pub const TARGET: u64 = 15;
}

/// The generator for entity `id` of stream kind `kind`.
pub(crate) fn stream(seed: u64, kind: u64, id: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(b"bhxh-gen");
    key[16..24].copy_from_slice(&mix64(seed ^ 0x5bd1_e995).to_le_bytes());
    let mut r = ChaCha8Rng::from_seed(key);
    r.set_stream((kind << 48) ^ (id & 0x0000_ffff_ffff_ffff) ^ ((id >> 48) << 40));
    r
}

/// SplitMix64 finaliser: a fast 64-bit bijective mixer.
pub(crate) fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A keyed bijection of `0..m` (a balanced Feistel network on the next even
/// power of two, with cycle walking). Used to spread people over roles and to
/// give them unique but random-looking identifiers.
#[derive(Clone, Debug)]
pub(crate) struct Perm {
    m: u64,
    half: u32,
    mask: u64,
    keys: [u64; 4],
}

impl Perm {
    pub fn new(m: u64, seed: u64, tag: u64) -> Perm {
        let mut bits = 64 - m.saturating_sub(1).leading_zeros();
        bits = bits.max(2);
        if bits % 2 == 1 {
            bits += 1;
        }
        let half = bits / 2;
        let mut r = stream(seed, super::rng::kind::PERM, tag);
        Perm { m, half, mask: (1u64 << half) - 1, keys: [r.gen(), r.gen(), r.gen(), r.gen()] }
    }

    fn feistel(&self, x: u64) -> u64 {
        let (mut l, mut r) = (x >> self.half, x & self.mask);
        for k in self.keys {
            let f = mix64(r ^ k) & self.mask;
            let nl = r;
            r = l ^ f;
            l = nl;
        }
        (l << self.half) | r
    }

    /// The image of `x` (`x < m`).
    pub fn apply(&self, x: u64) -> u64 {
        debug_assert!(x < self.m);
        let mut y = self.feistel(x);
        while y >= self.m {
            y = self.feistel(y);
        }
        y
    }
}

/// Cumulative weights; `pick` draws an index with probability ∝ weight.
#[derive(Clone, Debug, Default)]
pub(crate) struct Table {
    cum: Vec<u64>,
}

impl Table {
    pub fn new(weights: impl IntoIterator<Item = u64>) -> Table {
        let mut total = 0u64;
        let cum = weights
            .into_iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        Table { cum }
    }
    pub fn total(&self) -> u64 {
        self.cum.last().copied().unwrap_or(0)
    }
    pub fn pick(&self, rng: &mut impl Rng) -> usize {
        let x = rng.gen_range(0..self.total().max(1));
        self.cum.partition_point(|&c| c <= x).min(self.cum.len().saturating_sub(1))
    }
    /// The index whose cumulative range holds position `x` (`x < total`).
    pub fn locate(&self, x: u64) -> usize {
        self.cum.partition_point(|&c| c <= x)
    }
    /// Start of the cumulative range of index `k`.
    pub fn start(&self, k: usize) -> u64 {
        if k == 0 {
            0
        } else {
            self.cum[k - 1]
        }
    }
}

/// A standard normal variate (Box–Muller).
pub(crate) fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Rounds to a multiple of `step`.
pub(crate) fn round_to(x: f64, step: i64) -> i64 {
    ((x / step as f64).round() as i64) * step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perm_is_a_bijection() {
        for m in [1u64, 2, 7, 100, 1000, 4097] {
            let p = Perm::new(m, 7, m);
            let mut seen = vec![false; m as usize];
            for x in 0..m {
                let y = p.apply(x) as usize;
                assert!(!seen[y]);
                seen[y] = true;
            }
        }
    }

    #[test]
    fn streams_are_independent_and_stable() {
        let a: u64 = stream(1, kind::PERSON, 5).gen();
        let b: u64 = stream(1, kind::PERSON, 5).gen();
        let c: u64 = stream(1, kind::PERSON, 6).gen();
        let d: u64 = stream(2, kind::PERSON, 5).gen();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }
}
