//! Go's `base64.StdEncoding.DecodeString`: the standard alphabet with mandatory `=` padding,
//! `\r` and `\n` skipped anywhere, non-zero trailing bits tolerated, and errors reported as
//! `illegal base64 data at input byte N` with Go's offsets.

use std::fmt;

/// Go's `base64.CorruptInputError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CorruptInput(pub(crate) usize);

impl fmt::Display for CorruptInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "illegal base64 data at input byte {}", self.0)
    }
}

fn sextet(b: u8) -> Option<u32> {
    let v = match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Marks a byte outside the alphabet in [`SEXTETS`].
const INVALID: u8 = 0x80;

/// [`sextet`] as a table, for the fast path.
const SEXTETS: [u8; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => INVALID,
        };
        i += 1;
    }
    t
};

fn is_newline(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

/// Decodes like Go's `StdEncoding.DecodeString`.
pub(crate) fn decode_std(src: &[u8]) -> Result<Vec<u8>, CorruptInput> {
    let mut out = Vec::with_capacity(src.len() / 4 * 3 + 3);
    let mut si = 0usize;
    while si < src.len() {
        // Fast path: four alphabet bytes make a whole quantum with nothing to decide, which is
        // what the general loop below would conclude too. Bearer tokens are kilobytes of them.
        // Two quanta at a time first (one check and one copy for both), then single ones.
        while let Some(&pair) = src
            .get(si..si + 8)
            .and_then(|q| <&[u8; 8]>::try_from(q).ok())
        {
            let sextets = pair.map(|x| SEXTETS[usize::from(x)]);
            if sextets.iter().fold(0, |seen, &x| seen | x) & INVALID != 0 {
                break;
            }
            let val = sextets
                .iter()
                .fold(0u64, |acc, &x| (acc << 6) | u64::from(x));
            out.extend_from_slice(val.to_be_bytes().get(2..).unwrap_or_default());
            si += 8;
        }
        while let Some(&[a, b, c, d]) = src
            .get(si..si + 4)
            .and_then(|q| <&[u8; 4]>::try_from(q).ok())
        {
            let [a, b, c, d] = [a, b, c, d].map(|x| SEXTETS[usize::from(x)]);
            if (a | b | c | d) & INVALID != 0 {
                break;
            }
            let val =
                (u32::from(a) << 18) | (u32::from(b) << 12) | (u32::from(c) << 6) | u32::from(d);
            out.extend_from_slice(&[(val >> 16) as u8, (val >> 8) as u8, val as u8]);
            si += 4;
        }
        if si >= src.len() {
            break;
        }
        // One quantum: up to four sextets, padding rules as Go's decodeQuantum.
        let mut buf = [0u32; 4];
        let mut len = 4usize;
        let mut j = 0usize;
        let mut trailing_err = None;
        while j < 4 {
            let Some(&c) = src.get(si) else {
                if j == 0 {
                    return Ok(out);
                }
                // Padding is mandatory: a short final quantum is corrupt.
                return Err(CorruptInput(si - j));
            };
            si += 1;
            if let Some(v) = sextet(c) {
                if let Some(slot) = buf.get_mut(j) {
                    *slot = v;
                }
                j += 1;
                continue;
            }
            if is_newline(c) {
                continue;
            }
            if c != b'=' {
                return Err(CorruptInput(si - 1));
            }
            // Padding reached.
            match j {
                0 | 1 => return Err(CorruptInput(si - 1)),
                2 => {
                    while src.get(si).is_some_and(|&b| is_newline(b)) {
                        si += 1;
                    }
                    match src.get(si) {
                        None => return Err(CorruptInput(src.len())),
                        Some(&b'=') => si += 1,
                        Some(_) => return Err(CorruptInput(si - 1)),
                    }
                }
                _ => {}
            }
            while src.get(si).is_some_and(|&b| is_newline(b)) {
                si += 1;
            }
            if si < src.len() {
                trailing_err = Some(CorruptInput(si));
            }
            len = j;
            break;
        }
        let val = (buf[0] << 18) | (buf[1] << 12) | (buf[2] << 6) | buf[3];
        let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
        out.extend_from_slice(bytes.get(..len.saturating_sub(1)).unwrap_or(&[]));
        if let Some(e) = trailing_err {
            return Err(e);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_the_alphabet() {
        for b in 0..=255u8 {
            match sextet(b) {
                Some(v) => assert_eq!(u32::from(SEXTETS[usize::from(b)]), v),
                None => assert_eq!(SEXTETS[usize::from(b)], INVALID),
            }
        }
    }

    #[test]
    fn long_input_decodes_like_the_standard_engine() {
        use base64::Engine as _;
        let data: Vec<u8> = (0..3000u32).map(|i| (i * 7 + i / 3) as u8).collect();
        for len in [0, 1, 2, 3, 4, 5, 299, 300, 301, 2999, 3000] {
            let enc = base64::engine::general_purpose::STANDARD.encode(&data[..len]);
            assert_eq!(decode_std(enc.as_bytes()).unwrap(), &data[..len], "{len}");
            // Newlines anywhere are skipped, as Go does.
            let wrapped: Vec<u8> = enc
                .as_bytes()
                .chunks(76)
                .flat_map(|c| c.iter().copied().chain(*b"\r\n"))
                .collect();
            assert_eq!(decode_std(&wrapped).unwrap(), &data[..len], "{len}");
        }
    }

    #[test]
    fn a_bad_byte_is_reported_where_it_is_at_any_offset() {
        use base64::Engine as _;
        let good = base64::engine::general_purpose::STANDARD.encode([0xa5u8; 30]);
        assert_eq!(decode_std(good.as_bytes()).unwrap(), [0xa5u8; 30]);
        for i in 0..good.len() {
            let mut bad = good.clone().into_bytes();
            bad[i] = b'_';
            assert_eq!(decode_std(&bad), Err(CorruptInput(i)), "{i}");
        }
    }

    #[test]
    fn decodes_padded_input() {
        assert_eq!(
            decode_std(b"aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8=").unwrap(),
            b"https://sts.amazonaws.com/"
        );
        assert_eq!(decode_std(b"").unwrap(), b"");
        assert_eq!(decode_std(b"YQ==").unwrap(), b"a");
        assert_eq!(decode_std(b"YW\nJj").unwrap(), b"abc");
    }

    #[test]
    fn reports_go_offsets() {
        // Corpus: base64url alphabet, `_` at 35.
        assert_eq!(
            decode_std(b"aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8_Pj4-")
                .unwrap_err()
                .0,
            35
        );
        assert_eq!(decode_std(b"{not base64}").unwrap_err().0, 0);
        // Corpus: unpadded, 58 bytes → 56.
        let unpadded = b"QWN0aW9uPUdldENhbGxlcklkZW50aXR5JlZlcnNpb249MjAxMS0wNi0xNQ";
        assert_eq!(decode_std(unpadded).unwrap_err().0, 56);
        assert_eq!(decode_std(b"YQ=").unwrap_err().0, 3);
        assert_eq!(decode_std(b"YQ==YQ==").unwrap_err().0, 4);
        assert_eq!(decode_std(b"Y===").unwrap_err().0, 1);
        assert_eq!(
            decode_std(b"YQ==YQ==").unwrap_err().to_string(),
            "illegal base64 data at input byte 4"
        );
    }
}
