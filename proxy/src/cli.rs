//! The command line: `vigie run -c FILE` (the default), `vigie check -c FILE`,
//! `vigie health` (for container health checks), `vigie plugin test FILE` (a plugin
//! against requests, offline), `--version`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Vigie, the authentication edge of the national education portals.
#[derive(Debug, Parser)]
#[command(name = "vigie", version, about)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        short,
        long,
        global = true,
        env = "VIGIE_CONFIG",
        default_value = "/etc/vigie/vigie.yaml"
    )]
    pub config: PathBuf,
    /// What to do (default: run).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve with the configuration (the default).
    Run,
    /// Validate the configuration, print a summary line per route, and exit
    /// (0 when valid, 2 with every error otherwise).
    Check,
    /// Ask a running Vigie's admin listener whether it is alive (exit 0) or not (exit 1);
    /// for container health checks, where no HTTP client is installed.
    Health {
        /// Admin address to ask.
        #[arg(long, default_value = "127.0.0.1:9090")]
        address: std::net::SocketAddr,
        /// Path to ask (`/healthz` for liveness, `/readyz` for readiness).
        #[arg(long, default_value = "/healthz")]
        path: String,
    },
    /// Académie policy plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

/// `vigie plugin ...`
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Run a plugin offline against the requests a YAML file describes and print what it
    /// decided (exit 0 when every `expect` holds, 1 when one fails, 2 when the file or the
    /// plugin cannot be used). No Vigie configuration is read.
    Test {
        /// The test file (see `plugins/README.md`).
        file: PathBuf,
    },
}
