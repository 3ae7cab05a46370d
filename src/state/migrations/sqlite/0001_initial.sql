-- The schema as driftwatch created it before the store was versioned, unchanged: a store
-- written by that code already has these tables and indexes, so IF NOT EXISTS makes this
-- migration adopt it (its rows stay) and create the schema in a new store.

-- Every check run, as the JSON the API serves; pruned to the newest runs per check.
CREATE TABLE IF NOT EXISTS check_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    check_name TEXT NOT NULL,
    started_at TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS check_runs_by_check ON check_runs (check_name, id);

-- Each check's alert state machine, as JSON; updated_at in Unix milliseconds.
CREATE TABLE IF NOT EXISTS alert_state (
    check_name TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One row per notification and sink; `id` orders them. Times in Unix milliseconds.
CREATE TABLE IF NOT EXISTS outbox (
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
);

CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (sink, status, alert_key, id);
