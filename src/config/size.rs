//! Sizes written as strings: `"500KB"`, `"20MB"`, `"1GB"`.

/// Parses one whole number followed by one unit (`B`, `KB`, `MB`, `GB`), counted in powers of
/// 1024 as Telegram counts its own limits ("20 MB" for bot downloads is 20 × 1024 × 1024 bytes).
///
/// Like durations, deliberately small: `"1.5MB"` or `"20"` (no unit) is refused rather than
/// guessed at.
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    if number.is_empty() {
        return None;
    }
    let number: u64 = number.parse().ok()?;
    let bytes_per_unit: u64 = match unit {
        "B" => 1,
        "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(bytes_per_unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_each_unit() {
        assert_eq!(parse_size("100B"), Some(100));
        assert_eq!(parse_size("500KB"), Some(500 * 1024));
        assert_eq!(parse_size("50MB"), Some(50 * 1024 * 1024));
        assert_eq!(parse_size("1GB"), Some(1024 * 1024 * 1024));
        assert_eq!(parse_size("0MB"), Some(0));
    }

    #[test]
    fn rejects_other_shapes() {
        for bad in [
            "", "20", "MB", "-5MB", "1.5MB", "20 MB", " 20MB", "20mb", "20Mb", "20MiB", "20M",
            "20MB ", "1TB",
        ] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
        assert_eq!(parse_size(&format!("{}GB", u64::MAX)), None);
    }
}
