//! How two sides' types compare: the one rule table that turns what each database says a
//! column is ([`Native`]) into the logical type both sides are canonicalised as, with the
//! reason a person is shown. Pure: no engine, no SQL, no I/O.
//!
//! The rules, where the two sides' types differ:
//! - integers of any width and sign compare by value; against a decimal of scale 0 too;
//! - decimals compare by exact value: at the larger of the two scales when both are fixed
//!   (`NUMERIC(12,2)` against `DECIMAL(14,4)` at 4 digits, so 1.23 equals 1.2300), and without
//!   trailing zeros (`number`) when one side's scale is not fixed (PostgreSQL `numeric`);
//! - floats compare at 15 significant digits, or at 6 when either side is single precision
//!   (a single holds about 7, not all exact);
//! - timestamps and times compare at the coarser side's fractional digits; a date against a
//!   timestamp compares as a timestamp to the second (a date is midnight);
//! - a boolean against an integer compares by value (true is 1; MySQL's BOOLEAN is a TINYINT
//!   that may hold 2);
//! - text, enums (by label) and text against an enum compare as text;
//! - a set compares as a set, against another set or a text array;
//! - a uuid compares as a uuid against text (any case, with or without hyphens) or 16 bytes;
//! - JSON documents compare by value, key order and whitespace aside (between two systems
//!   of one engine, which normalises them the same way);
//! - two arrays compare by their text (element order counts) when their elements are of one
//!   family (integers of any width, text of any kind) or of the same type.
//!
//! A side whose engine says little (SQLite: a declared type does not bind the values) defers
//! to the other side. Anything else is refused, naming both types.

use super::normalize::LogicalType;
use super::Native;

/// Fractional-second digits assumed where the catalog does not say.
const DEFAULT_PRECISION: u8 = 6;

/// The logical type two sides' values compare as, and why; or why they cannot be compared
/// without a declaration. `weak[i]`: side i's type says little about its values.
pub fn pair(natives: [&Native; 2], weak: [bool; 2]) -> Result<(LogicalType, String), String> {
    if let Some(found) = strong_pair(natives[0], natives[1]) {
        return Ok(found);
    }
    // A weak side defers to the other side's own logical type.
    for (strong, w) in [(1, 0), (0, 1)] {
        if weak[w] && !weak[strong] {
            if let Some((ty, why)) = strong_pair(natives[strong], natives[strong]) {
                return Ok((ty, format!("{why} (the other side's type is not binding)")));
            }
        }
    }
    Err(format!(
        "{} against {} has no exact comparison",
        natives[0].describe(),
        natives[1].describe()
    ))
}

fn strong_pair(a: &Native, b: &Native) -> Option<(LogicalType, String)> {
    use Native::*;
    let found = |ty: LogicalType, why: &str| Some((ty, why.to_string()));
    match (a, b) {
        (Int { .. }, Int { .. }) => found(LogicalType::Int, "integers compare by value"),
        (Int { .. }, Decimal { scale: Some(0) }) | (Decimal { scale: Some(0) }, Int { .. }) => {
            found(
                LogicalType::Int,
                "an integer and a decimal of scale 0 compare by value",
            )
        }
        (Int { .. }, Decimal { scale }) | (Decimal { scale }, Int { .. }) => match scale {
            Some(s) => found(
                LogicalType::Decimal(*s),
                "an integer and a decimal compare at the decimal's scale",
            ),
            None => found(
                LogicalType::Number,
                "an integer and a decimal compare by exact value",
            ),
        },
        (Decimal { scale: Some(0) }, Decimal { scale: Some(0) }) => {
            found(LogicalType::Int, "decimals of scale 0 compare as integers")
        }
        (Decimal { scale: Some(x) }, Decimal { scale: Some(y) }) => Some((
            LogicalType::Decimal((*x).max(*y)),
            if x == y {
                format!("decimals of scale {x}")
            } else {
                format!("decimals of scales {x} and {y} compare at {}", (*x).max(*y))
            },
        )),
        (Decimal { .. }, Decimal { .. }) => found(
            LogicalType::Number,
            "decimals without a fixed scale compare by exact value",
        ),
        (Float { single: x }, Float { single: y }) => {
            if *x || *y {
                found(
                    LogicalType::Float(6),
                    "single-precision floats compare at 6 significant digits",
                )
            } else {
                found(
                    LogicalType::Float(LogicalType::FLOAT_DIGITS),
                    "floats compare at 15 significant digits",
                )
            }
        }
        (Bool, Bool) => found(LogicalType::Bool, "booleans"),
        // MySQL's BOOLEAN is a TINYINT(1), which may hold any small integer: compared with an
        // integer by value (true is 1), so a 2 is not taken for a 1.
        (Bool, Int { .. }) | (Int { .. }, Bool) => found(
            LogicalType::Int,
            "a boolean and an integer compare by value (true is 1, false 0)",
        ),
        (Text | Enum, Text | Enum) => found(
            LogicalType::Text,
            if matches!((a, b), (Text, Text)) {
                "text compares exactly (whatever the collation says is equal)"
            } else {
                "enums compare by label"
            },
        ),
        (Set(_), Set(_)) => found(LogicalType::Set, "sets compare by their members"),
        (Set(_), Array(e)) | (Array(e), Set(_)) if is_text_name(e) => found(
            LogicalType::Set,
            "a set and a text array compare by their members",
        ),
        (Array(x), Array(y)) if element_family(x) == element_family(y) => found(
            LogicalType::Text,
            "arrays compare element by element, in order",
        ),
        (Date, Date) => found(LogicalType::Date, "dates"),
        (Date, Timestamp { .. }) | (Timestamp { .. }, Date) => found(
            LogicalType::Timestamp(0),
            "a date compares as midnight, to the second",
        ),
        (Timestamp { precision: x, .. }, Timestamp { precision: y, .. }) => {
            let p = coarser(*x, *y);
            Some((
                LogicalType::Timestamp(p),
                format!("timestamps compare in UTC at {p} fractional digits"),
            ))
        }
        (Time { precision: x }, Time { precision: y }) => {
            let p = coarser(*x, *y);
            Some((
                LogicalType::Time(p),
                format!("times of day compare at {p} fractional digits"),
            ))
        }
        (Uuid, Uuid | Text | Bytes) | (Text | Bytes, Uuid) => found(
            LogicalType::Uuid,
            "uuids compare by value, whatever their spelling",
        ),
        (Bytes, Bytes) => found(LogicalType::Bytes, "bytes compare exactly"),
        (Json, Json) => found(
            LogicalType::Json,
            "JSON documents compare by value (key order and whitespace don't count)",
        ),
        _ => None,
    }
}

fn coarser(x: Option<u8>, y: Option<u8>) -> u8 {
    x.unwrap_or(DEFAULT_PRECISION)
        .min(y.unwrap_or(DEFAULT_PRECISION))
}

/// Array elements whose text forms agree whenever their values do: integers of any width,
/// text of any kind; any other element type only with itself.
fn element_family(element: &str) -> &str {
    match element {
        "int2" | "int4" | "int8" => "integer",
        e if is_text_name(e) => "text",
        e => e,
    }
}

fn is_text_name(element: &str) -> bool {
    matches!(
        element,
        "text" | "varchar" | "bpchar" | "char" | "name" | "citext" | "character varying"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn ty(a: Native, b: Native) -> Result<LogicalType, String> {
        pair([&a, &b], [false, false]).map(|(t, _)| t)
    }

    #[test]
    fn decimals_compare_at_the_larger_scale_or_exactly() {
        let d = |s| Native::Decimal { scale: s };
        assert_eq!(ty(d(Some(2)), d(Some(4))), Ok(LogicalType::Decimal(4)));
        assert_eq!(ty(d(Some(2)), d(None)), Ok(LogicalType::Number));
        assert_eq!(
            ty(Native::Int { unsigned: true }, d(Some(0))),
            Ok(LogicalType::Int)
        );
        assert_eq!(
            ty(Native::Int { unsigned: false }, d(Some(2))),
            Ok(LogicalType::Decimal(2))
        );
    }

    #[test]
    fn times_compare_at_the_coarser_precision() {
        let ts = |p| Native::Timestamp {
            zoned: false,
            precision: p,
        };
        assert_eq!(ty(ts(Some(0)), ts(Some(6))), Ok(LogicalType::Timestamp(0)));
        assert_eq!(ty(ts(None), ts(Some(3))), Ok(LogicalType::Timestamp(3)));
        assert_eq!(ty(Native::Date, ts(Some(6))), Ok(LogicalType::Timestamp(0)));
        assert_eq!(
            ty(
                Native::Time { precision: Some(3) },
                Native::Time { precision: Some(6) }
            ),
            Ok(LogicalType::Time(3))
        );
    }

    #[test]
    fn sets_uuids_enums_and_floats() {
        let set = Native::Set(Arc::from(vec!["a".to_string()]));
        assert_eq!(
            ty(set.clone(), Native::Array(Arc::from("text"))),
            Ok(LogicalType::Set)
        );
        assert!(ty(set, Native::Array(Arc::from("int4"))).is_err());
        assert_eq!(ty(Native::Text, Native::Uuid), Ok(LogicalType::Uuid));
        assert_eq!(ty(Native::Bytes, Native::Uuid), Ok(LogicalType::Uuid));
        assert_eq!(ty(Native::Enum, Native::Text), Ok(LogicalType::Text));
        assert_eq!(
            ty(
                Native::Float { single: true },
                Native::Float { single: false }
            ),
            Ok(LogicalType::Float(6))
        );
    }

    #[test]
    fn a_weak_side_defers_and_the_rest_is_refused() {
        let got = pair(
            [&Native::other("?"), &Native::Decimal { scale: Some(2) }],
            [true, false],
        );
        assert_eq!(got.map(|(t, _)| t), Ok(LogicalType::Decimal(2)));
        let refused = ty(Native::other("point"), Native::Text).unwrap_err();
        assert_eq!(refused, "point against text has no exact comparison");
        assert!(ty(Native::Text, Native::Bytes).is_err());
        assert_eq!(
            ty(Native::Int { unsigned: false }, Native::Bool),
            Ok(LogicalType::Int)
        );
    }
}
