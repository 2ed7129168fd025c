//! The command line: `fedflattr serve`, `fedflattr migrate` and the `fedflattr admin …`
//! commands (in `admin`), each with `--json` output for scripts.

mod admin;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app;
use crate::clock::Clock;
use crate::config::{Config, Settings};
use crate::store::Store;

/// The command line as clap parses it.
#[derive(Parser, Debug)]
#[command(
    name = "fedflattr",
    version,
    about = "A federated Flattr: the Like button with money"
)]
pub struct Cli {
    /// Configuration file (default: ./fedflattr.toml when present). A file named here must
    /// exist.
    #[arg(long, global = true, env = "FEDFLATTR_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (creates and migrates the database on first start).
    Serve,
    /// Create or upgrade the database schema and exit.
    Migrate,
    /// Administer the instance.
    Admin {
        /// Print machine-readable JSON instead of text.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: admin::Admin,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Failure(String);

pub(crate) fn fail(e: impl std::fmt::Display) -> Failure {
    Failure(e.to_string())
}

/// Parses the command line, loads the configuration and runs the command; the binary's whole body.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match load_settings(&cli) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&settings, matches!(cli.command, Command::Serve));
    match run(cli.command, settings).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn load_settings(cli: &Cli) -> Result<Settings, crate::config::ConfigError> {
    Config::load(cli.config.as_deref())?.settings()
}

fn init_tracing(settings: &Settings, serving: bool) {
    let default = if serving { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only for a person at a terminal; a log file or journald gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if settings.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(command: Command, settings: Settings) -> Result<ExitCode, Failure> {
    match command {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            let store = Store::connect(&settings.database_url).await.map_err(fail)?;
            store.migrate().await.map_err(fail)?;
            println!("database is up to date");
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin { json, command } => {
            // Only `serve` and `migrate` create a database: an admin command pointed at the
            // wrong place must not "succeed" on a new, empty one.
            let store = Store::connect_existing(&settings.database_url)
                .await
                .map_err(fail)?;
            store.migrate().await.map_err(fail)?;
            let result = admin::run(&store, &settings, json, command).await;
            store.close().await;
            result
        }
    }
}

async fn serve(settings: Settings) -> Result<ExitCode, Failure> {
    let address = std::net::SocketAddr::new(settings.bind, settings.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| Failure(format!("cannot listen on {address}: {e}")))?;
    let app = app::build(settings, Clock::system()).await.map_err(fail)?;
    let state = &app.state;
    tracing::info!(
        url = %state.settings.base_url,
        listen = %address,
        database = %state.store.backend_name(),
        development_mode = state.settings.development_mode,
        "fedflattr is running at {}", state.settings.base_url
    );
    app::serve(app.clone(), listener, app::shutdown_signal())
        .await
        .map_err(fail)?;
    Ok(ExitCode::SUCCESS)
}
