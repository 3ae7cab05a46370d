//! The long-running agent (`driftwatch run`): wires config -> schedule -> check -> outcome ->
//! metrics + state + alerts, serves HTTP, watches system health, and shuts down gracefully
//! (checks first, then a bounded flush of the alert outbox).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::alert::Alerts;
use crate::check;
use crate::config::{CheckConfig, Config};
use crate::http::Shared;
use crate::metrics::Metrics;
use crate::schedule;
use crate::state::State;
use crate::system::Systems;

/// Differences a scheduled run keeps in its result (the API and alerts show them).
const AGENT_SAMPLES: usize = 100;

/// How often an idle system is pinged, so `driftwatch_system_up` stays current between checks.
const HEALTH_INTERVAL: Duration = Duration::from_secs(15);

/// How long a stopping agent keeps delivering queued notifications; the rest waits in the
/// outbox for the next start.
const OUTBOX_FLUSH: Duration = Duration::from_secs(5);

/// A running agent. Dropping it does not stop it; call [`Agent::shutdown`].
pub struct Agent {
    pub shared: Arc<Shared>,
    pub local_addr: std::net::SocketAddr,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error("cannot listen on {addr}: {source} (is another driftwatch or exporter using the port? change `listen:` in the config)")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

impl Agent {
    /// Start the agent: open the state store, bind HTTP, restore the last results, and start
    /// every check's schedule. Returns once it is serving.
    pub async fn start(config: Config) -> Result<Agent, AgentError> {
        let config = Arc::new(config);
        let metrics = Arc::new(Metrics::new());
        let state = State::open(&config.state).await?;
        let systems = Systems::new(&config.systems, &metrics);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| AgentError::Listen {
                addr: config.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| AgentError::Listen {
            addr: config.listen,
            source,
        })?;
        let alerts = Alerts::start(
            config.clone(),
            state.clone(),
            metrics.clone(),
            config
                .external_url
                .clone()
                .unwrap_or_else(|| agent_url(local_addr)),
            Utc::now,
        )
        .await?;
        let shared = Arc::new(Shared::new(
            config.clone(),
            metrics.clone(),
            systems,
            state,
            alerts,
        ));
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();

        let app = crate::http::router(shared.clone());
        let mut http_stop = stop_rx.clone();
        tasks.spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|s| *s).await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "HTTP server stopped");
            }
        });
        tracing::info!(listen = %local_addr, checks = config.checks.len(), systems = config.systems.len(), "driftwatch agent started");

        for system in shared.systems.iter() {
            let system = system.clone();
            let mut stop = stop_rx.clone();
            tasks.spawn(async move {
                loop {
                    if let Err(e) = system.ping().await {
                        tracing::debug!(system = system.name(), error = %e, "health probe failed");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(HEALTH_INTERVAL) => {}
                        _ = stop.wait_for(|s| *s) => return,
                    }
                }
            });
        }

        for check in &config.checks {
            check::announce(check, &metrics);
            let previous = shared.state.latest(&check.name).await.ok().flatten();
            let run_now = match &previous {
                Some(run) => {
                    // Re-export what the last agent saw, then catch up only if a run was missed.
                    run.record_restored(check, &metrics);
                    shared
                        .latest
                        .write()
                        .await
                        .insert(check.name.clone(), run.clone());
                    check.schedule.next_after(run.started_at, run.started_at) <= Utc::now()
                }
                None => true,
            };
            let shared = shared.clone();
            let check = check.clone();
            let stop = stop_rx.clone();
            tasks.spawn(async move {
                let name = check.name.clone();
                let metrics = shared.metrics.clone();
                schedule::drive(
                    check.schedule.clone(),
                    run_now,
                    Utc::now,
                    stop,
                    || run_once(&shared, &check),
                    |skipped| {
                        tracing::warn!(check = %name, skipped, "previous run still going: skipped scheduled runs");
                        metrics.check_skipped.with_label_values(&[&name]).inc_by(skipped);
                    },
                )
                .await;
            });
        }
        shared.ready.store(true, Ordering::Relaxed);
        Ok(Agent {
            shared,
            local_addr,
            stop,
            tasks,
        })
    }

    /// Stop scheduling, cancel running checks, stop serving, flush the alert outbox for a
    /// few seconds, close every connection.
    pub async fn shutdown(mut self) {
        tracing::info!("shutting down");
        let _ = self.stop.send(true);
        let deadline = tokio::time::sleep(Duration::from_secs(10));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                next = self.tasks.join_next() => if next.is_none() { break },
                _ = &mut deadline => {
                    tracing::warn!("tasks did not stop within 10s; aborting them");
                    self.tasks.abort_all();
                    break;
                }
            }
        }
        self.shared.alerts.shutdown(OUTBOX_FLUSH).await;
        self.shared.systems.close().await;
        self.shared.state.close().await;
        tracing::info!("stopped");
    }
}

async fn run_once(shared: &Shared, check: &Arc<CheckConfig>) {
    let previous = shared.latest.read().await.get(&check.name).cloned();
    let options = check::RunOptions {
        samples: Some(AGENT_SAMPLES),
        previous,
        on_grace: None,
        progress: None,
    };
    let run = check::run(check, &shared.systems, &options).await;
    // The API shows the run before the metrics do, so whoever sees a metric change and asks
    // the API for the run behind it gets that run.
    shared
        .latest
        .write()
        .await
        .insert(check.name.clone(), run.clone());
    run.record(check, &shared.metrics);
    if let Err(e) = shared.state.record(&run).await {
        tracing::error!(check = %check.name, error = %e, "could not record the run in the state store");
    }
    // Only queues: delivery happens in the sinks' own tasks.
    shared.alerts.observe(check, &run).await;
}

/// Where people reach this agent, for links in alerts: its address, or the host's name when
/// it listens on every interface.
fn agent_url(addr: std::net::SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_string());
        format!("http://{host}:{}", addr.port())
    } else {
        format!("http://{addr}")
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
