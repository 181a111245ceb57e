//! The request time: ISO-8601 basic format (step 9) and the skew window (steps 10–11).

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::error::{Mismatch, SigV4Error};

/// Step 9: `YYYYMMDD'T'HHMMSS'Z'`.
pub(crate) fn parse_basic(value: &str) -> Result<OffsetDateTime, SigV4Error> {
    let bad = || {
        SigV4Error::incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
        ))
    };
    let b = value.as_bytes();
    if b.len() != 16 || b.get(8) != Some(&b'T') || b.get(15) != Some(&b'Z') {
        return Err(bad());
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        let digits = value.get(from..to)?;
        if !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let parsed = (|| {
        let year = i32::try_from(num(0, 4)?).ok()?;
        let month = Month::try_from(u8::try_from(num(4, 6)?).ok()?).ok()?;
        let day = u8::try_from(num(6, 8)?).ok()?;
        let hour = u8::try_from(num(9, 11)?).ok()?;
        let minute = u8::try_from(num(11, 13)?).ok()?;
        let second = u8::try_from(num(13, 15)?).ok()?;
        let date = Date::from_calendar_date(year, month, day).ok()?;
        let time = Time::from_hms(hour, minute, second).ok()?;
        Some(PrimitiveDateTime::new(date, time).assume_utc())
    })();
    parsed.ok_or_else(bad)
}

/// ISO-8601 basic format in UTC, as AWS prints times in skew messages.
pub fn render_basic(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Steps 10 (too old) and 11 (too new). Exactly `max_skew` either way still passes.
pub(crate) fn check_skew(
    request: OffsetDateTime,
    now: OffsetDateTime,
    max_skew: time::Duration,
) -> Result<(), SigV4Error> {
    let minutes = max_skew.whole_minutes();
    if let Some(earliest) = now.checked_sub(max_skew)
        && request < earliest
    {
        return Err(SigV4Error::mismatch_of(Mismatch::Expired {
            request: render_basic(request),
            limit: render_basic(earliest),
            now: render_basic(now),
            minutes,
        }));
    }
    if let Some(latest) = now.checked_add(max_skew)
        && request > latest
    {
        return Err(SigV4Error::mismatch_of(Mismatch::NotYetCurrent {
            request: render_basic(request),
            limit: render_basic(latest),
            now: render_basic(now),
            minutes,
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_format_round_trips() {
        let t = parse_basic("20150830T123600Z").unwrap();
        assert_eq!(render_basic(t), "20150830T123600Z");
    }

    #[test]
    fn other_formats_are_incomplete_signatures() {
        for bad in [
            "2015-08-30T12:36:00Z",
            "20150830T123600",
            "20151330T123600Z",
            "20150830T126000Z",
            "2015083OT123600Z",
            "+0150830T123600Z",
            "",
        ] {
            let err = parse_basic(bad).unwrap_err();
            assert_eq!(
                err.message(),
                format!(
                    "Date must be in ISO-8601 'basic format'. Got '{bad}'. See http://en.wikipedia.org/wiki/ISO_8601"
                )
            );
        }
    }
}
