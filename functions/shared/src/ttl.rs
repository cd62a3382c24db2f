//! An environment's time to live, in the forms AWS wants it: the `mec:expires-at` tag (RFC 3339)
//! and EventBridge Scheduler's one-time `at(...)` expression.

use aws_smithy_types::date_time::Format;
pub use aws_smithy_types::DateTime;

use crate::error::MecError;

/// When an environment whose provisioning started at `started_at` (RFC 3339, as Step Functions
/// reports `$$.Execution.StartTime`) expires, to the second.
pub fn expires_at(started_at: &str, ttl_hours: u32) -> Result<DateTime, MecError> {
    let start =
        parse_time(started_at).map_err(|rule| MecError::invalid_input("started_at", &rule))?;
    Ok(DateTime::from_secs(
        start.secs() + i64::from(ttl_hours) * 3600,
    ))
}

/// Reads an RFC 3339 time (`Z` or a `±hh:mm` offset, with or without fractions).
pub fn parse_time(text: &str) -> Result<DateTime, String> {
    const RULE: &str = "must be an RFC 3339 time such as 2026-11-28T18:00:00Z";
    let text = text.trim();
    // The SDK's parser takes `Z` only: move an offset into the seconds ourselves.
    let time_of_day = text.find('T').map_or(text.len(), |t| t + 1);
    let (base, offset_seconds) = match text[time_of_day..].rfind(['+', '-']) {
        Some(at) => {
            let (base, offset) = text.split_at(time_of_day + at);
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let (hours, minutes) = offset[1..].split_once(':').ok_or(RULE)?;
            let hours: i64 = hours.parse().map_err(|_| RULE)?;
            let minutes: i64 = minutes.parse().map_err(|_| RULE)?;
            (format!("{base}Z"), sign * (hours * 3600 + minutes * 60))
        }
        None => (text.to_string(), 0),
    };
    let time = DateTime::from_str(&base, Format::DateTime).map_err(|_| RULE.to_string())?;
    Ok(DateTime::from_secs(time.secs() - offset_seconds))
}

/// `2026-11-28T18:00:00Z`: the form of the `mec:expires-at` tag and the record.
pub fn format_time(time: &DateTime) -> String {
    DateTime::from_secs(time.secs())
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| time.secs().to_string())
}

/// EventBridge Scheduler's one-time expression, `at(yyyy-mm-ddThh:mm:ss)`, read in UTC.
pub fn at_expression(time: &DateTime) -> String {
    format!("at({})", format_time(time).trim_end_matches('Z'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_adds_whole_hours_to_the_start() {
        let t = expires_at("2026-11-28T18:30:15.250Z", 8).unwrap();
        assert_eq!(format_time(&t), "2026-11-29T02:30:15Z");
        assert_eq!(at_expression(&t), "at(2026-11-29T02:30:15)");
    }

    #[test]
    fn offsets_are_read_as_such() {
        let t = expires_at("2026-11-28T20:00:00+02:00", 1).unwrap();
        assert_eq!(format_time(&t), "2026-11-28T19:00:00Z");
        let t = expires_at("2026-11-28T18:30:15.250000+00:00", 1).unwrap();
        assert_eq!(format_time(&t), "2026-11-28T19:30:15Z");
        let t = expires_at("2026-11-28T10:00:00-05:30", 1).unwrap();
        assert_eq!(format_time(&t), "2026-11-28T16:30:00Z");
    }

    #[test]
    fn a_bad_start_names_the_field() {
        let err = expires_at("yesterday", 1).unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput");
        assert!(err.to_string().contains("started_at"));
    }
}
