//! driftwatch watches a legacy system and its replacement for data drift while both run side
//! by side: declarative checks run on a schedule against both databases, their findings are
//! exported as Prometheus metrics, and alerts go out when drift crosses a threshold.
//!
//! Data flows one way: [`config`] -> [`schedule`] -> [`check`] (asking the systems typed
//! questions through [`system`]) -> [`check::Report`] -> [`metrics`] + [`state`] + [`alert`]
//! (state machine -> outbox -> sinks), with no import cycle between files or folders
//! (`tests/integration/architecture.rs` keeps it so). SQL lives only in [`system`].

pub mod agent;
pub mod alert;
pub mod app;
pub mod check;
pub mod compare;
pub mod config;
pub mod demo;
pub mod http;
pub mod metrics;
pub mod schedule;
pub mod secret;
pub mod state;
pub mod system;
pub mod telemetry;
