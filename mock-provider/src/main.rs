//! The `mock-provider` command: `mock-provider serve` runs the provider
//! until SIGINT/SIGTERM.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mock_provider::{MockProvider, ProviderConfig, StartError};

#[derive(Parser)]
#[command(
    name = "mock-provider",
    version,
    about = "A configurable OAuth 2.1 authorization server for testing"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the provider until interrupted (SIGINT or SIGTERM); once
    /// listening it prints `mock-provider ready at <URL> (issuers: ...)` on
    /// stdout.
    Serve {
        /// A TOML configuration file; relative paths in it are resolved
        /// against its directory (default: one issuer named `default`).
        #[arg(
            long,
            value_name = "FILE",
            env = "MOCK_PROVIDER_CONFIG",
            hide_env_values = true
        )]
        config: Option<PathBuf>,
        /// IP address to listen on, without a port (e.g. 0.0.0.0 or ::1); a
        /// non-loopback address needs `[admin] secret` or `[admin] enabled =
        /// false` [default: the file's `bind`, else 127.0.0.1].
        #[arg(long, value_name = "ADDR")]
        bind: Option<IpAddr>,
        /// Port to listen on; 0 picks a free one (the ready line shows it)
        /// [default: the file's `port`, else 9400].
        #[arg(long)]
        port: Option<u16>,
        /// Serve HTTPS (overrides the file's `[tls] enabled`) with a
        /// certificate for localhost, 127.0.0.1 and ::1 signed by a CA
        /// generated at start; use --ca-out to let clients trust it.
        #[arg(long)]
        tls: bool,
        /// Write the generated CA certificate (PEM) here for clients to
        /// trust; implies --tls.
        #[arg(long, value_name = "PATH")]
        ca_out: Option<PathBuf>,
        /// Serve this PEM certificate chain instead of a generated one;
        /// requires --tls-key, implies --tls.
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert; requires --tls-cert.
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Show a consent page (pick a user, approve or deny) at every
        /// issuer's authorization endpoint instead of approving headlessly;
        /// clients with their own `consent` setting keep it.
        #[arg(long)]
        interactive: bool,
        /// Make every issuer strict, as a client conformance run wants:
        /// `resource` required on authorization and token requests (MCP
        /// clients MUST send it), and metadata served only where RFC 8414
        /// and the MCP spec say (the appended RFC 8414 form answers 404).
        /// The same as `[issuer.policy] require_resource = true,
        /// strict_discovery = true`.
        #[arg(long)]
        strict: bool,
    },
    /// Check a configuration file, keys and TLS files included, and exit:
    /// 0 when usable, 2 when not (the reason on stderr).
    CheckConfig {
        /// The TOML configuration file to check (the format of `serve
        /// --config`).
        #[arg(value_name = "FILE")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::CheckConfig { config } => {
            runtime().map_or(ExitCode::FAILURE, |r| r.block_on(check_config(config)))
        }
        Command::Serve {
            config,
            bind,
            port,
            tls,
            ca_out,
            tls_cert,
            tls_key,
            interactive,
            strict,
        } => {
            let overrides = TlsFlags {
                enabled: tls || ca_out.is_some() || tls_cert.is_some(),
                ca_out,
                cert: tls_cert,
                key: tls_key,
            };
            runtime().map_or(ExitCode::FAILURE, |r| {
                r.block_on(serve(config, bind, port, overrides, interactive, strict))
            })
        }
    }
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            None
        }
    }
}

/// Everything `serve` would check, keys included, on a throwaway port.
async fn check_config(path: PathBuf) -> ExitCode {
    let config = match ProviderConfig::from_file(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let issuers = config.issuers.len();
    let addr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);
    match MockProvider::builder()
        .config(config)
        .bind(addr)
        .start()
        .await
    {
        Ok(p) => {
            p.shutdown().await;
            println!("{}: ok ({issuers} issuer(s))", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// The TLS command-line flags; they override the file's `[tls]`.
struct TlsFlags {
    enabled: bool,
    ca_out: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

async fn serve(
    config: Option<PathBuf>,
    bind: Option<IpAddr>,
    port: Option<u16>,
    flags: TlsFlags,
    interactive: bool,
    strict: bool,
) -> ExitCode {
    let mut config = match config {
        Some(path) => match ProviderConfig::from_file(&path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => ProviderConfig::default(),
    };
    if flags.enabled {
        config.tls.enabled = true;
        // Paths from the command line are relative to where it was typed.
        let cwd = std::env::current_dir().unwrap_or_default();
        if let Some(p) = flags.ca_out {
            config.tls.ca_out = Some(cwd.join(p));
        }
        if let (Some(c), Some(k)) = (flags.cert, flags.key) {
            config.tls.cert_file = Some(cwd.join(c));
            config.tls.key_file = Some(cwd.join(k));
        }
    }
    if interactive {
        config.interactive_consent();
    }
    if strict {
        config.strict();
    }
    let addr = SocketAddr::new(bind.unwrap_or(config.bind), port.unwrap_or(config.port));
    let provider = match MockProvider::builder()
        .config(config)
        .bind(addr)
        .start()
        .await
    {
        Ok(p) => p,
        Err(StartError::Config(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let issuers: Vec<String> = provider
        .issuers()
        .iter()
        .map(|i| i.url().to_owned())
        .collect();
    // The handlers go in before the ready line: a caller that signals as
    // soon as it reads it must get a clean shutdown, not the default kill.
    let stop = stop_signal();
    let ready = mock_provider::ReadyLine {
        base_url: provider.base_url().to_owned(),
        issuers,
    };
    println!("{ready}");
    let _ = std::io::stdout().flush();
    stop.await;
    tracing::info!("shutting down");
    provider.shutdown().await;
    ExitCode::SUCCESS
}

/// SIGINT or SIGTERM, with both handlers installed when this returns
/// (`signal()` registers at once; `ctrl_c()` only when first polled).
fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let int = signal(SignalKind::interrupt()).ok();
        let term = signal(SignalKind::terminate()).ok();
        async move {
            match (int, term) {
                (Some(mut int), Some(mut term)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
