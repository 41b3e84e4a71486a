//! Durations written as strings: `"500ms"`, `"30s"`, `"5m"`, `"1h"`, `"0s"`.

use std::time::Duration;

/// Parses one number followed by one unit (`ms`, `s`, `m`, `h`).
///
/// Deliberately small: a config file needs whole numbers of one unit, and rejecting `"1.5m"` or
/// `"30"` (no unit) is kinder than guessing what the admin meant.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    if number.is_empty() {
        return None;
    }
    let number: u64 = number.parse().ok()?;
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    number
        .checked_mul(millis_per_unit)
        .map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_each_unit() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
    }

    #[test]
    fn rejects_other_shapes() {
        for bad in [
            "",
            "30",
            "s",
            "-5s",
            "1.5m",
            "30 s",
            " 30s",
            "30sec",
            "1d",
            "5M",
            "30s ",
            "1m30s",
            "99999999999999999999s",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rejects_overflow() {
        assert_eq!(parse_duration(&format!("{}h", u64::MAX / 1000)), None);
    }
}
