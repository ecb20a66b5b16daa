//! `mcp-auth-conformance`: `run` drives an MCP server through the
//! scenarios and reports; `list` prints the catalogue. Exit codes: 0 every
//! MUST passed, 1 one failed, 2 usage or configuration error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use conformance::catalogue::{self, ListFormat};
use conformance::provider_link::ProviderLink;
use conformance::run_context::RunContext;
use conformance::runner::{self, RunOptions};
use conformance::{
    SpecVersion, TargetProfile, expected_failures, junit, markdown_report, scenario,
    terminal_report,
};

#[derive(Parser)]
#[command(
    name = "mcp-auth-conformance",
    version,
    about = "Drives an MCP server through OAuth resource-server conformance scenarios",
    after_help = "Exit codes: 0 every MUST scenario passed; 1 a MUST scenario failed or could not be judged; 2 usage or configuration error; 130 interrupted, 143 terminated.\nThe scenario catalogue: `mcp-auth-conformance list` or docs/scenarios.md."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start: the size of the `run` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the scenarios against the server a profile describes.
    Run {
        /// The target profile (TOML).
        #[arg(long, value_name = "FILE")]
        profile: PathBuf,
        /// A standalone mock-provider to use (default: one embedded on
        /// 127.0.0.1); it needs issuers `trusted`, `other` and `upstream`.
        #[arg(long, value_name = "URL")]
        provider: Option<String>,
        /// The admin secret of the --provider (its `[admin] secret`);
        /// ignored without --provider.
        #[arg(
            long,
            value_name = "SECRET",
            env = "MOCK_PROVIDER_ADMIN_SECRET",
            hide_env_values = true
        )]
        provider_admin_secret: Option<String>,
        /// More scenario directories, besides the built-in ones
        /// (repeatable).
        #[arg(long = "scenarios", value_name = "DIR")]
        scenarios: Vec<PathBuf>,
        /// Only scenarios whose id matches (glob with * and ?; repeatable).
        #[arg(long, value_name = "GLOB")]
        only: Vec<String>,
        /// The MCP spec version to hold the server to: 2025-06-18,
        /// 2025-11-25 or 2026-07-28. Default: the newest both sides speak,
        /// negotiated with the server (2025-11-25 if it answers neither).
        #[arg(long, value_name = "VERSION", value_parser = parse_version)]
        spec_version: Option<SpecVersion>,
        /// Write a JUnit XML report here.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Write a JSON report here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Write a Markdown summary here (GitHub job summary, pull-request
        /// comment).
        #[arg(long, value_name = "FILE")]
        summary: Option<PathBuf>,
        /// Scenario ids expected to fail (one per line, # comments):
        /// reported as XFAIL without failing the run.
        #[arg(long, value_name = "FILE")]
        expected_failures: Option<PathBuf>,
        /// Run the embedded provider over HTTPS (a CA made at start); the
        /// server gets the CA in SSL_CERT_FILE, NODE_EXTRA_CA_CERTS and
        /// REQUESTS_CA_BUNDLE.
        #[arg(long, conflicts_with = "provider")]
        tls: bool,
        /// Timeout of every request to the server, in seconds (at least 1).
        #[arg(long, value_name = "SECS", default_value_t = 10)]
        request_timeout: u64,
        /// Fail the run on SHOULD failures too (best-practice scenarios
        /// are reported and never fail it).
        #[arg(long)]
        strict: bool,
        /// How many scenarios may run at once, each in a lane of its own
        /// (its own server process when the suite starts the server, its
        /// own upstream issuer); scenarios that touch what lanes share run
        /// alone. 1: one after another, in catalogue order. Verdicts and
        /// the report's order do not depend on it.
        #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=8))]
        jobs: u16,
    },
    /// Print the scenario catalogue.
    List {
        /// More scenario directories, besides the built-in ones
        /// (repeatable).
        #[arg(long = "scenarios", value_name = "DIR")]
        scenarios: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
}

fn parse_version(s: &str) -> Result<SpecVersion, conformance::spec_version::UnknownSpecVersion> {
    s.parse()
}

fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::List { scenarios, format } => match scenario::load(&scenarios) {
            Ok(list) => {
                print!("{}", catalogue::render(&list, format));
                ExitCode::SUCCESS
            }
            Err(e) => usage_error(e),
        },
        Command::Run {
            profile,
            provider,
            provider_admin_secret,
            scenarios,
            only,
            spec_version,
            junit,
            json,
            summary,
            expected_failures,
            tls,
            request_timeout,
            strict,
            jobs,
        } => {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => return usage_error(format!("cannot start the async runtime: {e}")),
            };
            runtime.block_on(async move {
                let args = RunArgs {
                    profile,
                    provider,
                    provider_admin_secret,
                    scenarios,
                    only,
                    spec_version,
                    junit,
                    json,
                    summary,
                    expected_failures,
                    tls,
                    request_timeout: Duration::from_secs(request_timeout.max(1)),
                    strict,
                    jobs: usize::from(jobs),
                };
                tokio::select! {
                    code = run(args) => code,
                    _ = tokio::signal::ctrl_c() => {
                        eprintln!("interrupted: the server under test is being stopped");
                        ExitCode::from(130)
                    }
                    // CI cancellations and `timeout` send SIGTERM: the server
                    // is in its own process group, only this clean-up stops it.
                    _ = terminated() => {
                        eprintln!("terminated: the server under test is being stopped");
                        ExitCode::from(143)
                    }
                }
            })
        }
    }
}

/// Resolves on SIGTERM (never elsewhere).
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            term.recv().await;
            return;
        }
    }
    std::future::pending::<()>().await
}

struct RunArgs {
    profile: PathBuf,
    provider: Option<String>,
    provider_admin_secret: Option<String>,
    scenarios: Vec<PathBuf>,
    only: Vec<String>,
    spec_version: Option<SpecVersion>,
    junit: Option<PathBuf>,
    json: Option<PathBuf>,
    summary: Option<PathBuf>,
    expected_failures: Option<PathBuf>,
    tls: bool,
    request_timeout: Duration,
    strict: bool,
    jobs: usize,
}

async fn run(args: RunArgs) -> ExitCode {
    let profile = match TargetProfile::from_file(&args.profile) {
        Ok(p) => p,
        Err(e) => return usage_error(e),
    };
    let scenarios = match scenario::load(&args.scenarios) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let baseline = match &args.expected_failures {
        Some(path) => match expected_failures::load(path) {
            Ok(b) => b,
            Err(e) => return usage_error(e),
        },
        None => Default::default(),
    };
    let options = RunOptions {
        only: args.only.clone(),
        expected_failures: baseline,
        strict: args.strict,
        jobs: args.jobs,
    };
    if runner::plan(&scenarios, &options).is_empty() {
        return usage_error(format!(
            "no scenario matches --only {}",
            args.only.join(", ")
        ));
    }
    let provider = match &args.provider {
        Some(url) => ProviderLink::remote(url, args.provider_admin_secret.clone()).await,
        None => ProviderLink::for_profile(&profile, args.tls).await,
    };
    let provider = match provider {
        Ok(p) => p,
        Err(e) => return usage_error(e),
    };
    let mut ctx = match RunContext::prepare(
        profile,
        args.spec_version.unwrap_or(SpecVersion::DEFAULT),
        provider,
        args.request_timeout,
    )
    .await
    {
        Ok(c) => c,
        Err(e) => return usage_error(format!("cannot start the run: {e}")),
    };
    let how = match args.spec_version {
        Some(_) => "asked for with --spec-version",
        None => match ctx.negotiate_version().await {
            Some(_) => "negotiated: the newest both sides speak",
            None => "the default: the server negotiated none",
        },
    };
    eprintln!(
        "mcp-auth-conformance {}: {} against spec {} ({how})",
        env!("CARGO_PKG_VERSION"),
        ctx.url,
        ctx.version
    );
    let mut report = runner::run(&mut ctx, &scenarios, &options, |done, total, r| {
        println!("{}", terminal_report::progress_line(done, total, r));
    })
    .await;
    report.spec_version_source = Some(how.to_owned());
    ctx.shutdown().await;
    print!("{}", terminal_report::render(&report));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text + "\n") {
            return usage_error(format!("cannot write {}: {e}", path.display()));
        }
    }
    if let Some(path) = &args.junit
        && let Err(e) = std::fs::write(path, junit::render(&report))
    {
        return usage_error(format!("cannot write {}: {e}", path.display()));
    }
    if let Some(path) = &args.summary
        && let Err(e) = std::fs::write(path, markdown_report::render(&report))
    {
        return usage_error(format!("cannot write {}: {e}", path.display()));
    }
    ExitCode::from(report.exit_code() as u8)
}
