//! The agent's own embedded store (SQLite): the history of check runs, so the API can show
//! the latest result and a restarted agent knows what it last saw. Later: alert state and
//! the webhook outbox. This is the only database the agent writes to.

use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

use crate::check::CheckRun;

/// Runs kept per check; older ones are pruned.
const HISTORY_PER_CHECK: i64 = 1000;

#[derive(Debug, thiserror::Error)]
#[error("state store {path}: {source} (check that the folder exists and is writable, or set `state:` in the config)")]
pub struct StateError {
    path: String,
    #[source]
    source: sqlx::Error,
}

#[derive(Clone)]
pub struct State {
    pool: SqlitePool,
    path: String,
}

impl State {
    pub async fn open(path: &Path) -> Result<State, StateError> {
        let shown = path.display().to_string();
        let err = |source| StateError {
            path: shown.clone(),
            source,
        };
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(err)?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS check_runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                check_name TEXT NOT NULL,
                started_at TEXT NOT NULL,
                status TEXT NOT NULL,
                result TEXT NOT NULL
            )",
        )
        .execute(&pool)
        .await
        .map_err(err)?;
        sqlx::query(
            "CREATE INDEX IF NOT EXISTS check_runs_by_check ON check_runs (check_name, id)",
        )
        .execute(&pool)
        .await
        .map_err(err)?;
        Ok(State { pool, path: shown })
    }

    fn err(&self, source: sqlx::Error) -> StateError {
        StateError {
            path: self.path.clone(),
            source,
        }
    }

    pub async fn record(&self, run: &CheckRun) -> Result<(), StateError> {
        let json = serde_json::to_string(run).expect("a run serialises");
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO check_runs (check_name, started_at, status, result) VALUES (?, ?, ?, ?) RETURNING id",
        )
        .bind(&run.name)
        .bind(run.started_at.to_rfc3339())
        .bind(run.status.as_str())
        .bind(json)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        if id % 100 == 0 {
            sqlx::query(
                "DELETE FROM check_runs WHERE check_name = ? AND id NOT IN
                 (SELECT id FROM check_runs WHERE check_name = ? ORDER BY id DESC LIMIT ?)",
            )
            .bind(&run.name)
            .bind(&run.name)
            .bind(HISTORY_PER_CHECK)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// The newest runs of a check, newest first.
    pub async fn history(&self, check: &str, limit: i64) -> Result<Vec<CheckRun>, StateError> {
        let rows = sqlx::query(
            "SELECT result FROM check_runs WHERE check_name = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(check)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows
            .iter()
            .filter_map(|r| serde_json::from_str(r.get::<&str, _>(0)).ok())
            .collect())
    }

    pub async fn latest(&self, check: &str) -> Result<Option<CheckRun>, StateError> {
        Ok(self.history(check, 1).await?.into_iter().next())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
