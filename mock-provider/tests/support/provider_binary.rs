//! The `mock-provider` binary run as a user runs it: `serve` with
//! arguments, started from the workspace root, its ready line read
//! ([`ReadyLine`]), its log collected, signals sent with rustix, and killed
//! on drop so a failing assert leaks no process.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mock_provider::ReadyLine;
pub use rustix::process::Signal;

/// The binary, started in the workspace root with its log at `info`, the
/// config variable cleared.
pub fn command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mock-provider"));
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap());
    c.env("RUST_LOG", "info");
    c.env_remove("MOCK_PROVIDER_CONFIG");
    c
}

/// A running `mock-provider serve`.
pub struct ServeProcess {
    child: Child,
    /// What its ready line said.
    pub ready: ReadyLine,
    log: Option<JoinHandle<String>>,
}

impl ServeProcess {
    /// `mock-provider serve ARGS`, once its ready line is printed.
    pub fn start(args: &[&str]) -> Self {
        let mut cmd = command();
        cmd.arg("serve").args(args);
        Self::spawn(cmd)
    }

    /// Runs `cmd` (a `serve` command) and waits for its ready line.
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mock-provider");
        let mut stderr = child.stderr.take().unwrap();
        let log = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("ready line");
        let ready = line
            .parse()
            .unwrap_or_else(|e| panic!("{e}; stderr: {:?}", child.kill()));
        Self {
            child,
            ready,
            log: Some(log),
        }
    }

    /// The base URL from the ready line.
    pub fn base_url(&self) -> &str {
        &self.ready.base_url
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("a pid");
        rustix::process::kill_process(pid, signal).expect("signal sent");
    }

    /// Waits at most `limit` for it to exit (then kills it and panics).
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                panic!("mock-provider did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then its exit status (within 10 s) and its whole log.
    pub fn terminate(mut self) -> (ExitStatus, String) {
        self.signal(Signal::TERM);
        let status = self.wait(Duration::from_secs(10));
        let log = self
            .log
            .take()
            .map(|h| h.join().unwrap())
            .unwrap_or_default();
        (status, log)
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
