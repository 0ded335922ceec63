//! Calendar dates as cordon prints them (`YYYY-MM-DD`, UTC), without a time-zone database.

use std::time::{SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's method).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month, day) → days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DD` into days since the epoch.
pub fn parse_days(s: &str) -> Option<i64> {
    let mut it = s.get(..10)?.split('-');
    let (y, m, d) = (
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Parses a calendar date written exactly `YYYY-MM-DD` (four-digit year, two-digit month and
/// day, a day the month has) into days since the epoch: nothing before or after it, no
/// sign, no 2026-02-31. For dates that are stored and shown again.
pub fn parse_exact(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape {
        return None;
    }
    let days = parse_days(s)?;
    (format_days(days) == s).then_some(days)
}

pub fn format_days(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Today, UTC, in days since the epoch.
pub fn today() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    secs.div_euclid(86_400)
}

/// Now, as RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    let us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64);
    rfc3339_micros(us)
}

/// A timestamp in Unix microseconds as RFC 3339 UTC with millisecond precision.
pub fn rfc3339_micros(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let ms = us.rem_euclid(1_000_000) / 1000;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    format!(
        "{}T{:02}:{:02}:{:02}.{:03}Z",
        format_days(days),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in [
            "1970-01-01",
            "2000-02-29",
            "2026-11-26",
            "1969-12-31",
            "2100-03-01",
        ] {
            assert_eq!(format_days(parse_days(s).unwrap()), s);
        }
        assert_eq!(
            parse_days("2026-06-08").unwrap() - parse_days("2026-06-01").unwrap(),
            7
        );
        assert_eq!(parse_days("2026-13-01"), None);
        assert_eq!(rfc3339_micros(1_500_000), "1970-01-01T00:00:01.500Z");
        assert_eq!(
            rfc3339_micros(1_764_115_200_000_000),
            "2025-11-26T00:00:00.000Z"
        );
    }

    #[test]
    fn exact_dates_are_calendar_dates() {
        for s in [
            "2026-06-17",
            "2024-02-29",
            "2000-02-29",
            "0001-01-01",
            "9999-12-31",
        ] {
            assert_eq!(parse_exact(s), parse_days(s), "{s}");
            assert!(parse_exact(s).is_some(), "{s}");
        }
        for s in [
            "2026-02-31",
            "2025-02-29",
            "1900-02-29",
            "2026-04-31",
            "2026-13-01",
            "2026-00-01",
            "2026-01-00",
            "2026-06-17x",
            "2026-06-17\u{1b}",
            " 2026-06-17",
            "2026-6-17",
            "+202-06-17",
            "2026/06/17",
            "",
            "2026-06-1",
            "２026-06-17",
        ] {
            assert_eq!(parse_exact(s), None, "{s:?}");
        }
    }
}
