//! The `driftwatch` command line: parses arguments and calls the library.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use driftwatch::app::{self, OutputFormat};
use driftwatch::telemetry::{self, LogFormat};

#[derive(Parser)]
#[command(
    name = "driftwatch",
    version,
    about = "Watches a legacy system and its replacement for data drift"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "human")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the agent: schedule every check, serve /metrics and the API, until SIGINT/SIGTERM.
    Run {
        #[arg(
            short,
            long,
            env = "DRIFTWATCH_CONFIG",
            default_value = "driftwatch.yaml"
        )]
        config: PathBuf,
    },
    /// Run checks once, now, and print the results (exit 0 ok, 1 threshold breached, 2 error).
    Check {
        #[arg(
            short,
            long,
            env = "DRIFTWATCH_CONFIG",
            default_value = "driftwatch.yaml"
        )]
        config: PathBuf,
        /// Checks to run (all when none are named).
        names: Vec<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
        /// Most differences to list per check, or `all`.
        #[arg(long, default_value = "20")]
        samples: String,
    },
    /// Validate the config and check files; with --connect also reach every system and table.
    Validate {
        #[arg(
            short,
            long,
            env = "DRIFTWATCH_CONFIG",
            default_value = "driftwatch.yaml"
        )]
        config: PathBuf,
        #[arg(long)]
        connect: bool,
    },
    /// Create two demo SQLite databases with injected drift and run the agent on them.
    Demo {
        #[arg(long, default_value = "127.0.0.1:9187")]
        listen: SocketAddr,
        /// Where to create the demo files (default: a new folder under the system temp dir).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Also send every demo check's alerts to this webhook (Alertmanager-compatible JSON).
        #[arg(long, env = "DRIFTWATCH_DEMO_WEBHOOK_URL", hide_env_values = true)]
        webhook_url: Option<String>,
    },
}

fn main() {
    let cli = Cli::parse();
    let _telemetry = telemetry::init(cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("driftwatch: cannot start the async runtime: {e}");
            std::process::exit(app::EXIT_ERROR);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Run { config } => app::run(&config).await,
            Command::Check {
                config,
                names,
                format,
                samples,
            } => {
                let samples = match samples.as_str() {
                    "all" => None,
                    n => match n.parse::<usize>() {
                        Ok(n) => Some(n),
                        Err(_) => {
                            eprintln!("driftwatch: --samples takes a number or `all`, not `{samples}`");
                            return app::EXIT_ERROR;
                        }
                    },
                };
                let options = driftwatch::check::RunOptions {
                    samples,
                    ..Default::default()
                };
                app::check(&config, &names, format, &options, &mut std::io::stdout()).await
            }
            Command::Validate { config, connect } => {
                app::validate(&config, connect, &mut std::io::stdout()).await
            }
            Command::Demo {
                listen,
                dir,
                webhook_url,
            } => app::demo(listen, dir, webhook_url).await,
        }
    });
    drop(runtime);
    drop(_telemetry);
    std::process::exit(code);
}
