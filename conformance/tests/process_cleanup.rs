//! The server under test and everything it started are gone after a run:
//! at its normal end, on Ctrl-C (SIGINT to the suite), and when the
//! `TargetServer` is dropped without `stop()` (what a panic does).
//!
//! Real processes throughout: the "server" is a bash script that starts a
//! background `sleep` (its child), records both PIDs in its temp dir and then
//! `exec`s a tiny Python HTTP responder (GET answers at once, so readiness
//! passes; POST answers 401 at once, or after 30 s in the slow mode). The
//! scenarios fail against it; only the processes matter here.
//!
//! Every wait is bounded, and a guard kills the suite and whatever is left of
//! the server when a test ends, so a failing test leaks nothing.

use rustix::process::{Pid, Signal};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use conformance::target_server::{LaunchSpec, TargetServer, free_port};

/// The HTTP responder: `responder.py PORT MODE DIR`.
const RESPONDER: &str = r#"
import http.server, os, sys, time
port, mode, state = int(sys.argv[1]), sys.argv[2], sys.argv[3]

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.answer(200)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if mode == "slow":
            open(os.path.join(state, "post.seen"), "w").close()
            time.sleep(30)
        self.answer(401)

    def answer(self, code):
        body = b"{}"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"#;

/// How the server's background child behaves.
#[derive(Clone, Copy)]
enum ChildKind {
    /// `sleep 300 &`
    Plain,
    /// A `sleep 300` that ignores SIGTERM.
    IgnoresTerm,
}

/// Responder speed.
#[derive(Clone, Copy)]
enum Mode {
    Fast,
    Slow,
}

/// The real interpreter behind `python3` (skips version-manager shims, so
/// the recorded PID is the responder's).
fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .stderr(Stdio::inherit())
            .output()
            .expect("python3 on PATH");
        assert!(out.status.success(), "python3 -c failed");
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    })
}

/// A temp dir with the server script, the PIDs it records, and the suite
/// process when there is one; dropping it kills whatever is still running.
struct Sandbox {
    dir: tempfile::TempDir,
    suite: Option<Child>,
}

impl Sandbox {
    fn new(child: ChildKind, mode: Mode) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = dir.path();
        std::fs::write(state.join("responder.py"), RESPONDER).expect("write responder");
        let background = match child {
            ChildKind::Plain => "sleep 300 &",
            ChildKind::IgnoresTerm => "( trap '' TERM; exec sleep 300 ) &",
        };
        let mode = match mode {
            Mode::Fast => "fast",
            Mode::Slow => "slow",
        };
        let script = format!(
            r#"#!/usr/bin/env bash
set -e
state={state}
{background}
echo "$!" > "$state/child.pid.tmp" && mv "$state/child.pid.tmp" "$state/child.pid"
echo "$$" > "$state/server.pid.tmp" && mv "$state/server.pid.tmp" "$state/server.pid"
exec {python} "$state/responder.py" "$PORT" {mode} "$state"
"#,
            state = shell_quote(&state.display().to_string()),
            python = shell_quote(python()),
        );
        std::fs::write(state.join("server.sh"), script).expect("write server script");
        Self { dir, suite: None }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn script(&self) -> PathBuf {
        self.path().join("server.sh")
    }

    /// A profile that starts the script.
    fn write_profile(&self) -> PathBuf {
        let profile = self.path().join("profile.toml");
        let text = format!(
            "[server]\nurl = \"http://127.0.0.1:{{port}}/mcp\"\ncommand = [\"bash\", {script:?}]\nready_timeout_secs = 10\n",
            script = self.script().display().to_string(),
        );
        std::fs::write(&profile, text).expect("write profile");
        profile
    }

    /// Starts the real binary on the profile; output goes to files here.
    fn start_suite(&mut self, extra: &[&str]) {
        let profile = self.write_profile();
        let stdout = File::create(self.path().join("suite.out")).expect("suite.out");
        let stderr = File::create(self.path().join("suite.err")).expect("suite.err");
        let child = Command::new(env!("CARGO_BIN_EXE_mcp-auth-conformance"))
            .arg("run")
            .arg("--profile")
            .arg(&profile)
            .args(["--only", "token.valid"])
            .args(extra)
            .env_remove("MOCK_PROVIDER_ADMIN_SECRET")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("start mcp-auth-conformance");
        self.suite = Some(child);
    }

    /// The suite's exit status, waiting at most `limit`.
    fn wait_suite(&mut self, limit: Duration) -> Option<ExitStatus> {
        let suite = self.suite.as_mut().expect("suite started");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = suite.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn suite_pid(&self) -> u32 {
        self.suite.as_ref().expect("suite started").id()
    }

    /// What the suite printed (for failure messages).
    fn transcript(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.path().join(name)).unwrap_or_default();
        format!(
            "--- suite stdout ---\n{}--- suite stderr ---\n{}",
            read("suite.out"),
            read("suite.err")
        )
    }

    fn recorded(&self, name: &str) -> Option<u32> {
        std::fs::read_to_string(self.path().join(name))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The (server, child) PIDs once the script recorded both.
    fn wait_pids(&self, limit: Duration) -> (u32, u32) {
        let deadline = Instant::now() + limit;
        loop {
            if let (Some(server), Some(child)) =
                (self.recorded("server.pid"), self.recorded("child.pid"))
            {
                return (server, child);
            }
            assert!(
                Instant::now() < deadline,
                "the server script did not record its PIDs within {limit:?}\n{}",
                self.transcript()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_file(&self, name: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.path().join(name).exists() {
            assert!(
                Instant::now() < deadline,
                "{name} did not appear within {limit:?}\n{}",
                self.transcript()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(suite) = self.suite.as_mut() {
            let _ = suite.kill();
            let _ = suite.wait();
        }
        if let Some(server) = self.recorded("server.pid") {
            // The script leads its own process group.
            conformance::target_server::signal_group(server, Signal::KILL);
        }
        for name in ["server.pid", "child.pid"] {
            if let Some(pid) = self.recorded(name)
                && alive(pid)
            {
                signal(Signal::KILL, pid);
            }
        }
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `signal` to the process `pid`.
fn signal(signal: Signal, pid: u32) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// Whether `pid` is a live process (a zombie nobody reaped yet counts as
/// gone: it runs nothing and holds nothing).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let (_, rest) = stat.rsplit_once(')')?;
            let state = rest.split_whitespace().next()?;
            Some(state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

/// Waits up to `limit` for every PID to be gone; panics naming the ones
/// still running.
fn assert_gone(pids: &[(&str, u32)], limit: Duration, context: &str) {
    let deadline = Instant::now() + limit;
    loop {
        let left: Vec<String> = pids
            .iter()
            .filter(|(_, pid)| alive(*pid))
            .map(|(what, pid)| format!("{what} (pid {pid})"))
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still running {limit:?} later: {}\n{context}",
            left.join(", ")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn launch_spec(sandbox: &Sandbox) -> LaunchSpec {
    let port = free_port().expect("free port");
    LaunchSpec {
        command: vec!["bash".to_owned(), sandbox.script().display().to_string()],
        cwd: Some(sandbox.path().to_owned()),
        env: BTreeMap::from([("PORT".to_owned(), port.to_string())]),
        ready_url: format!("http://127.0.0.1:{port}/mcp"),
        ready_timeout: Duration::from_secs(10),
    }
}

#[test]
fn a_finished_run_stops_the_server_and_its_children() {
    let mut sandbox = Sandbox::new(ChildKind::Plain, Mode::Fast);
    sandbox.start_suite(&[]);
    let status = sandbox.wait_suite(Duration::from_secs(20));
    let transcript = sandbox.transcript();
    let status = status.unwrap_or_else(|| panic!("the run did not end in 20 s\n{transcript}"));
    // The scenario fails against the fake server (exit 1); 2 would mean the
    // run never got going.
    assert_eq!(status.code(), Some(1), "{transcript}");
    let (server, child) = sandbox.wait_pids(Duration::ZERO);
    assert_gone(
        &[("server", server), ("its background child", child)],
        Duration::from_secs(5),
        &transcript,
    );
}

#[test]
fn ctrl_c_stops_the_server_and_its_children() {
    let mut sandbox = Sandbox::new(ChildKind::Plain, Mode::Slow);
    sandbox.start_suite(&["--request-timeout", "60"]);
    let (server, child) = sandbox.wait_pids(Duration::from_secs(10));
    // Mid-scenario: the server is sitting on the suite's first POST.
    sandbox.wait_file("post.seen", Duration::from_secs(10));
    assert!(alive(server) && alive(child), "{}", sandbox.transcript());
    signal(Signal::INT, sandbox.suite_pid());
    let status = sandbox.wait_suite(Duration::from_secs(5));
    let transcript = sandbox.transcript();
    let status = status.unwrap_or_else(|| panic!("the suite ignored SIGINT for 5 s\n{transcript}"));
    assert_eq!(status.code(), Some(130), "{transcript}");
    assert!(
        transcript.contains("interrupted: the server under test is being stopped"),
        "{transcript}"
    );
    assert_gone(
        &[("server", server), ("its background child", child)],
        Duration::from_secs(5),
        &transcript,
    );
}

#[tokio::test]
async fn dropping_the_server_without_stop_kills_its_group() {
    let sandbox = Sandbox::new(ChildKind::Plain, Mode::Fast);
    let server = TargetServer::start(launch_spec(&sandbox))
        .await
        .expect("the fake server starts");
    let (server_pid, child) = sandbox.wait_pids(Duration::from_secs(5));
    assert!(alive(server_pid) && alive(child));
    drop(server);
    assert_gone(
        &[("server", server_pid), ("its background child", child)],
        Duration::from_secs(5),
        "after drop(TargetServer)",
    );
}

#[tokio::test]
async fn a_panic_while_the_server_runs_kills_its_group() {
    let sandbox = Sandbox::new(ChildKind::Plain, Mode::Fast);
    let spec = launch_spec(&sandbox);
    let state = sandbox.path().to_owned();
    let task = tokio::spawn(async move {
        let _server = TargetServer::start(spec)
            .await
            .expect("the fake server starts");
        while !state.join("child.pid").exists() || !state.join("server.pid").exists() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("a scenario blew up");
    });
    let joined = tokio::time::timeout(Duration::from_secs(15), task)
        .await
        .expect("the task ends");
    assert!(joined.is_err_and(|e| e.is_panic()));
    let (server_pid, child) = sandbox.wait_pids(Duration::ZERO);
    assert_gone(
        &[("server", server_pid), ("its background child", child)],
        Duration::from_secs(5),
        "after a panic unwound past the TargetServer",
    );
}

#[tokio::test]
async fn stop_also_kills_children_that_ignore_sigterm() {
    let sandbox = Sandbox::new(ChildKind::IgnoresTerm, Mode::Fast);
    let mut server = TargetServer::start(launch_spec(&sandbox))
        .await
        .expect("the fake server starts");
    let (server_pid, child) = sandbox.wait_pids(Duration::from_secs(5));
    tokio::time::timeout(Duration::from_secs(8), server.stop())
        .await
        .expect("stop() returns");
    assert_gone(
        &[("server", server_pid), ("its SIGTERM-proof child", child)],
        Duration::from_secs(2),
        "after stop()",
    );
}

#[tokio::test]
async fn stop_after_the_server_crashed_still_kills_its_children() {
    let sandbox = Sandbox::new(ChildKind::Plain, Mode::Fast);
    let mut server = TargetServer::start(launch_spec(&sandbox))
        .await
        .expect("the fake server starts");
    let (server_pid, child) = sandbox.wait_pids(Duration::from_secs(5));
    // The server dies on its own, leaving its child behind; the runner
    // notices through is_running() (which reaps it) and restarts.
    signal(Signal::KILL, server_pid);
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.is_running() {
        assert!(Instant::now() < deadline, "the killed server still runs");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(alive(child), "the orphan should outlive its parent");
    tokio::time::timeout(Duration::from_secs(8), server.stop())
        .await
        .expect("stop() returns");
    assert_gone(
        &[("the crashed server's child", child)],
        Duration::from_secs(2),
        "after stop() of a crashed server",
    );
}
