//! Request ids (`x-amzn-RequestId`): random-looking version-4 UUIDs, lowercase and hyphenated,
//! as AWS sends them.
//!
//! `Uuid::new_v4` draws 16 bytes from a cryptographic generator on every call (uuid's
//! `fast-rng`: rand's thread-local ChaCha). Request ids need to be unique and unpredictable
//! enough to tell requests apart, not secret, so each thread draws one random seed and
//! derives its ids from it with SplitMix64, a bijection of a counter: ids never repeat within
//! a thread, and two threads collide only if their 128-bit seeds nearly do.

use std::cell::Cell;

thread_local! {
    static STATE: Cell<Option<(u64, u64, u64)>> = const { Cell::new(None) };
}

/// SplitMix64's output function: a bijection on `u64`.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A new request id.
pub(crate) fn new() -> String {
    let (hi_seed, lo_seed, n) = STATE.with(|s| {
        let (hi, lo, n) = s.get().unwrap_or_else(|| {
            let seed = uuid::Uuid::new_v4().as_u128();
            // Truncations on purpose: the two halves of the seed.
            ((seed >> 64) as u64, seed as u64, 0)
        });
        s.set(Some((hi, lo, n.wrapping_add(1))));
        (hi, lo, n)
    });
    let hi = mix(hi_seed.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    let lo = mix(lo_seed ^ n);
    let bytes = ((u128::from(hi) << 64) | u128::from(lo)).to_be_bytes();
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
    let mut buf = uuid::Uuid::encode_buffer();
    id.hyphenated().encode_lower(&mut buf).to_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_are_v4_uuids_and_do_not_repeat() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let id = new();
            let parsed = uuid::Uuid::parse_str(&id).unwrap();
            assert_eq!(parsed.get_version_num(), 4, "{id}");
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
            assert_eq!(id, parsed.hyphenated().to_string());
            assert!(seen.insert(id));
        }
        let other = std::thread::spawn(|| (0..1000).map(|_| new()).collect::<Vec<_>>())
            .join()
            .unwrap();
        for id in other {
            assert!(seen.insert(id));
        }
    }
}
