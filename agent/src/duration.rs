//! Parsing of human durations: `90`, `0.5`, `1.5s`, `250ms`, `2m`, `1h`, `30d`.
//!
//! Used by every timeout flag and config key, so they all accept the same
//! spellings. A bare number means seconds.

use std::time::Duration;

/// A duration that could not be parsed; the message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration '{input}': {why}; use a number of seconds with an optional unit, e.g. 30, 1.5s, 250ms, 2m, 1h, 7d"
)]
pub struct DurationError {
    input: String,
    why: &'static str,
}

/// Parses `text` into a [`Duration`].
///
/// Accepts a non-negative decimal number followed by an optional unit:
/// `ms`, `s` (default), `m`, `h`, `d`. Surrounding whitespace is ignored.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let err = |why| DurationError {
        input: text.to_string(),
        why,
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    if number.is_empty() {
        return Err(err("no number"));
    }
    let value: f64 = number.parse().map_err(|_| err("not a number"))?;
    let scale = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 0.001,
        "m" | "min" | "mins" => 60.0,
        "h" | "hr" | "hrs" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        _ => return Err(err("unknown unit")),
    };
    let seconds = value * scale;
    if !seconds.is_finite() || seconds > 1e12 {
        return Err(err("too large"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Formats a duration the way `parse_duration` reads it back (`1.5s`, `2m`).
pub fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs != 0.0 && secs % 86_400.0 == 0.0 {
        format!("{}d", secs / 86_400.0)
    } else if secs != 0.0 && secs % 3600.0 == 0.0 {
        format!("{}h", secs / 3600.0)
    } else if secs != 0.0 && secs % 60.0 == 0.0 {
        format!("{}m", secs / 60.0)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_numbers_and_units() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("0.5").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(
            parse_duration(" 30d ").unwrap(),
            Duration::from_secs(30 * 86_400)
        );
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
    }

    #[test]
    fn rejects_garbage_with_a_helpful_message() {
        for bad in ["", "s", "-1", "1x", "1.2.3", "abc", "1e400"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.to_string().contains("e.g. 30, 1.5s"), "{bad}: {e}");
        }
    }

    #[test]
    fn format_round_trips() {
        for text in ["1.5s", "2m", "1h", "7d", "0s", "0.25s"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
    }
}
