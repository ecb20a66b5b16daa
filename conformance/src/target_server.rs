//! The MCP server under test when the suite starts it: the environment
//! contract, a free port, output capture (for the leak scan), readiness,
//! restarts, and stopping it with all its children (also on Ctrl-C and
//! panic, through `Drop`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// How to start the server.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// Program and arguments.
    pub command: Vec<String>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Environment (the contract plus the profile's `env`).
    pub env: BTreeMap<String, String>,
    /// A URL that answers once the server is up.
    pub ready_url: String,
    /// How long to wait for it.
    pub ready_timeout: Duration,
}

/// Why the server did not come up.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// It could not be spawned.
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        /// The program.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// It exited before answering.
    #[error("the server exited ({status}) before answering; its output ends with:\n{tail}")]
    Exited {
        /// Exit status.
        status: String,
        /// The last lines it printed.
        tail: String,
    },
    /// It did not answer in time.
    #[error("the server did not answer {url} within {secs} s; its output ends with:\n{tail}")]
    NotReady {
        /// The URL polled.
        url: String,
        /// The timeout.
        secs: u64,
        /// The last lines it printed.
        tail: String,
    },
}

/// A running server started by the suite.
pub struct TargetServer {
    spec: LaunchSpec,
    child: Option<Child>,
    /// The running server's process group (its PID), kept apart from
    /// `child` because `Child::id()` is gone once the server was reaped
    /// (`is_running()` after a crash), while its children may still run.
    group: Option<u32>,
    logs: Arc<Mutex<String>>,
    starts: usize,
}

impl std::fmt::Debug for TargetServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetServer")
            .field("command", &self.spec.command)
            .field("starts", &self.starts)
            .finish_non_exhaustive()
    }
}

/// A free TCP port on 127.0.0.1 for a server the suite starts, and may
/// restart on the same port: one below the kernel's ephemeral range where
/// there is room, so that no outgoing connection (of this process or any
/// other) can take it while the server is down between two starts; a
/// port bound to 0 otherwise. Never the same port twice in one process.
pub fn free_port() -> std::io::Result<u16> {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(range) = stable_ports() {
        // A walk from a start that differs between processes.
        let span = u32::from(range.end - range.start);
        let start = std::process::id().wrapping_mul(2_654_435_761) % span;
        for step in 0..span.min(2_000) {
            let port = range.start + ((start + step * 7_919) % span) as u16;
            if !given.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                given.push(port);
                return Ok(port);
            }
        }
    }
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        if !given.contains(&port) {
            given.push(port);
            return Ok(port);
        }
    }
}

/// Ports below the kernel's ephemeral range (`ip_local_port_range`), from
/// 10000, when at least 1000 of them are there. Read once per process.
fn stable_ports() -> Option<std::ops::Range<u16>> {
    static RANGE: std::sync::OnceLock<Option<std::ops::Range<u16>>> = std::sync::OnceLock::new();
    RANGE
        .get_or_init(|| {
            let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
            let low: u16 = text.split_whitespace().next()?.parse().ok()?;
            (low >= 11_000).then_some(10_000..low)
        })
        .clone()
}

impl TargetServer {
    /// Starts the server and waits until it answers.
    pub async fn start(spec: LaunchSpec) -> Result<Self, TargetError> {
        let mut server = Self {
            spec,
            child: None,
            group: None,
            logs: Arc::default(),
            starts: 0,
        };
        server.launch().await?;
        Ok(server)
    }

    async fn launch(&mut self) -> Result<(), TargetError> {
        let (program, args) = self
            .spec
            .command
            .split_first()
            .map(|(p, a)| (p.clone(), a.to_vec()))
            .unwrap_or_default();
        let mut cmd = Command::new(&program);
        cmd.args(&args)
            .envs(&self.spec.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(cwd) = &self.spec.cwd {
            cmd.current_dir(cwd);
        }
        // Its own process group, so stopping it stops its children too.
        #[cfg(unix)]
        cmd.process_group(0);
        let mut child = cmd.spawn().map_err(|source| TargetError::Spawn {
            command: program.clone(),
            source,
        })?;
        self.group = child.id();
        self.starts += 1;
        {
            let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
            if self.starts > 1 {
                logs.push_str(&format!("--- restart {} ---\n", self.starts - 1));
            }
        }
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let logs = self.logs.clone();
            tokio::spawn(async move {
                let mut stream = stream;
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    logs.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        self.child = Some(child);
        self.wait_ready().await
    }

    async fn wait_ready(&mut self) -> Result<(), TargetError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap_or_default();
        let deadline = Instant::now() + self.spec.ready_timeout;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Err(TargetError::Exited {
                    status: status.to_string(),
                    tail: self.log_tail(20),
                });
            }
            // Any HTTP answer (401 included) means it is listening.
            if http.get(&self.spec.ready_url).send().await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(TargetError::NotReady {
                    url: self.spec.ready_url.clone(),
                    secs: self.spec.ready_timeout.as_secs(),
                    tail: self.log_tail(20),
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Changes one environment variable for the next (re)start.
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.spec.env.insert(name.to_owned(), value.to_owned());
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Stops it and starts it again with the same environment.
    pub async fn restart(&mut self) -> Result<(), TargetError> {
        self.stop().await;
        self.launch().await
    }

    /// Everything it printed so far (all starts).
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// How many times it was started.
    pub fn starts(&self) -> usize {
        self.starts
    }

    fn log_tail(&self, lines: usize) -> String {
        let logs = self.logs();
        let all: Vec<&str> = logs.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// SIGTERM to the group; once the server exits (or after 3 s), SIGKILL
    /// to whatever is left of the group: children that ignore SIGTERM or
    /// outlived a crashed server must not keep running (or hold the port
    /// for the restart).
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(group) = self.group.take() {
            signal_group(group, rustix::process::Signal::TERM);
            let exited = tokio::time::timeout(Duration::from_secs(3), child.wait()).await;
            signal_group(group, rustix::process::Signal::KILL);
            if exited.is_err() {
                let _ = child.wait().await;
            }
        }
        // Give the output readers a moment to drain.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Drop for TargetServer {
    fn drop(&mut self) {
        if self.child.is_some()
            && let Some(group) = self.group
        {
            signal_group(group, rustix::process::Signal::KILL);
        }
    }
}

/// Signals a process group (the server and whatever it started); a group
/// that is gone already is no error.
pub fn signal_group(pid: u32, signal: rustix::process::Signal) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ports for servers the suite may restart: free, never handed out
    /// twice, and outside the range outgoing connections draw from.
    #[test]
    fn server_ports_are_distinct_free_and_not_ephemeral() {
        let ports: Vec<u16> = (0..50).map(|_| free_port().unwrap()).collect();
        let mut distinct = ports.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
        for &port in &ports {
            std::net::TcpListener::bind(("127.0.0.1", port)).expect("still free");
        }
        if let Some(range) = stable_ports() {
            assert!(
                ports.iter().all(|p| range.contains(p)),
                "{ports:?} {range:?}"
            );
        }
    }
}
