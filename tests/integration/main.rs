//! One integration-test binary: real PostgreSQL, MariaDB and SQLite, a real agent on loopback.
//!
//! PostgreSQL and MariaDB are read from `DRIFTWATCH_TEST_POSTGRES_URL` and
//! `DRIFTWATCH_TEST_MYSQL_URL` (defaults: the local servers). Where one is unreachable its
//! tests fail with a clear message when `CI` is set, and print a visible SKIP otherwise. The
//! same holds for the `prometheus` binary the alerting-rule test runs (Debian's `prometheus`).

#[macro_use]
mod common;
mod agent;
mod alerts;
mod architecture;
mod cli;
mod columns;
mod conformance;
mod engines;
mod hash_diff;
mod kinds;
mod prometheus;
mod promql;
mod telemetry;
mod type_zoo;
