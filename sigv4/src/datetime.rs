//! UTC timestamps in the two forms SigV4 meets: ISO-8601 basic (`20150830T123600Z`, the
//! `X-Amz-Date` form and the one in the string to sign) and the HTTP `Date` header
//! (`Sun, 30 Aug 2015 12:36:00 GMT`). Hand-written rather than pulled from a date crate: the
//! formats are fixed-width, the verifier parses one per request, and the calendar arithmetic
//! is the classic days-from-civil conversion (proleptic Gregorian).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A UTC instant with one-second resolution (SigV4 never carries more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AmzDate {
    secs: i64,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

impl AmzDate {
    /// Seconds since the Unix epoch.
    pub fn from_unix(secs: i64) -> Self {
        Self { secs }
    }

    /// The instant, truncated to the second. Times before 1970 are representable too.
    pub fn from_system_time(t: SystemTime) -> Self {
        let secs = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => {
                // Round towards negative infinity so truncation is monotonic.
                let d = e.duration();
                let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                if d.subsec_nanos() > 0 {
                    -whole - 1
                } else {
                    -whole
                }
            }
        };
        Self { secs }
    }

    /// Back to a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        if self.secs >= 0 {
            UNIX_EPOCH + Duration::from_secs(self.secs.unsigned_abs())
        } else {
            UNIX_EPOCH - Duration::from_secs(self.secs.unsigned_abs())
        }
    }

    /// Seconds since the Unix epoch.
    pub fn unix(self) -> i64 {
        self.secs
    }

    /// This instant moved by `delta` seconds (saturating).
    pub fn add_secs(self, delta: i64) -> Self {
        Self {
            secs: self.secs.saturating_add(delta),
        }
    }

    /// Parses `YYYYMMDD'T'HHMMSS'Z'` exactly (16 bytes, no fractions, no offset).
    pub fn parse_basic(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        let year = digits(&b[0..4])?;
        let month = digits(&b[4..6])?;
        let day = digits(&b[6..8])?;
        let hour = digits(&b[9..11])?;
        let minute = digits(&b[11..13])?;
        let second = digits(&b[13..15])?;
        Self::from_fields(year, month, day, hour, minute, second)
    }

    /// Parses the IMF-fixdate form of the HTTP `Date` header: `Sun, 30 Aug 2015 12:36:00 GMT`.
    /// The weekday is checked for shape only; the obsolete RFC 850 and asctime forms are not
    /// accepted (no SigV4 client sends them).
    pub fn parse_http(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 29 || &b[3..5] != b", " || &b[25..29] != b" GMT" {
            return None;
        }
        if !WEEKDAYS.iter().any(|w| w.as_bytes() == &b[0..3]) {
            return None;
        }
        if b[7] != b' ' || b[11] != b' ' || b[16] != b' ' || b[19] != b':' || b[22] != b':' {
            return None;
        }
        let day = digits(&b[5..7])?;
        let month = MONTHS.iter().position(|m| m.as_bytes() == &b[8..11])? as u32 + 1;
        let year = digits(&b[12..16])?;
        let hour = digits(&b[17..19])?;
        let minute = digits(&b[20..22])?;
        let second = digits(&b[23..25])?;
        Self::from_fields(year, month, day, hour, minute, second)
    }

    fn from_fields(year: u32, month: u32, day: u32, h: u32, m: u32, s: u32) -> Option<Self> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        if h > 23 || m > 59 || s > 59 {
            return None;
        }
        let days = days_from_civil(i64::from(year), month, day);
        Some(Self {
            secs: days * 86_400 + i64::from(h * 3600 + m * 60 + s),
        })
    }

    /// `YYYYMMDD'T'HHMMSS'Z'`.
    pub fn format_basic(self) -> String {
        let (y, mo, d, h, mi, s) = self.fields();
        format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
    }

    /// `YYYYMMDD`, the date in a credential scope.
    pub fn date_stamp(self) -> String {
        let (y, mo, d, ..) = self.fields();
        format!("{y:04}{mo:02}{d:02}")
    }

    fn fields(self) -> (i64, u32, u32, i64, i64, i64) {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, mo, d) = civil_from_days(days);
        (y, mo, d, rem / 3600, rem % 3600 / 60, rem % 60)
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date. Works in 400-year eras so that every
/// era has the same length; the year is shifted to start in March so February's variable
/// length falls at the end of it.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let m = i64::from(month);
    let month_from_march = if m > 2 { m - 3 } else { m + 9 };
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_suite_timestamp_is_the_right_unix_time() {
        let d = AmzDate::parse_basic("20150830T123600Z").unwrap();
        assert_eq!(d.unix(), 1_440_938_160);
        assert_eq!(d.format_basic(), "20150830T123600Z");
        assert_eq!(d.date_stamp(), "20150830");
    }

    #[test]
    fn http_dates_parse_to_the_same_instant() {
        let d = AmzDate::parse_http("Sun, 30 Aug 2015 12:36:00 GMT").unwrap();
        assert_eq!(d.unix(), 1_440_938_160);
    }

    #[test]
    fn leap_days_and_century_rules_hold() {
        assert!(AmzDate::parse_basic("20240229T000000Z").is_some());
        assert!(AmzDate::parse_basic("20230229T000000Z").is_none());
        assert!(AmzDate::parse_basic("19000229T000000Z").is_none());
        assert!(AmzDate::parse_basic("20000229T000000Z").is_some());
        assert_eq!(AmzDate::parse_basic("19700101T000000Z").unwrap().unix(), 0);
    }

    #[test]
    fn malformed_basic_dates_are_refused() {
        for s in [
            "",
            "20150830T123600",
            "20150830 123600Z",
            "2015-08-30T12:36:00Z",
            "20151330T123600Z",
            "20150830T243600Z",
            "20150830T126000Z",
            "2015083OT123600Z",
            "+0150830T123600Z",
            "20150830T123600Zx",
        ] {
            assert!(AmzDate::parse_basic(s).is_none(), "{s:?}");
        }
    }

    #[test]
    fn formatting_round_trips_across_the_calendar() {
        // Every ~11 days for ~300 years, plus negative times.
        let mut t = -2_000_000_000i64;
        while t < 9_000_000_000 {
            let d = AmzDate::from_unix(t);
            let back = AmzDate::parse_basic(&d.format_basic()).unwrap();
            assert_eq!(back, d, "{t}");
            t += 999_983;
        }
    }

    #[test]
    fn system_time_truncates_to_the_second() {
        let t = UNIX_EPOCH + Duration::from_millis(1_440_938_160_999);
        assert_eq!(AmzDate::from_system_time(t).unix(), 1_440_938_160);
        let before = UNIX_EPOCH - Duration::from_millis(1500);
        assert_eq!(AmzDate::from_system_time(before).unix(), -2);
        assert_eq!(
            AmzDate::from_unix(-2).to_system_time(),
            UNIX_EPOCH - Duration::from_secs(2)
        );
    }
}
