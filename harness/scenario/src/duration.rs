//! Go-style durations (`90s`, `16m`, `1h30m`, `1.5h`, `-20m`), as Go's `time.ParseDuration`
//! reads them, since Consul and its users write durations that way.

use std::fmt;

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing to parse.
    #[error("empty duration")]
    Empty,
    /// A number without a unit, such as `90`.
    #[error("missing unit in duration `{0}`")]
    MissingUnit(String),
    /// A unit that Go does not know, such as `16min`.
    #[error("unknown unit `{unit}` in duration `{input}`")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole duration as written.
        input: String,
    },
    /// Not of the form number+unit, repeated.
    #[error("invalid duration `{0}`")]
    Invalid(String),
    /// More than Go's range of about ±292 years.
    #[error("duration `{0}` is out of range")]
    Overflow(String),
}

impl DurationError {
    /// The help line shown with this error in diagnostics.
    pub fn help(&self) -> &'static str {
        "write a number and a unit, repeated: `90s`, `16m`, `1h30m`, `-20m`; units are ns, us, ms, s, m, h"
    }
}

const NANOS_PER: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses a Go-style duration into a signed [`time::Duration`] with nanosecond precision.
///
/// ```
/// use iamconform_scenario::parse_go_duration;
/// assert_eq!(parse_go_duration("1h30m").unwrap(), time::Duration::minutes(90));
/// assert_eq!(parse_go_duration("-20m").unwrap(), time::Duration::minutes(-20));
/// assert!(parse_go_duration("16").is_err());
/// ```
pub fn parse_go_duration(input: &str) -> Result<time::Duration, DurationError> {
    let owned = || input.to_owned();
    let (negative, mut rest) = match input.as_bytes().first() {
        None => return Err(DurationError::Empty),
        Some(b'-') => (true, input.get(1..).unwrap_or("")),
        Some(b'+') => (false, input.get(1..).unwrap_or("")),
        Some(_) => (false, input),
    };
    // Go accepts a bare zero without a unit.
    if rest == "0" {
        return Ok(time::Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(DurationError::Invalid(owned()));
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after) = rest.split_at(int_len);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(f) => {
                let n = f.bytes().take_while(u8::is_ascii_digit).count();
                f.split_at(n)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(DurationError::Invalid(owned()));
        }
        let unit_len = after
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(after.len(), |(i, _)| i);
        let (unit, next) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(DurationError::MissingUnit(owned()));
        }
        if !unit.chars().all(|c| c.is_alphabetic()) {
            return Err(DurationError::Invalid(owned()));
        }
        let Some(&(_, scale)) = NANOS_PER.iter().find(|(u, _)| *u == unit) else {
            return Err(DurationError::UnknownUnit {
                unit: unit.to_owned(),
                input: owned(),
            });
        };
        let overflow = || DurationError::Overflow(input.to_owned());
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| overflow())?
        };
        let mut part = int.checked_mul(scale).ok_or_else(overflow)?;
        // Digits beyond nanosecond precision cannot change the result; like Go, drop them.
        let frac_digits = frac_part.get(..frac_part.len().min(18)).unwrap_or("");
        if !frac_digits.is_empty() {
            let num: u128 = frac_digits.parse().map_err(|_| overflow())?;
            let exp = u32::try_from(frac_digits.len()).map_err(|_| overflow())?;
            let den = 10u128.checked_pow(exp).ok_or_else(overflow)?;
            let frac = num.checked_mul(scale).ok_or_else(overflow)? / den;
            part = part.checked_add(frac).ok_or_else(overflow)?;
        }
        total = total.checked_add(part).ok_or_else(overflow)?;
        if total > u128::from(i64::MAX.unsigned_abs()) {
            return Err(overflow());
        }
        rest = next;
    }
    let nanos = i64::try_from(total).map_err(|_| DurationError::Overflow(owned()))?;
    Ok(time::Duration::nanoseconds(if negative {
        nanos.saturating_neg()
    } else {
        nanos
    }))
}

/// Renders a duration the way Go's `Duration.String` does for whole units (`1h30m0s`, `-20m0s`,
/// `1.5s`), so that messages show durations in the syntax scenarios use.
pub struct GoDuration(pub time::Duration);

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.0.whole_nanoseconds();
        if total == 0 {
            return f.write_str("0s");
        }
        if total < 0 {
            f.write_str("-")?;
        }
        let n = total.unsigned_abs();
        let secs = n / 1_000_000_000;
        let sub = n % 1_000_000_000;
        let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if h > 0 || m > 0 {
            write!(f, "{m}m")?;
        }
        if sub == 0 {
            write!(f, "{s}s")
        } else {
            let frac = format!("{sub:09}");
            write!(f, "{s}.{}s", frac.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn parses_go_examples() {
        let cases: &[(&str, Duration)] = &[
            ("0", Duration::ZERO),
            ("90s", Duration::seconds(90)),
            ("16m", Duration::minutes(16)),
            ("1h30m", Duration::minutes(90)),
            ("-20m", Duration::minutes(-20)),
            ("+5s", Duration::seconds(5)),
            ("1.5h", Duration::minutes(90)),
            (".5s", Duration::milliseconds(500)),
            ("300ms", Duration::milliseconds(300)),
            ("2us", Duration::microseconds(2)),
            ("2\u{b5}s", Duration::microseconds(2)),
            ("7ns", Duration::nanoseconds(7)),
            ("1h1m1s1ms", Duration::milliseconds(3_661_001)),
            ("2562047h", Duration::hours(2_562_047)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_go_duration(text).as_ref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_what_go_rejects() {
        assert_eq!(parse_go_duration(""), Err(DurationError::Empty));
        assert_eq!(
            parse_go_duration("16"),
            Err(DurationError::MissingUnit("16".into()))
        );
        assert!(matches!(
            parse_go_duration("16min"),
            Err(DurationError::UnknownUnit { unit, .. }) if unit == "min"
        ));
        for bad in [
            "-",
            "h",
            "1h ",
            " 1h",
            "5 minutes",
            "1.h.5",
            "..5s",
            "1e3s",
            "--1s",
        ] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            parse_go_duration("2562048h"),
            Err(DurationError::Overflow(_))
        ));
        assert!(matches!(
            parse_go_duration("99999999999999999999999999999999999999999h"),
            Err(DurationError::Overflow(_))
        ));
    }

    #[test]
    fn displays_like_go() {
        assert_eq!(GoDuration(Duration::minutes(90)).to_string(), "1h30m0s");
        assert_eq!(GoDuration(Duration::minutes(-20)).to_string(), "-20m0s");
        assert_eq!(GoDuration(Duration::milliseconds(1500)).to_string(), "1.5s");
        assert_eq!(GoDuration(Duration::ZERO).to_string(), "0s");
    }
}
