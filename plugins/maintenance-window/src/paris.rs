//! Paris time from Unix time, without a time-zone database: CET (UTC+1), and CEST (UTC+2)
//! from the last Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC (the EU
//! rule in force since 1996).

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
