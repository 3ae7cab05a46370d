//! HTTP: `/metrics` (Prometheus text format), `/healthz`, `/readyz`, and the read-only API
//! under `/api/v1`, over [`Shared`], the state it serves from (the agent fills it in; this
//! module never runs a check). Nothing served here carries a secret: URLs print redacted and
//! results never hold credentials.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::RwLock;

use crate::alert::Alerts;
use crate::check::CheckRun;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::state::State as Store;
use crate::system::Systems;

/// What the HTTP API reads: the config, the latest run of every check, readiness.
pub struct Shared {
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub systems: Systems,
    pub state: Store,
    pub alerts: Arc<Alerts>,
    pub latest: RwLock<HashMap<String, CheckRun>>,
    pub ready: AtomicBool,
}

impl Shared {
    /// Nothing run yet, not ready: the agent fills `latest` and sets `ready`.
    pub fn new(
        config: Arc<Config>,
        metrics: Arc<Metrics>,
        systems: Systems,
        state: Store,
        alerts: Arc<Alerts>,
    ) -> Shared {
        Shared {
            config,
            metrics,
            systems,
            state,
            alerts,
            latest: RwLock::new(HashMap::new()),
            ready: AtomicBool::new(false),
        }
    }
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/checks", get(checks))
        .route("/api/v1/checks/{name}", get(check))
        .route("/api/v1/checks/{name}/runs", get(runs))
        .route("/api/v1/checks/{name}/runs/latest", get(latest))
        .route("/api/v1/alerts", get(alerts))
        .with_state(shared)
}

async fn index() -> &'static str {
    "driftwatch: /metrics /healthz /readyz /api/v1/checks /api/v1/checks/{name}/runs/latest /api/v1/alerts\n"
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready once every schedule is started. A system being down does not make the agent
/// unready: it is then reporting exactly what it should (errors and `system_up 0`).
async fn readyz(State(s): State<Arc<Shared>>) -> Response {
    let systems: serde_json::Map<String, serde_json::Value> = s
        .systems
        .iter()
        .map(|sys| {
            let up = match sys.is_up() {
                None => "unknown",
                Some(true) => "up",
                Some(false) => "down",
            };
            (sys.name().to_string(), json!(up))
        })
        .collect();
    let ready = s.ready.load(Ordering::Relaxed);
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(json!({"ready": ready, "systems": systems}))).into_response()
}

fn not_found(name: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": format!("no check named `{name}`; GET /api/v1/checks lists them")})),
    )
        .into_response()
}

async fn checks(State(s): State<Arc<Shared>>) -> Response {
    let latest = s.latest.read().await;
    let list: Vec<_> = s
        .config
        .checks
        .iter()
        .map(|c| {
            let run = latest.get(&c.name);
            json!({
                "name": c.name,
                "kind": c.kind,
                "description": c.description,
                "schedule": c.schedule.to_string(),
                "systems": c.systems(),
                "status": run.map(|r| r.status.as_str()),
                "last_run_at": run.map(|r| r.started_at),
            })
        })
        .collect();
    Json(json!({ "checks": list })).into_response()
}

async fn check(State(s): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    let Some(c) = s.config.check(&name) else {
        return not_found(&name);
    };
    let latest = s.latest.read().await.get(&name).cloned();
    Json(json!({
        "name": c.name,
        "kind": c.kind,
        "description": c.description,
        "schedule": c.schedule.to_string(),
        "timeout_seconds": c.timeout.as_secs_f64(),
        "systems": c.systems(),
        "defined_at": format!("{}:{}:{}", c.file.display(), c.pos.line, c.pos.col),
        "latest": latest,
    }))
    .into_response()
}

async fn latest(State(s): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    if s.config.check(&name).is_none() {
        return not_found(&name);
    }
    match s.latest.read().await.get(&name) {
        Some(run) => Json(json!({ "checks": [run] })).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("check `{name}` has not run yet")})),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
struct RunsQuery {
    limit: Option<i64>,
}

async fn runs(
    State(s): State<Arc<Shared>>,
    Path(name): Path<String>,
    Query(q): Query<RunsQuery>,
) -> Response {
    if s.config.check(&name).is_none() {
        return not_found(&name);
    }
    let limit = q.limit.unwrap_or(20).clamp(1, 1000);
    match s.state.history(&name, limit).await {
        Ok(runs) => Json(json!({ "runs": runs })).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

/// The agent's own alerts (pending, firing, resolved) and each sink's undelivered
/// notifications. Sinks appear by name only: their URLs and keys are secrets.
async fn alerts(State(s): State<Arc<Shared>>) -> Response {
    let alerts = s.alerts.views().await;
    let mut outbox = serde_json::Map::new();
    for sink in &s.config.sinks {
        let pending = s.state.outbox_pending(&sink.name).await.unwrap_or(0);
        outbox.insert(sink.name.clone(), json!({ "pending": pending }));
    }
    Json(json!({ "alerts": alerts, "outbox": outbox })).into_response()
}
