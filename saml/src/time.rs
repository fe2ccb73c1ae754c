//! SAML times: `xs:dateTime` in UTC (`2026-09-01T08:00:00Z`, fractions allowed), read as Unix
//! seconds and written without fractions, as SAML 2.0 core §1.3.3 requires.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Unix seconds of a SAML time; `None` when it is not one (a time without zone included).
pub fn parse(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// The SAML time of Unix seconds `at`.
pub fn format(at: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(at).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saml_times_round_trip_in_utc() {
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse("2026-09-01T08:00:00.123Z"), Some(1_788_249_600));
        assert_eq!(parse("2026-09-01T10:00:00+02:00"), Some(1_788_249_600));
        assert_eq!(format(1_788_249_600), "2026-09-01T08:00:00Z");
        for bad in [
            "",
            "2026-09-01",
            "2026-09-01T08:00:00",
            "hier",
            "2026-13-01T08:00:00Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
