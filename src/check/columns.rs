//! How a pair of expressions (one per side) compares: the declared logical type, or the one
//! both databases' types agree on. Shared by every kind that compares values or keys; asks the
//! systems only what their types say, never how an engine spells anything.

use super::context::CheckError;
use crate::compare::normalize::LogicalType;
use crate::compare::{key_type_supported, Col, Native};
use crate::system::Reader;

/// How a compared column is compared: its logical type, and whether the agent compares it
/// (after the diff, from values the systems send) rather than each database hashing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compared {
    pub ty: LogicalType,
    pub by_agent: bool,
}

/// The logical type of a compared column of a content check: as [`infer`], except that a
/// JSON document the two systems normalise differently is compared by the agent.
pub fn infer_content(
    name: &str,
    declared: Option<LogicalType>,
    natives: [&Native; 2],
    sides: [&Reader<'_>; 2],
) -> Result<Compared, CheckError> {
    let ty = infer_any(name, declared, natives, sides)?;
    Ok(Compared {
        ty,
        by_agent: ty == LogicalType::Json && sides[0].json_form() != sides[1].json_form(),
    })
}

/// The logical type of a column: the declared one, or the one both sides' types compare as
/// (the rules of [`crate::compare::infer`]). JSON is compared only between systems that
/// normalise it the same way.
pub fn infer(
    name: &str,
    declared: Option<LogicalType>,
    natives: [&Native; 2],
    sides: [&Reader<'_>; 2],
) -> Result<LogicalType, CheckError> {
    match infer_any(name, declared, natives, sides)? {
        LogicalType::Json if sides[0].json_form() != sides[1].json_form() => {
            Err(CheckError::Config(format!(
                "column `{name}`: JSON is compared as each system normalises it, and {} writes it as {} while {} writes it as {}; compare the documents as text with `type: text`, or leave the column out",
                sides[0].name(),
                sides[0].json_form(),
                sides[1].name(),
                sides[1].json_form()
            )))
        }
        ty => Ok(ty),
    }
}

fn infer_any(
    name: &str,
    declared: Option<LogicalType>,
    natives: [&Native; 2],
    sides: [&Reader<'_>; 2],
) -> Result<LogicalType, CheckError> {
    if let Some(t) = declared {
        return Ok(t);
    }
    let weak = [
        sides[0].says_little(natives[0]),
        sides[1].says_little(natives[1]),
    ];
    match crate::compare::infer::pair(natives, weak) {
        Ok((ty, _why)) => Ok(ty),
        Err(why) => Err(CheckError::Config(format!(
            "column `{name}`: cannot infer how to compare it ({} says {}, {} says {}: {why}); declare `type:` (one of {})",
            sides[0].name(),
            natives[0].describe(),
            sides[1].name(),
            natives[1].describe(),
            LogicalType::NAMES
        ))),
    }
}

/// Key (or reference) columns typed for comparison on both sides: the declared type, else
/// what the databases agree on; only types that order the same on every engine.
pub fn key_columns(
    names: &[String],
    declared: Option<&[LogicalType]>,
    exprs: [&[String]; 2],
    natives: [&[Native]; 2],
    sides: [&Reader<'_>; 2],
    what: &str,
) -> Result<[Vec<Col>; 2], CheckError> {
    let mut cols: [Vec<Col>; 2] = Default::default();
    for (k, name) in names.iter().enumerate() {
        let ty = infer(
            name,
            declared.map(|t| t[k]),
            [&natives[0][k], &natives[1][k]],
            sides,
        )?;
        if !key_type_supported(ty) {
            return Err(CheckError::Config(format!(
                "{what} `{name}` compares as {ty}: it must be an integer, text, a UUID or a date (declare its type)"
            )));
        }
        for i in 0..2 {
            cols[i].push(Col {
                expr: exprs[i][k].clone(),
                ty,
                native: natives[i][k].clone(),
                plain: false,
            });
        }
    }
    Ok(cols)
}
