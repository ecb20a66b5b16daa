//! Provider benchmark: cold start to the first 200 on discovery, and
//! client_credentials token throughput per server CPU-second for RS256 and
//! ES256, with RSS; beside the same figures for a widely used Node mock
//! OAuth server (`oauth2-mock-server`, installed by `bench/run.sh`) measured
//! in the same run, and the machine's raw signing rate (aws-lc directly, one
//! thread, the bench's own fixture keys) as the ceiling each algorithm's
//! tokens per CPU-second is compared with.
//!
//! Run: `bench/run.sh` (or `cargo bench -p mock-provider --bench provider`,
//! which skips the Node baseline when it is not installed).
//!
//! For the throughput, where the machine gives this process two CPUs or
//! more, the load generator runs on one and each server, and the raw
//! signing, on another: the server's CPU time is then its own work, not
//! the cost of sharing a core with its client, and the raw rate is
//! measured on the server's CPU right before and right after each round.
//! Cold starts are not pinned: they are measured as a user meets them,
//! with every CPU free for a start's background work (key generation).
//!
//! Every loop is bounded in count and in time.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

const COLD_START_RUNS: usize = 15;
const CONCURRENCY: usize = 16;
const MAX_LOAD_TIME: Duration = Duration::from_secs(12);
/// Raw signing: at most this long and this many signatures per algorithm.
const RAW_SIGN_TIME: Duration = Duration::from_millis(1000);
/// Rounds of (raw signing, load, raw signing) per algorithm: the shared
/// machine's speed drifts by several percent from one second to the next,
/// so one round's ratio is not the figure, the median of these is.
const ROUNDS: usize = 5;
const RAW_SIGN_MAX: usize = 200_000;
/// Untimed signatures before each raw measurement.
const RAW_SIGN_WARMUP: usize = 50;

/// The CPUs the load generator and the servers run on, when there are two.
#[derive(Clone, Copy)]
struct Placement {
    load: usize,
    server: usize,
}

fn placement() -> Option<Placement> {
    let allowed = rustix::thread::sched_getaffinity(None).ok()?;
    let mut cpus = (0..rustix::thread::CpuSet::MAX_CPU).filter(|&c| allowed.is_set(c));
    Some(Placement {
        load: cpus.next()?,
        server: cpus.next()?,
    })
}

/// Pins the calling thread (and the threads and processes it starts later)
/// to `cpu`.
fn pin_to(cpu: usize) -> std::io::Result<()> {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set).map_err(std::io::Error::from)
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// A server under measurement.
struct Target {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
    /// Discovery document path.
    metadata: &'static str,
    /// Token endpoint path.
    token: &'static str,
    /// Basic credentials for the token request, if any.
    basic: Option<(&'static str, &'static str)>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Target {
    fn spawn(&self, port: u16, place: Option<Placement>) -> Child {
        let args: Vec<String> = self
            .args
            .iter()
            .map(|a| a.replace("{port}", &port.to_string()))
            .collect();
        let (program, args) = if self.program.extension().is_some_and(|e| e == "mjs") {
            let mut a = vec![self.program.display().to_string()];
            a.extend(args);
            (PathBuf::from("node"), a)
        } else {
            (self.program.clone(), args)
        };
        let mut command = Command::new(program);
        if let Some(place) = place {
            // SAFETY: between fork and exec only sched_setaffinity runs, a
            // plain system call that allocates nothing.
            unsafe {
                command.pre_exec(move || pin_to(place.server));
            }
        }
        command
            .args(args)
            .current_dir(workspace())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn target")
    }
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the `(comm)`: utime is the 14th field, stime the 15th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
    ticks / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Spawn to first 200 on the discovery document, `runs` times.
async fn cold_start(target: &Target, runs: usize) -> Vec<Duration> {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for _ in 0..runs {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}{}", target.metadata);
        let start = Instant::now();
        let child = target.spawn(port, None);
        let deadline = start + Duration::from_secs(10);
        loop {
            if let Ok(r) = http.get(&url).send().await
                && r.status() == 200
            {
                out.push(start.elapsed());
                break;
            }
            if Instant::now() > deadline {
                eprintln!("{}: no 200 within 10 s", target.name);
                break;
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        stop(child);
    }
    out
}

struct Throughput {
    requests: usize,
    wall: Duration,
    server_cpu: f64,
    rss_idle_kib: u64,
    rss_peak_kib: u64,
}

async fn throughput(target: &Target, total: usize, place: Option<Placement>) -> Throughput {
    let port = free_port();
    let mut child = target.spawn(port, place);
    // Wait for readiness through the ready line or the first 200.
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(_)) = lines.next() {}
        });
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let ready_deadline = Instant::now() + Duration::from_secs(10);
    while http
        .get(format!("{base}{}", target.metadata))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(
            Instant::now() < ready_deadline,
            "{} never became ready",
            target.name
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let token_url = format!("{base}{}", target.token);
    let one = |http: reqwest::Client, url: String, basic: Option<(&'static str, &'static str)>| async move {
        let mut req = http
            .post(url)
            .form(&[("grant_type", "client_credentials"), ("scope", "mcp:tools")]);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        let r = req.send().await.expect("token request");
        assert_eq!(r.status(), 200, "token request failed");
        let _ = r.bytes().await;
    };
    for _ in 0..100 {
        one(http.clone(), token_url.clone(), target.basic).await;
    }
    let pid = child.id();
    let rss_idle_kib = rss_kib(pid, "VmRSS:");
    let cpu_before = cpu_seconds(pid);
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (http, url, done) = (http.clone(), token_url.clone(), done.clone());
        let basic = target.basic;
        workers.push(tokio::spawn(async move {
            while start.elapsed() < MAX_LOAD_TIME && done.fetch_add(1, Ordering::Relaxed) < total {
                one(http.clone(), url.clone(), basic).await;
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let wall = start.elapsed();
    let requests = done.load(Ordering::Relaxed).min(total);
    let server_cpu = cpu_seconds(pid) - cpu_before;
    let rss_peak_kib = rss_kib(pid, "VmHWM:");
    stop(child);
    Throughput {
        requests,
        wall,
        server_cpu,
        rss_idle_kib,
        rss_peak_kib,
    }
}

/// The signing rate of one algorithm on one thread.
struct SignRate {
    signatures: usize,
    wall: Duration,
    /// CPU time of the signing thread, when the kernel reports it.
    cpu: Option<f64>,
}

impl SignRate {
    /// Signatures per CPU-second of the signing thread (per wall second if
    /// the thread's CPU time is not available): the figure comparable with
    /// tokens per server CPU-second.
    fn per_cpu_second(&self) -> f64 {
        let secs = self.cpu.unwrap_or(self.wall.as_secs_f64());
        self.signatures as f64 / secs.max(1e-9)
    }
}

/// CPU time of the calling thread in seconds (`/proc/thread-self/schedstat`,
/// nanoseconds on the CPU), or `None` where the kernel does not have it.
fn thread_cpu_seconds() -> Option<f64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse::<f64>()
        .ok()
        .map(|ns| ns / 1e9)
}

/// Runs `sign` on this thread, after a warm-up, at most [`RAW_SIGN_MAX`]
/// times and for at most [`RAW_SIGN_TIME`].
fn sign_rate(mut sign: impl FnMut()) -> SignRate {
    for _ in 0..RAW_SIGN_WARMUP {
        sign();
    }
    let cpu_before = thread_cpu_seconds();
    let start = Instant::now();
    let mut signatures = 0;
    while signatures < RAW_SIGN_MAX && start.elapsed() < RAW_SIGN_TIME {
        sign();
        signatures += 1;
    }
    let wall = start.elapsed();
    let cpu = cpu_before.zip(thread_cpu_seconds()).map(|(b, a)| a - b);
    SignRate {
        signatures,
        wall,
        cpu,
    }
}

/// A JWS signing input shaped like the provider's access tokens (RFC 9068
/// header and claims, base64url): what each raw signature covers.
fn jwt_signing_input(alg: &str) -> Vec<u8> {
    let header = format!(
        r#"{{"typ":"at+jwt","alg":"{alg}","kid":"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"}}"#
    );
    let claims = r#"{"iss":"http://127.0.0.1:40000/es","sub":"bench","aud":"http://127.0.0.1:40000/es","exp":1798000000,"iat":1797996400,"jti":"pQ3b0mXkV2d9sT7yLwZr1A","client_id":"bench","scope":"mcp:tools"}"#;
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    )
    .into_bytes()
}

fn fixture_key(name: &str) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(workspace().join("fixtures/keys").join(name)).expect("fixture key")
}

/// The algorithms measured, as the provider signs them.
#[derive(Clone, Copy)]
enum Raw {
    Rs256,
    Es256,
}

impl Raw {
    fn label(self) -> &'static str {
        match self {
            Raw::Rs256 => "RS256 (RSA-2048 PKCS#1 v1.5 SHA-256)",
            Raw::Es256 => "ES256 (ECDSA P-256 SHA-256)",
        }
    }
}

/// Raw signing with aws-lc-rs, as the provider signs (the same fixture key
/// and algorithm), on a thread of its own on the server's CPU.
fn raw_signing(alg: Raw, place: Option<Placement>) -> SignRate {
    std::thread::spawn(move || {
        if let Some(place) = place {
            pin_to(place.server).expect("pin the signing thread");
        }
        let rng = SystemRandom::new();
        match alg {
            Raw::Rs256 => {
                let rsa =
                    RsaKeyPair::from_pkcs8(fixture_key("rs256.pem").secret_der()).expect("RSA key");
                let input = jwt_signing_input("RS256");
                let mut sig = vec![0u8; rsa.public_modulus_len()];
                sign_rate(|| {
                    rsa.sign(
                        &RSA_PKCS1_SHA256,
                        &rng,
                        std::hint::black_box(&input),
                        &mut sig,
                    )
                    .expect("RSA signing");
                    std::hint::black_box(&sig);
                })
            }
            Raw::Es256 => {
                let ec = EcdsaKeyPair::from_private_key_der(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    fixture_key("es256.pem").secret_der(),
                )
                .expect("P-256 key");
                let input = jwt_signing_input("ES256");
                sign_rate(|| {
                    let s = ec
                        .sign(&rng, std::hint::black_box(&input))
                        .expect("ECDSA signing");
                    std::hint::black_box(s.as_ref());
                })
            }
        }
    })
    .join()
    .expect("raw signing thread")
}

fn find(v: &[(&'static str, f64, u64)], name: &str) -> Option<(&'static str, f64, u64)> {
    v.iter().find(|x| x.0 == name).copied()
}

fn median_of(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let place = placement();
    // Before the runtime starts, so its threads inherit the CPU.
    if let Some(place) = place {
        pin_to(place.load).expect("pin the load generator");
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run(place));
}

async fn run(place: Option<Placement>) {
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_mock-provider"));
    let config = |_: ()| {
        vec![
            "serve".into(),
            "--port".into(),
            "{port}".into(),
            "--config".into(),
            "bench/provider.toml".into(),
        ]
    };
    let rs = Target {
        name: "mock-provider RS256",
        program: ours.clone(),
        args: config(()),
        metadata: "/.well-known/oauth-authorization-server/rs",
        token: "/rs/token",
        basic: Some(("bench", "bench-secret")),
    };
    let es = Target {
        name: "mock-provider ES256",
        program: ours.clone(),
        args: config(()),
        metadata: "/.well-known/oauth-authorization-server/es",
        token: "/es/token",
        basic: Some(("bench", "bench-secret")),
    };
    let rs_generated = Target {
        name: "mock-provider, default config (RSA-2048 key generated)",
        program: ours.clone(),
        args: vec!["serve".into(), "--port".into(), "{port}".into()],
        metadata: "/.well-known/oauth-authorization-server/default",
        token: "/default/token",
        basic: None,
    };
    let node_bin =
        workspace().join("bench/node_modules/oauth2-mock-server/dist/oauth2-mock-server.mjs");
    let node = node_bin.exists().then(|| Target {
        name: "oauth2-mock-server 8.2.3 (Node)",
        program: node_bin,
        args: vec![
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            "{port}".into(),
        ],
        metadata: "/.well-known/openid-configuration",
        token: "/token",
        basic: None,
    });

    println!("## Cold start: spawn to first 200 on discovery (median of {COLD_START_RUNS})\n");
    println!("| server | median ms | min ms | max ms |");
    println!("|---|---:|---:|---:|");
    let mut starts = Vec::new();
    for t in [Some(&rs), Some(&es), Some(&rs_generated), node.as_ref()]
        .into_iter()
        .flatten()
    {
        let runs = cold_start(t, COLD_START_RUNS).await;
        let (min, max) = (
            runs.iter().min().copied().unwrap_or_default(),
            runs.iter().max().copied().unwrap_or_default(),
        );
        let med = median(runs);
        println!(
            "| {} | {:.1} | {:.1} | {:.1} |",
            t.name,
            ms(med),
            ms(min),
            ms(max)
        );
        starts.push((t.name, med));
    }

    match place {
        Some(p) => println!(
            "\nThroughput: the load generator on CPU {}; each server, and the raw signing, on CPU {} (cold starts are not pinned).",
            p.load, p.server
        ),
        None => println!("\nThroughput: one CPU, the load generator and the servers share it."),
    }

    println!(
        "\n## client_credentials token throughput ({CONCURRENCY} concurrent clients, at most {} s each)\n",
        MAX_LOAD_TIME.as_secs()
    );
    println!(
        "mock-provider: {ROUNDS} rounds per algorithm, each a fresh server between two raw \
         signing measurements on the server's CPU; the ratio is tokens per server CPU-second \
         over the mean of the two raw rates.\n"
    );
    println!(
        "| server | round | requests | wall req/s | server CPU s | req per server CPU-s | raw signs per CPU-s | ratio | RSS idle MiB | RSS peak MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    // Per server: its median round's tokens per server CPU-second, peak
    // RSS, and every round's ratio to the raw rate.
    let mut per_cpu = Vec::new();
    let mut ratios: Vec<(Raw, Vec<f64>)> = Vec::new();
    let runs = [
        (Some(&rs), 6000, Some(Raw::Rs256)),
        (Some(&es), 20000, Some(Raw::Es256)),
        (node.as_ref(), 6000, None),
    ];
    for (t, n, alg) in runs {
        let Some(t) = t else { continue };
        let rounds = if alg.is_some() { ROUNDS } else { 1 };
        let mut rates = Vec::new();
        let mut alg_ratios = Vec::new();
        let mut peak = 0;
        for round in 1..=rounds {
            let raw_rate =
                |a: Raw| tokio::task::block_in_place(|| raw_signing(a, place)).per_cpu_second();
            let before = alg.map(raw_rate);
            let r = throughput(t, n, place).await;
            let after = alg.map(raw_rate);
            let rate = r.requests as f64 / r.server_cpu.max(0.001);
            let raw = before.zip(after).map(|(b, a)| (b + a) / 2.0);
            println!(
                "| {} | {round} | {} | {:.0} | {:.2} | {:.0} | {} | {} | {:.1} | {:.1} |",
                t.name,
                r.requests,
                r.requests as f64 / r.wall.as_secs_f64(),
                r.server_cpu,
                rate,
                raw.map_or("".to_owned(), |x| format!("{x:.0}")),
                raw.map_or("".to_owned(), |x| format!("{:.0}%", 100.0 * rate / x)),
                r.rss_idle_kib as f64 / 1024.0,
                r.rss_peak_kib as f64 / 1024.0,
            );
            rates.push(rate);
            peak = peak.max(r.rss_peak_kib);
            if let Some(raw) = raw {
                alg_ratios.push(rate / raw);
            }
        }
        per_cpu.push((t.name, median_of(rates), peak));
        if let Some(a) = alg {
            ratios.push((a, alg_ratios));
        }
    }
    // Each algorithm's tokens per server CPU-second against its raw
    // signing rate: how much of a token's CPU the signature is.
    println!();
    for (alg, rounds) in ratios {
        let list: Vec<String> = rounds
            .iter()
            .map(|r| format!("{:.0}%", 100.0 * r))
            .collect();
        println!(
            "- {} tokens per server CPU-second / raw signs per CPU-second: median {:.0}% (rounds: {})",
            alg.label(),
            100.0 * median_of(rounds),
            list.join(", ")
        );
    }

    println!("\n## Ratios (same run)\n");
    if let (Some(rs), Some(es)) = (find(&per_cpu, rs.name), find(&per_cpu, es.name)) {
        println!(
            "- ES256 / RS256 tokens per server CPU-second: {:.1}x",
            es.1 / rs.1
        );
    }
    if let Some(n) = node.as_ref() {
        if let (Some(ours), Some(theirs)) = (find(&per_cpu, rs.name), find(&per_cpu, n.name)) {
            println!(
                "- RS256 tokens per server CPU-second, mock-provider / Node baseline: {:.1}x",
                ours.1 / theirs.1
            );
            println!(
                "- peak RSS, Node baseline / mock-provider: {:.1}x",
                theirs.2 as f64 / ours.2.max(1) as f64
            );
        }
        let s = |name: &str| starts.iter().find(|x| x.0 == name).map(|x| x.1);
        if let (Some(ours), Some(theirs)) = (s(rs.name), s(n.name)) {
            println!(
                "- cold start, Node baseline / mock-provider (key file): {:.1}x",
                ms(theirs) / ms(ours).max(0.001)
            );
        }
        if let (Some(ours), Some(theirs)) = (s(rs_generated.name), s(n.name)) {
            println!(
                "- cold start, Node baseline / mock-provider (default config): {:.1}x",
                ms(theirs) / ms(ours).max(0.001)
            );
        }
    } else {
        println!("- Node baseline not installed (run bench/run.sh): no cross-server ratios");
    }
}
