//! `Timestamp`: a point in time, written as epoch seconds in a JSON number.
//!
//! The AWS JSON 1.1 protocol sends timestamps as epoch seconds (fractional allowed), and
//! the SDKs read them with aws-smithy-types' `DateTime`, which we reuse so that what we
//! write and what they read round-trip exactly. Whole seconds are written as integers,
//! anything finer as a number with millisecond precision (what ECS itself sends, e.g.
//! `1700000000.123`).

use aws_smithy_types::DateTime;
use serde::de::{Error, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::SystemTime;

/// A point in time with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    millis: i64,
}

impl Timestamp {
    /// From milliseconds since the Unix epoch.
    pub const fn from_epoch_millis(millis: i64) -> Self {
        Self { millis }
    }

    /// Milliseconds since the Unix epoch.
    pub const fn epoch_millis(self) -> i64 {
        self.millis
    }

    /// Epoch seconds, fractional.
    pub fn epoch_seconds(self) -> f64 {
        self.millis as f64 / 1000.0
    }

    /// The current time.
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// As aws-smithy-types' `DateTime`, the type the AWS SDKs use.
    pub fn to_date_time(self) -> DateTime {
        DateTime::from_millis(self.millis)
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        let millis = DateTime::from(t).to_millis().unwrap_or(i64::MAX);
        Self { millis }
    }
}

impl From<DateTime> for Timestamp {
    fn from(t: DateTime) -> Self {
        Self {
            millis: t.to_millis().unwrap_or(i64::MAX),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.millis % 1000 == 0 {
            s.serialize_i64(self.millis / 1000)
        } else {
            s.serialize_f64(self.epoch_seconds())
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("epoch seconds as a number")
            }
            fn visit_i64<E: Error>(self, v: i64) -> Result<Timestamp, E> {
                v.checked_mul(1000)
                    .map(Timestamp::from_epoch_millis)
                    .ok_or_else(|| E::custom("timestamp out of range"))
            }
            fn visit_u64<E: Error>(self, v: u64) -> Result<Timestamp, E> {
                i64::try_from(v)
                    .map_err(|_| E::custom("timestamp out of range"))
                    .and_then(|v| self.visit_i64(v))
            }
            fn visit_f64<E: Error>(self, v: f64) -> Result<Timestamp, E> {
                if !v.is_finite() || v.abs() > 9.0e15 {
                    return Err(E::custom("timestamp out of range"));
                }
                Ok(Timestamp::from_epoch_millis((v * 1000.0).round() as i64))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_seconds_are_written_as_integers_and_fractions_with_milliseconds() {
        let whole = Timestamp::from_epoch_millis(1_700_000_000_000);
        assert_eq!(serde_json::to_string(&whole).unwrap(), "1700000000");
        let frac = Timestamp::from_epoch_millis(1_700_000_000_123);
        assert_eq!(serde_json::to_string(&frac).unwrap(), "1700000000.123");
    }

    #[test]
    fn integer_and_fractional_epoch_seconds_are_read() {
        let t: Timestamp = serde_json::from_str("1700000000.5").unwrap();
        assert_eq!(t.epoch_millis(), 1_700_000_000_500);
        let t: Timestamp = serde_json::from_str("1700000000").unwrap();
        assert_eq!(t.epoch_millis(), 1_700_000_000_000);
        assert!(serde_json::from_str::<Timestamp>("\"2023-01-01\"").is_err());
    }

    #[test]
    fn what_we_write_the_sdk_date_time_reads_back_unchanged() {
        let t = Timestamp::from_epoch_millis(1_700_000_000_123);
        let text = serde_json::to_string(&t).unwrap();
        let parsed =
            DateTime::from_str(&text, aws_smithy_types::date_time::Format::EpochSeconds).unwrap();
        assert_eq!(Timestamp::from(parsed), t);
    }
}
