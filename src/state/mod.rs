//! The agent's own embedded store (SQLite): the history of check runs, so the API can show
//! the latest result and a restarted agent knows what it last saw; each check's alert state;
//! and the notification outbox, written before anything is sent so that a crash loses
//! nothing. This is the only database the agent writes to.
//!
//! The schema is versioned with sqlx migrations. They live in `src/state/migrations/<store>/`
//! (only `sqlite/` for now; a PostgreSQL store gets `postgres/` with the same version numbers,
//! its SQL the same wherever the two dialects agree), are embedded in the binary at compile
//! time, and are applied by [`State::open`], in one transaction, recording each applied
//! version in the store's `_sqlx_migrations` table. Migration 1 is the schema as it was
//! before it was versioned, written with `IF NOT EXISTS`, so a store created by that older
//! code is adopted with its rows. A store holding a version this build does not know was
//! written by a newer driftwatch and is refused ([`StateError::Newer`]) rather than used.
//!
//! To change the schema, add a migration, never edit one that was released (the store keeps
//! each applied migration's checksum and refuses a changed one): write
//! `migrations/sqlite/NNNN_what_it_does.sql` with the next number and add it to
//! `SQLITE_MIGRATIONS`; a test fails while a file in that folder is missing from the list.

use std::borrow::Cow;
use std::path::Path;

use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Connection, Row};

use chrono::{DateTime, Utc};

use crate::check::CheckRun;

/// The SQLite store's migrations, in order: (version, description, SQL). The version and
/// description are those of the file name (`0001_initial.sql` is 1, "initial"), as sqlx's
/// own `migrate!` would read them, so the records in `_sqlx_migrations` stay the same
/// whichever way the files are embedded. All of them run in the one transaction of
/// [`migrate`], so a file cannot opt out of it with sqlx's `-- no-transaction`.
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "initial",
    include_str!("migrations/sqlite/0001_initial.sql"),
)];

/// A list of embedded migrations, as sqlx's migrator takes them.
#[derive(Debug)]
struct Embedded(&'static [(i64, &'static str, &'static str)]);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> BoxFuture<'s, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// The newest schema version this build knows.
fn latest_known() -> i64 {
    SQLITE_MIGRATIONS.iter().map(|m| m.0).max().unwrap_or(0)
}

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
pub enum StateError {
    #[error("state store {path}: {source} (check that the folder exists and is writable, or set `state:` in the config)")]
    Sql {
        path: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("state store {path}: it was written by a newer driftwatch (schema version {found}; this driftwatch knows versions up to {known}); upgrade driftwatch or point `state:` at another file")]
    Newer {
        path: String,
        /// The newest version the store has.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    #[error("state store {path}: cannot bring its schema up to date: {source}; {hint}")]
    Migrate {
        path: String,
        #[source]
        source: MigrateError,
        hint: &'static str,
    },
}

#[derive(Clone)]
pub struct State {
    pool: SqlitePool,
    path: String,
}

impl State {
    /// Open the store at `path`, creating it if missing, and bring its schema up to date.
    pub async fn open(path: &Path) -> Result<State, StateError> {
        let shown = path.display().to_string();
        let err = |source| StateError::Sql {
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
        migrate(&pool, &shown).await?;
        Ok(State { pool, path: shown })
    }

    fn err(&self, source: sqlx::Error) -> StateError {
        StateError::Sql {
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

/// Apply the migrations the store lacks. All of them run in one immediate transaction: a
/// second agent opening the same new file waits instead of racing to apply migration 1 too,
/// and a failed upgrade leaves the store as it was.
async fn migrate(pool: &SqlitePool, path: &str) -> Result<(), StateError> {
    let sql = |source| StateError::Sql {
        path: path.to_owned(),
        source,
    };
    let failed = |source, hint| StateError::Migrate {
        path: path.to_owned(),
        source,
        hint,
    };
    let mut migrator = Migrator::new(Embedded(SQLITE_MIGRATIONS))
        .await
        .map_err(|e| failed(e, "this is a bug in driftwatch"))?;
    // Deliberately not ignoring applied versions this build lacks: they were written by a
    // newer driftwatch whose schema this code cannot be trusted to read or write.
    migrator.set_ignore_missing(false);
    let mut conn = pool.acquire().await.map_err(sql)?;
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(sql)?;
    match migrator.run(&mut *tx).await {
        Ok(()) => {}
        Err(MigrateError::VersionMissing(version)) => {
            let found: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
                .fetch_one(&mut *tx)
                .await
                .map_err(sql)?;
            let known = latest_known();
            return Err(if found > known {
                StateError::Newer {
                    path: path.to_owned(),
                    found,
                    known,
                }
            } else {
                failed(
                    MigrateError::VersionMissing(version),
                    "the store was migrated by a build with a migration this one lacks; \
                     use that build, or point `state:` at another file",
                )
            });
        }
        Err(e @ MigrateError::VersionMismatch(_)) => {
            return Err(failed(
                e,
                "a released migration was edited; restore it and add a new migration instead",
            ))
        }
        Err(e) => {
            return Err(failed(
                e,
                "check that the file is a driftwatch state store and is writable",
            ))
        }
    }
    tx.commit().await.map_err(sql)
}

#[cfg(test)]
mod tests;
