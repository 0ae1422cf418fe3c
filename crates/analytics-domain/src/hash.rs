//! A stable 64-bit hash (FNV-1a). Partitions and fingerprints are stored in
//! Redis, so the hash must never change between builds or platforms, which
//! rules out `std`'s randomly seeded hasher.

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

pub fn fnv1a64(parts: &[&[u8]]) -> u64 {
    let mut hash = OFFSET;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            // A separator byte that cannot occur in UTF-8 keeps ("ab","c") apart from ("a","bc").
            hash ^= 0xff;
            hash = hash.wrapping_mul(PRIME);
        }
        for byte in *part {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

/// A 64-bit finalizer (MurmurHash3's `fmix64`): every input bit reaches
/// every output bit. FNV-1a alone leaves its high bits poorly mixed for
/// strings that differ only near the end (`m1`, `m2`, …), and callers that
/// take the high bits as a position in an ordered space need them uniform.
pub fn mix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_fnv1a_vectors() {
        assert_eq!(fnv1a64(&[b""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(&[b"foobar"]), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn the_finalizer_spreads_similar_keys_over_the_high_bits() {
        let top_nibbles: std::collections::BTreeSet<u64> = (0..256)
            .map(|i| mix64(fnv1a64(&[format!("m{i}").as_bytes()])) >> 60)
            .collect();
        assert_eq!(top_nibbles.len(), 16);
        assert_eq!(mix64(0), 0);
    }

    #[test]
    fn part_boundaries_matter() {
        assert_ne!(fnv1a64(&[b"ab", b"c"]), fnv1a64(&[b"a", b"bc"]));
    }
}
