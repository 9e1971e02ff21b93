//! The `dotdo` binary: `dotdo serve` runs the gateway; `dotdo check-config` validates.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use metrics_exporter_prometheus::PrometheusBuilder;
use tracing_subscriber::EnvFilter;

use dotdo::config::{Config, LogFormat};
use dotdo::server;

/// mimalloc instead of glibc's malloc: received Kafka batches and Redis replies are large
/// short-lived buffers, which glibc hands back to the kernel and faults in again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "dotdo",
    version,
    about = "Redis, PostgreSQL and Kafka on Durable Objects"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Args, Clone, Default)]
struct ConfigArgs {
    /// TOML configuration file.
    #[arg(long, short, env = "DOTDO_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory of the embedded backend (same as --set backend.embedded.data_dir=DIR).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Override one setting, e.g. --set redis.listen=127.0.0.1:6380 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve {
        #[command(flatten)]
        config: ConfigArgs,
        /// Bind every listener on port 0 of its configured host and report the ports bound
        /// on stdout (for tests).
        #[arg(long)]
        ephemeral_ports: bool,
    },
    /// Run a store node: hold objects on local disk and serve them to gateways whose
    /// backend is `remote` (settings: `[store]`, and `[backend.embedded]` for the data).
    Store {
        #[command(flatten)]
        config: ConfigArgs,
        /// Bind on port 0 and report the port on stdout (for tests).
        #[arg(long)]
        ephemeral_ports: bool,
    },
    /// Validate the configuration, print it with defaults filled in, and exit.
    CheckConfig {
        #[command(flatten)]
        config: ConfigArgs,
    },
}

fn load(args: &ConfigArgs) -> anyhow::Result<Config> {
    let mut sets = args.sets.clone();
    if let Some(dir) = &args.data_dir {
        sets.insert(
            0,
            format!(
                "backend.embedded.data_dir={}",
                toml::Value::String(dir.display().to_string())
            ),
        );
    }
    Config::load(args.config.as_deref(), std::env::vars(), &sets)
}

fn init_logging(config: &Config) {
    let filter = std::env::var("DOTDO_LOG").unwrap_or_else(|_| config.log.filter.clone());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve {
        config: ConfigArgs::default(),
        ephemeral_ports: false,
    });
    let result = match command {
        Command::Store {
            config,
            ephemeral_ports,
        } => load(&config).and_then(|mut c| {
            if ephemeral_ports {
                c.use_ephemeral_ports();
            }
            init_logging(&c);
            dotdo::store::runtime(&c)?.block_on(dotdo::store::run(c))
        }),
        Command::CheckConfig { config } => load(&config).and_then(|c| {
            print!("{}", c.to_redacted_toml()?);
            eprintln!("configuration OK");
            Ok(())
        }),
        Command::Serve {
            config,
            ephemeral_ports,
        } => load(&config).and_then(|mut c| {
            if ephemeral_ports {
                c.use_ephemeral_ports();
            }
            init_logging(&c);
            let metrics = PrometheusBuilder::new()
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "metrics disabled"))
                .ok();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(server::serve(c, metrics))
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dotdo: {e:#}");
            ExitCode::FAILURE
        }
    }
}
