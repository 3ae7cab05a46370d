//! The agent's own embedded store (SQLite): the history of check runs, so the API can show
//! the latest result and a restarted agent knows what it last saw; each check's alert state;
//! and the notification outbox, written before anything is sent so that a crash loses
//! nothing. This is the only database the agent writes to.

use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

use chrono::{DateTime, Utc};

use crate::check::CheckRun;

/// A notification to queue for one sink.
pub struct NewNotification<'a> {
    pub sink: &'a str,
    /// Which alert it belongs to (`check/kind`): one alert's notifications go out in order.
    pub alert_key: &'a str,
    /// The notification, as JSON.
    pub notification: &'a str,
}

/// A pending notification, as the delivery worker reads it.
#[derive(Clone, Debug)]
pub struct OutboxRow {
    pub id: i64,
    pub alert_key: String,
    pub created_at: DateTime<Utc>,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub notification: String,
}

/// A notification's delivery record.
#[derive(Clone, Debug, serde::Serialize)]
pub struct OutboxEntry {
    pub id: i64,
    pub alert_key: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

fn millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

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
        for ddl in [
            "CREATE TABLE IF NOT EXISTS alert_state (
                check_name TEXT PRIMARY KEY,
                state TEXT NOT NULL,
                updated_at INTEGER NOT NULL
            )",
            // One row per notification and sink; `id` orders them.
            "CREATE TABLE IF NOT EXISTS outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                sink TEXT NOT NULL,
                alert_key TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                status TEXT NOT NULL DEFAULT 'pending',
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at INTEGER NOT NULL,
                last_error TEXT,
                done_at INTEGER,
                notification TEXT NOT NULL
            )",
            "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (sink, status, alert_key, id)",
        ] {
            sqlx::query(ddl).execute(&pool).await.map_err(err)?;
        }
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

    /// Every check's persisted alert state, as (check, JSON).
    pub async fn alert_states(&self) -> Result<Vec<(String, String)>, StateError> {
        sqlx::query_as("SELECT check_name, state FROM alert_state ORDER BY check_name")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))
    }

    /// Store a check's new alert state (`None` forgets it) and queue its notifications, in
    /// one transaction: a crash leaves either both or neither.
    pub async fn commit_alert(
        &self,
        check: &str,
        state: Option<&str>,
        notifications: &[NewNotification<'_>],
        now: DateTime<Utc>,
    ) -> Result<(), StateError> {
        let now = now.timestamp_millis();
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        match state {
            Some(json) => sqlx::query(
                "INSERT INTO alert_state (check_name, state, updated_at) VALUES (?, ?, ?)
                 ON CONFLICT (check_name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            )
            .bind(check)
            .bind(json)
            .bind(now),
            None => sqlx::query("DELETE FROM alert_state WHERE check_name = ?").bind(check),
        }
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        for n in notifications {
            sqlx::query(
                "INSERT INTO outbox (sink, alert_key, created_at, next_attempt_at, notification)
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(n.sink)
            .bind(n.alert_key)
            .bind(now)
            .bind(now)
            .bind(n.notification)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }

    /// The notification a sink should deliver next: of the oldest pending notification of
    /// each alert (so one alert's notifications go out in order), the one due first.
    pub async fn outbox_next(&self, sink: &str) -> Result<Option<OutboxRow>, StateError> {
        let row: Option<(i64, String, i64, i64, i64, String)> = sqlx::query_as(
            "SELECT id, alert_key, created_at, attempts, next_attempt_at, notification
             FROM outbox o
             WHERE sink = ? AND status = 'pending'
               AND id = (SELECT MIN(id) FROM outbox i
                         WHERE i.sink = o.sink AND i.alert_key = o.alert_key AND i.status = 'pending')
             ORDER BY next_attempt_at, id
             LIMIT 1",
        )
        .bind(sink)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.map(
            |(id, alert_key, created_at, attempts, next_attempt_at, notification)| OutboxRow {
                id,
                alert_key,
                created_at: millis(created_at),
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                next_attempt_at: millis(next_attempt_at),
                notification,
            },
        ))
    }

    /// The receiver accepted it (2xx).
    pub async fn outbox_delivered(&self, id: i64, now: DateTime<Utc>) -> Result<(), StateError> {
        self.outbox_finish(id, "delivered", None, now).await
    }

    /// Given up on: rejected, or still failing at the deadline.
    pub async fn outbox_failed(
        &self,
        id: i64,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StateError> {
        self.outbox_finish(id, "failed", Some(error), now).await
    }

    async fn outbox_finish(
        &self,
        id: i64,
        status: &str,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StateError> {
        sqlx::query(
            "UPDATE outbox SET status = ?, attempts = attempts + 1, done_at = ?,
             last_error = COALESCE(?, last_error) WHERE id = ?",
        )
        .bind(status)
        .bind(now.timestamp_millis())
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// A failed attempt to try again at `next`.
    pub async fn outbox_retry(
        &self,
        id: i64,
        error: &str,
        next: DateTime<Utc>,
    ) -> Result<(), StateError> {
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?",
        )
        .bind(next.timestamp_millis())
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Give up on pending notifications for sinks not in `sinks` (removed from the config):
    /// no worker would ever send them. Returns how many.
    pub async fn outbox_abandon_unknown(
        &self,
        sinks: &[&str],
        now: DateTime<Utc>,
    ) -> Result<u64, StateError> {
        let placeholders = vec!["?"; sinks.len()].join(", ");
        let sql = format!(
            "UPDATE outbox SET status = 'failed', done_at = ?,
             last_error = 'the sink was removed from the configuration'
             WHERE status = 'pending' AND sink NOT IN ({placeholders})"
        );
        let mut q = sqlx::query(&sql).bind(now.timestamp_millis());
        for s in sinks {
            q = q.bind(*s);
        }
        let r = q.execute(&self.pool).await.map_err(|e| self.err(e))?;
        Ok(r.rows_affected())
    }

    /// Notifications of a sink not yet delivered or given up on.
    pub async fn outbox_pending(&self, sink: &str) -> Result<i64, StateError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE sink = ? AND status = 'pending'")
            .bind(sink)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.err(e))
    }

    /// Forget delivered and failed notifications finished before `before`.
    pub async fn outbox_prune(&self, before: DateTime<Utc>) -> Result<u64, StateError> {
        let r = sqlx::query("DELETE FROM outbox WHERE status <> 'pending' AND done_at < ?")
            .bind(before.timestamp_millis())
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(r.rows_affected())
    }

    /// Every notification the outbox holds for a sink, oldest first (for tests and the API).
    pub async fn outbox_rows(&self, sink: &str) -> Result<Vec<OutboxEntry>, StateError> {
        let rows: Vec<(i64, String, String, i64, Option<String>)> = sqlx::query_as(
            "SELECT id, alert_key, status, attempts, last_error FROM outbox WHERE sink = ? ORDER BY id",
        )
        .bind(sink)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(
                |(id, alert_key, status, attempts, last_error)| OutboxEntry {
                    id,
                    alert_key,
                    status,
                    attempts,
                    last_error,
                },
            )
            .collect())
    }

    #[cfg(test)]
    pub fn pool_for_tests(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
