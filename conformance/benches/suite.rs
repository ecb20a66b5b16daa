//! Suite benchmark: wall time of a full `mcp-auth-conformance run` against
//! the reference server with one scenario at a time (`--jobs 1`) and with
//! the default lanes, beside the longest single scenario of each run; the
//! verdicts must be the same in every run.
//! Needs the reference server built in the same profile
//! (`cargo build --release -p reference-server`; `bench/run.sh` does it).
//! Bounded: 7 runs of each.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 7;

/// One run: its wall time, its verdicts (id, verdict) and its longest
/// scenario in milliseconds.
struct Run {
    wall: Duration,
    verdicts: Vec<(String, String)>,
    longest_ms: u64,
}

/// The CLI's default `--jobs`.
const DEFAULT_JOBS: &str = "4";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// "56 passed, 5 skipped" from a run's summary line.
fn summary_counts(summary: &str) -> String {
    let words: Vec<&str> = summary
        .split([' ', ','])
        .filter(|w| !w.is_empty())
        .collect();
    let before = |word: &str| {
        words
            .iter()
            .position(|w| *w == word)
            .and_then(|i| i.checked_sub(1))
            .map_or("?", |i| words[i])
    };
    format!("{} passed, {} skipped", before("passed"), before("skipped"))
}

fn main() {
    let suite = PathBuf::from(env!("CARGO_BIN_EXE_mcp-auth-conformance"));
    let server = suite.with_file_name("reference-server");
    if !server.exists() {
        eprintln!(
            "{} is missing: build it first (cargo build --release -p reference-server)",
            server.display()
        );
        std::process::exit(2);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let profile = dir.path().join("reference.toml");
    // The reference server refetches its JWKS at most every 100 ms; the
    // profile states that as 1 s (the setting is in whole seconds), as the
    // flaw matrix does.
    std::fs::write(
        &profile,
        format!(
            "[server]\nurl = \"http://127.0.0.1:{{port}}/mcp\"\ncommand = [{:?}]\n[auth]\nscope = \"mcp:tools\"\njwks_refetch_cooldown_secs = 1\n[permission]\ntool = \"admin_reset\"\nscope = \"mcp:admin\"\n[upstream]\ntool = \"fetch_upstream\"\ntoken_store = true\ntenants = true\n",
            server.display().to_string()
        ),
    )
    .expect("profile");
    // How many scenarios a run judged, from its summary line ("56 passed,
    // 0 failed (MUST), ... 5 skipped in ..."): the label must not go stale.
    let judged = std::cell::Cell::new(String::new());
    // Each run's verdicts and its longest scenario, from --json.
    let report = dir.path().join("report.json");
    let run = |jobs: &str| -> Vec<Run> {
        (0..RUNS)
            .map(|_| {
                let mut cmd = Command::new(&suite);
                cmd.args(["run", "--profile"]).arg(&profile);
                cmd.args(["--jobs", jobs, "--json"]).arg(&report);
                let start = Instant::now();
                let out = cmd.output().expect("run the suite");
                let took = start.elapsed();
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(
                    out.status.success(),
                    "the suite failed against the reference server:\n{stdout}"
                );
                if let Some(summary) = stdout.lines().find(|l| l.contains(" failed (MUST)")) {
                    judged.set(summary_counts(summary));
                }
                let json: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
                let results = json["results"].as_array().expect("results");
                let verdicts = results
                    .iter()
                    .map(|r| (r["id"].to_string(), r["verdict"].to_string()))
                    .collect();
                let longest = results
                    .iter()
                    .filter_map(|r| r["duration_ms"].as_u64())
                    .max()
                    .unwrap_or(0);
                Run {
                    wall: took,
                    verdicts,
                    longest_ms: longest,
                }
            })
            .collect()
    };
    let serial = run("1");
    let concurrent = run(DEFAULT_JOBS);
    let label = judged.take();
    // The same verdicts, scenario by scenario, in the same order.
    for r in serial.iter().chain(&concurrent) {
        assert_eq!(
            r.verdicts, serial[0].verdicts,
            "verdicts differ between runs"
        );
    }
    println!(
        "## Conformance run against the reference server ({label}; {RUNS} runs each, wall time)\n"
    );
    println!(
        "| run | median ms | min ms | max ms | longest scenario, median ms | wall / longest scenario |\n|---|---:|---:|---:|---:|---:|"
    );
    for (name, v) in [
        ("--jobs 1 (one scenario at a time)".to_owned(), &serial),
        (format!("--jobs {DEFAULT_JOBS} (the default)"), &concurrent),
    ] {
        let walls: Vec<Duration> = v.iter().map(|r| r.wall).collect();
        let longest = median(
            v.iter()
                .map(|r| Duration::from_millis(r.longest_ms))
                .collect(),
        );
        let wall = median(walls.clone());
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1}x |",
            ms(wall),
            ms(*walls.iter().min().unwrap()),
            ms(*walls.iter().max().unwrap()),
            ms(longest),
            ms(wall) / ms(longest)
        );
    }
    let wall = |v: &[Run]| ms(median(v.iter().map(|r| r.wall).collect()));
    println!(
        "\n- serial / concurrent wall time: {:.1}x; verdicts identical in all {} runs",
        wall(&serial) / wall(&concurrent),
        2 * RUNS
    );
}
