//! Shared helpers: reaching the test servers, creating tables with a writable admin
//! connection (the agent itself only reads), building configs, polling the agent.

/// One test per line, each calling `$run` with its arguments: the same test stamped out for
/// every pairing of engines (or kind of key).
macro_rules! stamp_tests {
    ($run:ident; $($name:ident: $($arg:expr),+;)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                $run($($arg),+).await;
            }
        )*
    };
}

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use driftwatch::config::{self, Config};
use sqlx::Connection;

pub const PG_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const MYSQL_DEFAULT: &str = "mysql://root@127.0.0.1:3306/test";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    MySql,
    Sqlite,
}

/// A database a test may write to (to set up), and the URL the agent reads it with.
pub struct Db {
    pub backend: Backend,
    pub url: String,
    admin: Admin,
    _dir: Option<tempfile::TempDir>,
}

enum Admin {
    Pg(sqlx::PgPool),
    My(sqlx::MySqlPool),
    Lite(sqlx::SqlitePool),
}

/// Says a server is missing: a failure under CI, a visible skip elsewhere.
pub fn unavailable(what: &str, why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is required under CI but unreachable: {why} (start it, see .ci/run)");
    }
    skipped(&format!(
        "{what} unreachable ({why}); start it to run this test"
    ));
}

/// Says a program a test needs is not installed: a failure under CI, a visible skip elsewhere.
pub fn missing_program(program: &str, install: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("`{program}` is required under CI but was not found: {install}");
    }
    skipped(&format!(
        "`{program}` not found; {install} to run this test"
    ));
}

/// Prints a SKIP line, naming the test, past the test harness's output capture: libtest keeps
/// what `eprintln!` writes and shows it only for a test that fails, so a skipped test, which
/// passes, would say nothing.
fn skipped(message: &str) {
    use std::io::Write;
    let current = std::thread::current();
    // libtest runs each test on a thread named after it ("main" with --test-threads=1).
    let test = current.name().unwrap_or("a test");
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {message}");
}

/// The path of `program` on `PATH`, if it is there.
pub fn find_program(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

impl Db {
    pub async fn connect(backend: Backend) -> Option<Db> {
        match backend {
            Backend::Postgres => {
                let url =
                    std::env::var("DRIFTWATCH_TEST_POSTGRES_URL").unwrap_or(PG_DEFAULT.into());
                match sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect(&url)
                    .await
                {
                    Ok(pool) => Some(Db {
                        backend,
                        url,
                        admin: Admin::Pg(pool),
                        _dir: None,
                    }),
                    Err(e) => {
                        unavailable("PostgreSQL (DRIFTWATCH_TEST_POSTGRES_URL)", &e.to_string());
                        None
                    }
                }
            }
            Backend::MySql => {
                let url =
                    std::env::var("DRIFTWATCH_TEST_MYSQL_URL").unwrap_or(MYSQL_DEFAULT.into());
                match sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(2)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect(&url)
                    .await
                {
                    Ok(pool) => Some(Db {
                        backend,
                        url,
                        admin: Admin::My(pool),
                        _dir: None,
                    }),
                    Err(e) => {
                        unavailable("MariaDB/MySQL (DRIFTWATCH_TEST_MYSQL_URL)", &e.to_string());
                        None
                    }
                }
            }
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("test.db");
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(
                        sqlx::sqlite::SqliteConnectOptions::new()
                            .filename(&path)
                            .create_if_missing(true),
                    )
                    .await
                    .unwrap();
                Some(Db {
                    backend,
                    url: format!("sqlite://{}", path.display()),
                    admin: Admin::Lite(pool),
                    _dir: Some(dir),
                })
            }
        }
    }

    /// Run statements with the writable admin connection.
    pub async fn exec(&self, sql: &str) {
        for stmt in sql.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
            let r = match &self.admin {
                Admin::Pg(p) => sqlx::query(stmt).execute(p).await.map(|_| ()),
                Admin::My(p) => sqlx::query(stmt).execute(p).await.map(|_| ()),
                Admin::Lite(p) => sqlx::query(stmt).execute(p).await.map(|_| ()),
            };
            r.unwrap_or_else(|e| panic!("setup statement failed: {stmt}: {e}"));
        }
    }

    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        match &self.admin {
            Admin::Pg(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            Admin::My(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            Admin::Lite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }

    /// A table of `n` rows (id, name, active) under a unique name; returns the name.
    pub async fn table(&self, prefix: &str, n: i64, active_every: i64) -> String {
        let name = unique(prefix);
        let bool_ty = if self.backend == Backend::Postgres {
            "BOOLEAN"
        } else {
            "INTEGER"
        };
        self.exec(&format!("CREATE TABLE {name} (id INTEGER PRIMARY KEY, name VARCHAR(50), active {bool_ty} NOT NULL)")).await;
        let mut i = 0;
        while i < n {
            let end = (i + 500).min(n);
            let values: Vec<String> = (i..end)
                .map(|k| {
                    let active = k % active_every == 0;
                    let active = match self.backend {
                        Backend::Postgres => active.to_string(),
                        _ => i32::from(active).to_string(),
                    };
                    format!("({k}, 'name {k}', {active})")
                })
                .collect();
            self.exec(&format!(
                "INSERT INTO {name} (id, name, active) VALUES {}",
                values.join(",")
            ))
            .await;
            i = end;
        }
        name
    }

    pub async fn drop_table(&self, name: &str) {
        self.exec(&format!("DROP TABLE IF EXISTS {name}")).await;
    }
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "dw_{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Write `files` into a fresh folder and load `driftwatch.yaml` from it.
pub fn config_in(dir: &Path, files: &[(&str, &str)]) -> Config {
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    config::load(&dir.join("driftwatch.yaml")).unwrap_or_else(|e| panic!("config invalid:\n{e}"))
}

/// A run as its JSON result shows it: what `check --format json` and the API return, read
/// back from the run's own serialization. Tests assert on this, the contract users see; `run`
/// is the run itself (e.g. to pass as the previous run).
#[derive(Clone, Debug, serde::Deserialize)]
pub struct Seen {
    pub status: driftwatch::check::Status,
    #[serde(default, with = "driftwatch::check::report::per_system")]
    pub rows: Vec<(String, i64)>,
    #[serde(default)]
    pub differences: Option<driftwatch::check::Differences>,
    #[serde(default)]
    pub samples: Option<Vec<driftwatch::check::Difference>>,
    #[serde(default)]
    pub transient: Option<u64>,
    #[serde(default)]
    pub sample: Option<driftwatch::check::SampleStats>,
    #[serde(default)]
    pub lag_seconds: Option<f64>,
    #[serde(default)]
    pub lag: Option<driftwatch::check::LagMeasure>,
    #[serde(default)]
    pub orphans: Option<u64>,
    #[serde(default)]
    pub groups: Option<driftwatch::check::GroupStats>,
    #[serde(default, with = "driftwatch::check::report::per_system")]
    pub load: Vec<(String, driftwatch::system::Load)>,
    pub error: Option<String>,
    #[serde(skip)]
    pub run: Option<driftwatch::check::CheckRun>,
}

/// A `Seen` serialises as the run it was read from, so a test can look at the JSON itself.
impl serde::Serialize for Seen {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.run.serialize(s)
    }
}

impl Seen {
    pub fn of(run: driftwatch::check::CheckRun) -> Seen {
        let json = serde_json::to_value(&run).expect("a run serialises");
        let mut seen: Seen = serde_json::from_value(json.clone())
            .unwrap_or_else(|e| panic!("the result JSON does not read back ({e}): {json:#}"));
        seen.run = Some(run);
        seen
    }
}

/// Run the config's first check once with `options`, recording it in fresh metrics (so the
/// run's export path is exercised too), and close the connections; the run as its JSON
/// result shows it.
pub async fn run_first_check(config: &Config, options: &driftwatch::check::RunOptions) -> Seen {
    let metrics = std::sync::Arc::new(driftwatch::metrics::Metrics::new());
    let systems = driftwatch::system::Systems::new(&config.systems, &metrics);
    let check = &config.checks[0];
    let run = driftwatch::check::run(check, &systems, options).await;
    driftwatch::check::announce(check, &metrics);
    run.record(check, &metrics);
    systems.close().await;
    Seen::of(run)
}

/// Poll `probe` until it returns Some, for at most a minute (a wait, not a timing assertion).
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("gave up waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of one sample in a Prometheus text exposition, e.g. `metric{a="b"}`.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

pub async fn scrape(addr: std::net::SocketAddr) -> Option<String> {
    let resp = reqwest::get(format!("http://{addr}/metrics")).await.ok()?;
    resp.text().await.ok()
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_driftwatch"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Confirms a MySQL URL accepts connections (used for the private MariaDB).
pub async fn mysql_ready(url: &str) -> bool {
    sqlx::MySqlConnection::connect(url).await.is_ok()
}
