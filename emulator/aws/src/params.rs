//! Query-protocol parameters: the URL query and the form body, merged (spec §3.1).
//!
//! Decoding is strict so a client bug shows as `MalformedQueryString` rather than a guess:
//! every `%` must start a two-digit hex escape and the decoded bytes must be UTF-8.

/// Parameters in arrival order (query first, then body); the first occurrence wins.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Parameter names in order (for the journal; values may hold a session token).
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(k, _)| k.as_str())
    }

    /// Appends the pairs of a form-encoded text (`+` is a space).
    pub(crate) fn extend_from_form(&mut self, input: &[u8]) -> Result<(), String> {
        for piece in input.split(|b| *b == b'&') {
            if piece.is_empty() {
                continue;
            }
            let mut kv = piece.splitn(2, |b| *b == b'=');
            let k = kv.next().unwrap_or_default();
            let v = kv.next().unwrap_or_default();
            self.pairs.push((decode(k)?, decode(v)?));
        }
        Ok(())
    }
}

/// Percent-decodes one form component strictly.
fn decode(input: &[u8]) -> Result<String, String> {
    // Most components (`Action`, `Version`, names) need no decoding: copy them whole.
    if !input.iter().any(|b| matches!(b, b'%' | b'+')) {
        return std::str::from_utf8(input)
            .map(str::to_owned)
            .map_err(|_| INVALID_UTF8.to_owned());
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        match b {
            b'%' => {
                let (Some(&h), Some(&l)) = (input.get(i + 1), input.get(i + 2)) else {
                    // Spec §1.7 (scratch text).
                    return Err("Incomplete trailing escape % sequence".to_owned());
                };
                match (hex(h), hex(l)) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => {
                        return Err(format!(
                            "Illegal hex character in escape % pattern: %{}{}",
                            char::from(h).escape_default(),
                            char::from(l).escape_default()
                        ));
                    }
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| INVALID_UTF8.to_owned())
}

// UNVERIFIED: AWS's text for undecodable bytes in the query or form body.
const INVALID_UTF8: &str = "The query string contains invalid UTF-8";

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_keeps_first() {
        let mut p = Params::default();
        p.extend_from_form(b"Action=GetRole&RoleName=a%2Bb+c&&Action=X&flag")
            .unwrap();
        assert_eq!(p.get("Action"), Some("GetRole"));
        assert_eq!(p.get("RoleName"), Some("a+b c"));
        assert_eq!(p.get("flag"), Some(""));
    }

    #[test]
    fn rejects_bad_escapes_and_utf8() {
        let mut p = Params::default();
        assert_eq!(
            p.extend_from_form(b"a=%4").unwrap_err(),
            "Incomplete trailing escape % sequence"
        );
        assert_eq!(
            p.extend_from_form(b"a=%zz").unwrap_err(),
            "Illegal hex character in escape % pattern: %zz"
        );
        // Invalid UTF-8 gets one text whether or not the component needed decoding.
        for bad in [&b"a=%ff"[..], b"a=\xff", b"\xff=a", b"a=\xff+"] {
            assert_eq!(p.extend_from_form(bad).unwrap_err(), INVALID_UTF8);
        }
    }

    #[test]
    fn components_without_escapes_are_copied_whole() {
        let mut p = Params::default();
        p.extend_from_form("Version=2011-06-15&Name=caf\u{e9}".as_bytes())
            .unwrap();
        assert_eq!(p.get("Version"), Some("2011-06-15"));
        assert_eq!(p.get("Name"), Some("caf\u{e9}"));
    }
}
