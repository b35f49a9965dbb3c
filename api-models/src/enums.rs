//! Deserialisation shared by the generated string enums.

use serde::de::{Deserializer, Error, Visitor};
use std::fmt;

/// Reads a JSON string into an enum through `from_wire`. Any string is accepted (an
/// unknown one becomes `Unrecognized`), so that validation, not the parser, reports it
/// with ECS's `InvalidParameterException`; a non-string is a type error.
pub(crate) fn deserialize_enum<'de, D, T>(d: D, from_wire: fn(&str) -> T) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct V<T>(fn(&str) -> T);
    impl<T> Visitor<'_> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<T, E> {
            Ok((self.0)(v))
        }
    }
    d.deserialize_str(V(from_wire))
}
