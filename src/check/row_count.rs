//! `row_count`: rows on each side (with an optional `where` per side), both counted at once.

use super::{CheckError, Outcome};
use crate::config::RowCountSpec;
use crate::system::Systems;

pub async fn run(spec: &RowCountSpec, systems: &Systems) -> Result<Outcome, CheckError> {
    let [a, b] = &spec.sides;
    let count = |side: &crate::config::TableSide| {
        let system = systems.get(&side.system).cloned();
        let side = side.clone();
        async move {
            let system = system.ok_or_else(|| CheckError::UnknownSystem(side.system.clone()))?;
            Ok::<_, CheckError>(
                system
                    .count_rows(&side.table, side.filter.as_deref())
                    .await?,
            )
        }
    };
    let (na, nb) = tokio::join!(count(a), count(b));
    let (na, nb) = match (na, nb) {
        (Ok(na), Ok(nb)) => (na, nb),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => return Err(e),
        (Err(ea), Err(eb)) => return Err(CheckError::Both(Box::new(ea), Box::new(eb))),
    };
    let difference = nb - na;
    Ok(Outcome {
        rows: vec![(a.system.clone(), na), (b.system.clone(), nb)],
        row_count_difference: Some(difference),
        finding: difference.unsigned_abs() as f64,
        total: na.max(nb) as f64,
        ..Outcome::default()
    })
}
