//! Paris time from Unix time, without a time-zone database: CET (UTC+1), and CEST (UTC+2)
//! from the last Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC (the EU
//! rule in force since 1996).

/// Unix second of a Paris local time (`year-month-day hour:minute`); in the hour that
/// summer time skips or repeats, the earlier reading.
pub fn local_to_unix(year: i64, month: u32, day: u32, hour: u32, minute: u32) -> u64 {
    let local = days_from_civil(year, month, day) * 86_400 + i64::from(hour * 3600 + minute * 60);
    let local = local.max(0) as u64;
    let winter = local.saturating_sub(3600);
    if offset_hours(local.saturating_sub(7200)) == 2 {
        local.saturating_sub(7200)
    } else {
        winter
    }
}

/// The fields of `"2026-09-01 08:00"`: year, month, day, hour, minute, each in range.
pub fn fields(text: &str) -> Option<(i64, u32, u32, u32, u32)> {
    let (date, time) = text.trim().split_once(' ')?;
    let mut d = date.split('-');
    let (y, m, day) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let (h, min) = time.trim().split_once(':')?;
    let (h, min): (u32, u32) = (h.parse().ok()?, min.parse().ok()?);
    let valid = d.next().is_none()
        && (1..=12).contains(&m)
        && (1..=31).contains(&day)
        && h < 24
        && min < 60
        && (1970..=9999).contains(&y);
    valid.then_some((y, m, day, h, min))
}

/// Reads `"2026-09-01 08:00"` (Paris time) as a Unix second.
pub fn parse_local(text: &str) -> Option<u64> {
    let (y, m, day, h, min) = fields(text)?;
    Some(local_to_unix(y, m, day, h, min))
}

/// Minutes since Monday 00:00, Paris time, at Unix second `unix`.
pub fn week_minute(unix: u64) -> u32 {
    let local = unix + 3600 * offset_hours(unix);
    let minutes = local / 60;
    // 1970-01-01 was a Thursday: day 3 of a Monday-based week.
    let day = (minutes / 1440 + 3) % 7;
    (day * 1440 + minutes % 1440) as u32
}

/// Hours ahead of UTC at `unix`: 2 in summer time, else 1.
pub fn offset_hours(unix: u64) -> u64 {
    let year = year_of(unix);
    let (start, end) = (last_sunday_1h_utc(year, 3), last_sunday_1h_utc(year, 10));
    if (start..end).contains(&unix) { 2 } else { 1 }
}

/// The Unix second of the last Sunday of `month` in `year`, at 01:00 UTC.
fn last_sunday_1h_utc(year: i64, month: u32) -> u64 {
    let last_day = days_from_civil(year, month, 31);
    // 1970-01-01 (day 0) was a Thursday; Sunday is 3 days later.
    let weekday = (last_day + 4).rem_euclid(7); // 0 = Sunday
    ((last_day - weekday) * 86_400 + 3600) as u64
}

fn year_of(unix: u64) -> i64 {
    let mut year = 1970 + (unix / 31_556_952) as i64;
    while days_from_civil(year, 1, 1) * 86_400 > unix as i64 {
        year -= 1;
    }
    while days_from_civil(year + 1, 1, 1) * 86_400 <= unix as i64 {
        year += 1;
    }
    year
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paris_local_times_read_as_unix_seconds() {
        assert_eq!(
            parse_local("2026-09-01 08:00"),
            Some(1_788_242_400),
            "summer: UTC+2"
        );
        assert_eq!(
            parse_local("2026-01-15 08:00"),
            Some(1_768_460_400),
            "winter: UTC+1"
        );
        assert_eq!(
            parse_local("2026-10-25 02:30"),
            Some(1_792_888_200),
            "repeated hour: the earlier"
        );
        assert_eq!(
            parse_local("2026-03-29 02:30"),
            Some(1_774_747_800),
            "skipped hour"
        );
        for bad in [
            "2026-13-01 08:00",
            "2026-09-01",
            "2026-09-01 8h",
            "2026-09-01 24:00",
            "1969-12-31 23:00",
        ] {
            assert_eq!(parse_local(bad), None, "{bad}");
        }
        for unix in [1_788_242_400, 1_768_460_400] {
            assert_eq!(week_minute(unix) % 1440, 8 * 60, "08:00 back again");
        }
    }
}
