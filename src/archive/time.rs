//! SOURCE_DATE_EPOCH as archives store it: zip keeps a UTC wall-clock time in 2-second DOS
//! resolution between 1980 and 2107, the way Python's `zipfile` writes `time.gmtime(SDE)`
//! (seconds halved, rounding down); tar and gzip keep seconds.

/// 1980-01-01 00:00:00 UTC, the earliest DOS time (pypa/wheel clamps to it too).
pub const ZIP_MIN: u64 = 315_532_800;
/// 2107-12-31 23:59:58 UTC, the latest DOS time.
pub const ZIP_MAX: u64 = 4_354_819_198;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days-from-civil);
/// negative before 1970. `month` is 1 to 12, `day` 1 to 31.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day, hour, minute, second) in UTC: the inverse of [`days_from_civil`] plus
/// the time of day.
pub fn civil(secs: u64) -> (u64, u32, u32, u32, u32, u32) {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil, for non-negative day counts.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + u64::from(month <= 2);
    (
        year,
        month,
        day,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

/// The (date, time) DOS fields for `secs`, clamped into the range zip can hold.
pub fn dos(secs: u64) -> (u16, u16) {
    let (y, mo, d, h, mi, s) = civil(secs.clamp(ZIP_MIN, ZIP_MAX));
    let date = (((y - 1980) as u16) << 9) | ((mo as u16) << 5) | d as u16;
    let time = ((h as u16) << 11) | ((mi as u16) << 5) | (s as u16 / 2);
    (date, time)
}

/// Seconds since the epoch of a DOS (date, time), read as UTC (the backends that honour
/// SOURCE_DATE_EPOCH convert it to UTC before writing). A month or day of 0 or past 12,
/// which only a malformed header holds, is clamped rather than refused: the caller is reading
/// times for a guess, not checking the archive.
pub fn from_dos(date: u16, time: u16) -> u64 {
    let year = 1980 + i64::from(date >> 9);
    let month = u32::from((date >> 5) & 0xf).clamp(1, 12);
    let day = u32::from(date & 0x1f).max(1);
    // From 1980 on the day count is positive.
    let days = days_from_civil(year, month, day).max(0) as u64;
    let (h, m, s) = (
        u64::from(time >> 11),
        u64::from((time >> 5) & 0x3f),
        u64::from(time & 0x1f) * 2,
    );
    days * 86_400 + h * 3600 + m * 60 + s
}

/// A DOS (date, time) pair for reports.
pub fn show_dos(date: u16, time: u16) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        1980 + (date >> 9),
        (date >> 5) & 0xf,
        date & 0x1f,
        time >> 11,
        (time >> 5) & 0x3f,
        (time & 0x1f) * 2
    )
}

/// Seconds since the epoch for reports, as UTC.
pub fn show_secs(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{secs} ({y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_matches_known_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(1_580_601_600), (2020, 2, 2, 0, 0, 0));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(civil(1_700_000_001), (2023, 11, 14, 22, 13, 21));
    }

    #[test]
    fn days_from_civil_inverts_civil() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for days in (0..80_000u64).step_by(13) {
            let (y, mo, d, ..) = civil(days * 86_400);
            assert_eq!(
                days_from_civil(y as i64, mo, d),
                days as i64,
                "{y}-{mo}-{d}"
            );
        }
    }

    #[test]
    fn dos_times_read_back_as_utc() {
        for secs in [1_580_601_600, 1_451_606_400, 1_700_000_001, ZIP_MIN] {
            let (date, t) = dos(secs);
            assert_eq!(from_dos(date, t), secs - secs % 2, "{secs}");
        }
        // Month 0 and day 0 (a malformed header) read as January and the 1st.
        assert_eq!(from_dos(0, 0), ZIP_MIN);
    }

    #[test]
    fn dos_rounds_down_and_clamps() {
        assert_eq!(
            show_dos(dos(1_700_000_001).0, dos(1_700_000_001).1),
            "2023-11-14 22:13:20"
        );
        assert_eq!(dos(0), dos(ZIP_MIN));
        assert_eq!(show_dos(dos(0).0, dos(0).1), "1980-01-01 00:00:00");
        assert_eq!(
            show_dos(dos(u64::MAX).0, dos(u64::MAX).1),
            "2107-12-31 23:59:58"
        );
    }
}
