//! Go's `url.ParseQuery` (Go ≥ 1.17): `&`-separated pairs, `+` as space, `%XX` escapes, and any
//! `;` is an error (`invalid semicolon separator in query`). Bad pairs are skipped but the error is
//! still returned: the first escape error, or the last semicolon error, as Go's loop does.

use super::url::unescape_query_component;

/// Parsed form values: keys in first-appearance order, values in order.
pub(crate) type Values = Vec<(String, Vec<String>)>;

/// Parses like Go's `url.ParseQuery`; on error returns the message Go would return.
pub(crate) fn parse_query(query: &str) -> Result<Values, String> {
    let mut values: Values = Vec::new();
    let mut err: Option<String> = None;
    for pair in query.split('&') {
        if pair.contains(';') {
            // Go overwrites any earlier error here.
            err = Some("invalid semicolon separator in query".to_owned());
            continue;
        }
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = match unescape_query_component(k) {
            Ok(k) => k,
            Err(e) => {
                err.get_or_insert(e);
                continue;
            }
        };
        let value = match unescape_query_component(v) {
            Ok(v) => v,
            Err(e) => {
                err.get_or_insert(e);
                continue;
            }
        };
        match values.iter_mut().find(|(k2, _)| *k2 == key) {
            Some((_, vs)) => vs.push(value),
            None => values.push((key, vec![value])),
        }
    }
    match err {
        Some(e) => Err(e),
        None => Ok(values),
    }
}

/// Go's `%v` of a `[]string`: `[a b]`.
pub(crate) fn format_string_slice(v: &[String]) -> String {
    format!("[{}]", v.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms_like_go() {
        let v = parse_query("Action=GetRole&Action=GetUser&Version=&x").unwrap();
        assert_eq!(
            v,
            vec![
                (
                    "Action".to_owned(),
                    vec!["GetRole".to_owned(), "GetUser".to_owned()]
                ),
                ("Version".to_owned(), vec![String::new()]),
                ("x".to_owned(), vec![String::new()]),
            ]
        );
        assert_eq!(
            parse_query("a=b+c%21").unwrap(),
            vec![("a".to_owned(), vec!["b c!".to_owned()])]
        );
        assert!(parse_query("").unwrap().is_empty());
    }

    #[test]
    fn errors_like_go() {
        assert_eq!(
            parse_query("Version=%zz").unwrap_err(),
            "invalid URL escape \"%zz\""
        );
        assert_eq!(
            parse_query("a=%4").unwrap_err(),
            "invalid URL escape \"%4\""
        );
        assert_eq!(
            parse_query("a=1;b=2").unwrap_err(),
            "invalid semicolon separator in query"
        );
        assert_eq!(
            parse_query("a=%zz&b=1;").unwrap_err(),
            "invalid semicolon separator in query"
        );
        assert_eq!(
            format_string_slice(&["GetRole".into(), "GetUser".into()]),
            "[GetRole GetUser]"
        );
    }
}
