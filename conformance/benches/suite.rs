//! Suite benchmark: wall time of a full `mcp-auth-conformance run` against
//! the reference server beside the refresh-race scenario alone, in one run.
//! Needs the reference server built in the same profile
//! (`cargo build --release -p reference-server`; `bench/run.sh` does it).
//! Bounded: 7 runs of each.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 7;

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
    std::fs::write(
        &profile,
        format!(
            "[server]\nurl = \"http://127.0.0.1:{{port}}/mcp\"\ncommand = [{:?}]\n[auth]\nscope = \"mcp:tools\"\n[permission]\ntool = \"admin_reset\"\nscope = \"mcp:admin\"\n[upstream]\ntool = \"fetch_upstream\"\ntoken_store = true\ntenants = true\n",
            server.display().to_string()
        ),
    )
    .expect("profile");
    // How many scenarios a run judged, from its summary line ("56 passed,
    // 0 failed (MUST), ... 5 skipped in ..."): the label must not go stale.
    let judged = std::cell::Cell::new(String::new());
    let run = |only: Option<&str>| -> Vec<Duration> {
        (0..RUNS)
            .map(|_| {
                let mut cmd = Command::new(&suite);
                cmd.args(["run", "--profile"]).arg(&profile);
                if let Some(o) = only {
                    cmd.args(["--only", o]);
                }
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
                took
            })
            .collect()
    };
    let full = run(None);
    let full_label = format!("full suite ({})", judged.take());
    let race = run(Some("race.concurrent_refresh"));
    println!("## Conformance run against the reference server ({RUNS} runs each, wall time)\n");
    println!("| run | median ms | min ms | max ms |\n|---|---:|---:|---:|");
    for (name, v) in [
        (full_label.as_str(), &full),
        ("race.concurrent_refresh alone (+ its controls)", &race),
    ] {
        let (min, max) = (v.iter().min().unwrap(), v.iter().max().unwrap());
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} |",
            ms(median(v.clone())),
            ms(*min),
            ms(*max)
        );
    }
    println!(
        "\n- full suite / race scenario alone: {:.1}x",
        ms(median(full)) / ms(median(race))
    );
}
