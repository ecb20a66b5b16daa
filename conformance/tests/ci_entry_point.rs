//! `ci/mcp-auth-conformance.sh`, the entry point every CI calls, run for
//! real (bash) with `MCP_AUTH_CONFORMANCE` set to the binary under test:
//! against the reference server (exit 0, three reports, the GitHub job
//! summary appended to), against it with a flaw (exit 1, the failure named
//! in every report, the spec version and baseline passed on), and with
//! inputs missing or wrong (exit 2 with a message saying what to do). And
//! the example profiles under `ci/examples/profiles/` load. The JUnit
//! documents it writes are valid against `ci/junit.xsd`.
//!
//! The reference server is the binary next to this one
//! (`target/debug/reference-server`); `cargo test --workspace` builds it.

#![cfg(unix)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use conformance::report::{RunReport, Verdict};

mod junit_validator;

const BIN: &str = env!("CARGO_BIN_EXE_mcp-auth-conformance");

/// Inputs of the script and what else could change its behaviour, removed
/// from the inherited environment (a CI running these tests sets some).
const CLEARED: &[&str] = &[
    "MCP_AUTH_PROFILE",
    "MCP_AUTH_SPEC_VERSION",
    "MCP_AUTH_EXPECTED_FAILURES",
    "MCP_AUTH_REPORT_DIR",
    "MCP_AUTH_CONFORMANCE",
    "GITHUB_STEP_SUMMARY",
    "MOCK_PROVIDER_ADMIN_SECRET",
    "RUST_LOG",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn script() -> PathBuf {
    workspace_root().join("ci/mcp-auth-conformance.sh")
}

/// The reference server built beside the binary under test.
fn reference_server() -> PathBuf {
    let path = Path::new(BIN)
        .parent()
        .unwrap()
        .join(format!("reference-server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: build it first: cargo build -p reference-server",
        path.display()
    );
    path
}

/// `fixtures/profiles/reference.toml` with the reference server's absolute
/// path and `args` as its command, written to `dir`.
fn reference_profile_copy(dir: &Path, args: &[&str]) -> PathBuf {
    let text =
        std::fs::read_to_string(workspace_root().join("fixtures/profiles/reference.toml")).unwrap();
    let mut profile: toml::Table = text.parse().unwrap();
    let server = profile
        .get_mut("server")
        .and_then(toml::Value::as_table_mut)
        .expect("reference.toml has [server]");
    let mut command = vec![toml::Value::String(
        reference_server().display().to_string(),
    )];
    command.extend(args.iter().map(|a| toml::Value::String((*a).to_owned())));
    server.insert("command".to_owned(), toml::Value::Array(command));
    let path = dir.join("profile.toml");
    std::fs::write(&path, toml::to_string(&profile).unwrap()).unwrap();
    path
}

/// The committed reference profile, when the reference server is where it
/// points (the default target directory); else a copy that points at it.
fn reference_profile(dir: &Path) -> PathBuf {
    let committed = workspace_root().join("fixtures/profiles/reference.toml");
    let expected = workspace_root().join("target/debug/reference-server");
    match (expected.canonicalize(), reference_server().canonicalize()) {
        (Ok(a), Ok(b)) if a == b => committed,
        _ => reference_profile_copy(dir, &[]),
    }
}

/// Environment variables to set.
type Env<'a> = Vec<(&'a str, &'a OsStr)>;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn transcript(&self) -> String {
        format!(
            "exit code: {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `shell script` in `cwd` with a clean set of inputs plus `env`.
fn run_with(shell: &str, script: &Path, cwd: &Path, env: &[(&str, &OsStr)]) -> Run {
    let mut cmd = Command::new(shell);
    cmd.arg(script)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .env("NO_COLOR", "1");
    for var in CLEARED {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shell}: {e}"));
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The script under bash in the workspace root, with the binary under test.
fn run(env: &[(&str, &OsStr)]) -> Run {
    let mut all: Vec<(&str, &OsStr)> = vec![("MCP_AUTH_CONFORMANCE", OsStr::new(BIN))];
    all.extend_from_slice(env);
    run_with("bash", &script(), &workspace_root(), &all)
}

struct Reports {
    junit: String,
    json: RunReport,
    summary: String,
}

fn reports(dir: &Path) -> Reports {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("{name} in {}: {e}", dir.display()))
    };
    let json = read("report.json");
    Reports {
        junit: read("junit.xml"),
        json: serde_json::from_str(&json).unwrap_or_else(|e| panic!("report.json: {e}\n{json}")),
        summary: read("summary.md"),
    }
}

/// The value of `attr` in the first `<element ` tag of a JUnit document.
fn attribute<'a>(xml: &'a str, element: &str, attr: &str) -> &'a str {
    let start = xml
        .find(&format!("<{element} "))
        .unwrap_or_else(|| panic!("no <{element}> in\n{xml}"));
    let tag = &xml[start..start + xml[start..].find('>').unwrap()];
    let key = format!(" {attr}=\"");
    let at = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {attr} in {tag}"))
        + key.len();
    &tag[at..at + tag[at..].find('"').unwrap()]
}

/// The ids of the JUnit test cases that carry a `<failure>`.
fn junit_failures(xml: &str) -> Vec<String> {
    xml.split("<testcase ")
        .skip(1)
        .filter(|case| {
            let end = case.find("</testcase>").unwrap_or(case.len());
            case[..end].contains("<failure ")
        })
        .map(|case| {
            // `name` may be the first attribute, right after `<testcase `.
            let case = format!(" {case}");
            let at = case.find(" name=\"").unwrap() + 7;
            case[at..at + case[at..].find('"').unwrap()].to_owned()
        })
        .collect()
}

#[test]
fn the_reference_server_is_conformant() {
    let tmp = tempfile::tempdir().unwrap();
    let report_dir = tmp.path().join("out/reports");
    let step_summary = tmp.path().join("step_summary.md");
    std::fs::write(&step_summary, "# an earlier step\n").unwrap();
    let profile = reference_profile(tmp.path());

    let out = run(&[
        ("MCP_AUTH_PROFILE", profile.as_os_str()),
        ("MCP_AUTH_REPORT_DIR", report_dir.as_os_str()),
        ("GITHUB_STEP_SUMMARY", step_summary.as_os_str()),
    ]);
    assert_eq!(out.code, Some(0), "{}", out.transcript());
    assert!(
        out.stdout
            .contains("RESULT: conformant (every MUST passed)"),
        "{}",
        out.transcript()
    );

    let r = reports(&report_dir);
    assert_eq!(
        attribute(&r.junit, "testsuites", "failures"),
        "0",
        "{}",
        r.junit
    );
    assert_ne!(
        attribute(&r.junit, "testsuites", "tests"),
        "0",
        "{}",
        r.junit
    );
    assert!(junit_failures(&r.junit).is_empty(), "{}", r.junit);
    junit_validator::assert_valid(&r.junit);
    assert!(!r.json.results.is_empty());
    // The reference profile validates JWTs: the scenarios for servers that
    // introspect are skipped, and so are those the negotiated spec version
    // does not call for (sessions in 2026-07-28); everything else passes.
    let version = r.json.spec_version;
    assert_eq!(
        r.json.spec_version_source.as_deref(),
        Some("negotiated: the newest both sides speak"),
        "without MCP_AUTH_SPEC_VERSION the suite negotiates"
    );
    let not_called_for: Vec<String> = conformance::scenario::load(&[])
        .unwrap()
        .into_iter()
        .filter(|s| {
            use conformance::scenario::Requirement;
            s.requires.contains(&Requirement::Introspection)
                || !s.versions.contains(&version)
                || (s.requires.contains(&Requirement::Sessions) && !version.has_sessions())
        })
        .map(|s| s.id)
        .collect();
    assert!(!not_called_for.is_empty());
    for result in &r.json.results {
        let wanted = if not_called_for.contains(&result.id) {
            Verdict::Skipped
        } else {
            Verdict::Pass
        };
        assert_eq!(result.verdict, wanted, "{}", result.id);
    }
    assert_eq!(r.json.exit_code(), 0);
    assert!(
        r.summary
            .starts_with("## ✅ MCP auth conformance: conformant (every MUST passed)\n"),
        "{}",
        r.summary
    );
    assert!(!r.summary.contains("not conformant"), "{}", r.summary);
    // The job summary got the Markdown report, after what was there.
    assert_eq!(
        std::fs::read_to_string(&step_summary).unwrap(),
        format!("# an earlier step\n{}", r.summary)
    );
}

#[test]
fn a_flawed_server_fails_and_every_report_names_the_scenario() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = reference_profile_copy(tmp.path(), &["--flaw", "accept-any-audience"]);
    let report_dir = tmp.path().join("reports");
    // A baseline that excuses one of the flaw's failures.
    let baseline = tmp.path().join("known.txt");
    std::fs::write(&baseline, "# known\ntoken.missing_audience\n").unwrap();

    let out = run(&[
        ("MCP_AUTH_PROFILE", profile.as_os_str()),
        ("MCP_AUTH_REPORT_DIR", report_dir.as_os_str()),
        ("MCP_AUTH_SPEC_VERSION", OsStr::new("2025-06-18")),
        ("MCP_AUTH_EXPECTED_FAILURES", baseline.as_os_str()),
    ]);
    assert_eq!(out.code, Some(1), "{}", out.transcript());
    assert!(
        out.stdout.contains("RESULT: not conformant"),
        "{}",
        out.transcript()
    );

    let r = reports(&report_dir);
    assert_eq!(r.json.spec_version.to_string(), "2025-06-18");
    let verdict = |id: &str| {
        r.json
            .results
            .iter()
            .find(|x| x.id == id)
            .unwrap_or_else(|| panic!("{id} not in report.json"))
            .verdict
    };
    assert_eq!(verdict("token.wrong_audience"), Verdict::Fail);
    assert_eq!(verdict("token.missing_audience"), Verdict::ExpectedFailure);
    assert_eq!(verdict("token.valid"), Verdict::Pass);
    assert_eq!(r.json.exit_code(), 1);

    junit_validator::assert_valid(&r.junit);
    let failed = junit_failures(&r.junit);
    assert!(
        failed.iter().any(|id| id == "token.wrong_audience"),
        "{failed:?}\n{}",
        r.junit
    );
    assert_eq!(failed, r.json.failed_ids(), "{}", r.junit);
    assert_eq!(
        attribute(&r.junit, "testsuites", "failures"),
        failed.len().to_string()
    );

    assert!(
        r.summary
            .starts_with("## ❌ MCP auth conformance: not conformant\n"),
        "{}",
        r.summary
    );
    assert!(
        r.summary.contains("| `token.wrong_audience`<br>"),
        "{}",
        r.summary
    );
    assert!(
        r.summary.contains("<code>token.wrong_audience</code>"),
        "{}",
        r.summary
    );
}

#[test]
fn missing_or_wrong_inputs_exit_2_saying_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("profile.toml");
    std::fs::write(&profile, "[server]\nurl = \"http://127.0.0.1:9/mcp\"\n").unwrap();
    let nowhere = tmp.path().join("no_such_file");
    let cases: Vec<(&str, Env, &str)> = vec![
        (
            "no profile",
            vec![("MCP_AUTH_CONFORMANCE", OsStr::new(BIN))],
            "MCP_AUTH_PROFILE is not set",
        ),
        (
            "a profile that does not exist",
            vec![
                ("MCP_AUTH_CONFORMANCE", OsStr::new(BIN)),
                ("MCP_AUTH_PROFILE", nowhere.as_os_str()),
            ],
            "no_such_file: no such file",
        ),
        (
            "a baseline that does not exist",
            vec![
                ("MCP_AUTH_CONFORMANCE", OsStr::new(BIN)),
                ("MCP_AUTH_PROFILE", profile.as_os_str()),
                ("MCP_AUTH_EXPECTED_FAILURES", nowhere.as_os_str()),
            ],
            "MCP_AUTH_EXPECTED_FAILURES=",
        ),
        (
            "a binary that does not exist",
            vec![
                ("MCP_AUTH_CONFORMANCE", nowhere.as_os_str()),
                ("MCP_AUTH_PROFILE", profile.as_os_str()),
            ],
            "not an executable",
        ),
    ];
    // bash, as CI runs it, and a POSIX sh when there is one.
    let shells: Vec<&str> = ["bash", "sh"]
        .into_iter()
        .filter(|s| Command::new(s).arg("-c").arg("true").status().is_ok())
        .collect();
    for shell in shells {
        for (what, env, says) in &cases {
            let out = run_with(shell, &script(), tmp.path(), env);
            let shown = format!("{shell}, {what}:\n{}", out.transcript());
            assert_eq!(out.code, Some(2), "{shown}");
            assert!(out.stderr.contains("error: "), "{shown}");
            assert!(out.stderr.contains(says), "`{says}` not in {shown}");
            assert!(!tmp.path().join("mcp-auth-reports").exists(), "{shown}");
        }
    }
}

#[test]
fn a_usage_error_of_the_suite_passes_through_and_the_job_summary_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let step_summary = tmp.path().join("step_summary.md");
    let report_dir = tmp.path().join("reports");
    // An earlier run's report must not pass for this one's.
    std::fs::create_dir_all(&report_dir).unwrap();
    std::fs::write(report_dir.join("summary.md"), "stale").unwrap();
    let out = run(&[
        (
            "MCP_AUTH_PROFILE",
            workspace_root()
                .join("fixtures/profiles/reference.toml")
                .as_os_str(),
        ),
        ("MCP_AUTH_SPEC_VERSION", OsStr::new("1999-01-01")),
        ("MCP_AUTH_REPORT_DIR", report_dir.as_os_str()),
        ("GITHUB_STEP_SUMMARY", step_summary.as_os_str()),
    ]);
    assert_eq!(out.code, Some(2), "{}", out.transcript());
    assert!(out.stderr.contains("1999-01-01"), "{}", out.transcript());
    assert!(
        out.stderr
            .contains("the suite wrote no report (exit code 2)"),
        "{}",
        out.transcript()
    );
    assert!(!report_dir.join("summary.md").exists());
    let step = std::fs::read_to_string(&step_summary).unwrap();
    assert!(
        step.starts_with("## ⚠️ MCP auth conformance: the suite did not run\n"),
        "{step}"
    );
}

#[test]
fn without_the_binary_outside_a_checkout_it_says_how_to_install_it() {
    // The script on its own, as CI would download it, with a PATH that has
    // the basic tools but no mcp-auth-conformance.
    let tmp = tempfile::tempdir().unwrap();
    let path = "/usr/bin:/bin";
    if std::env::split_paths(path).any(|d| d.join("mcp-auth-conformance").exists()) {
        eprintln!("skipped: mcp-auth-conformance is installed in {path}");
        return;
    }
    let copy = tmp.path().join("mcp-auth-conformance.sh");
    std::fs::copy(script(), &copy).unwrap();
    let profile = tmp.path().join("profile.toml");
    std::fs::write(&profile, "[server]\nurl = \"http://127.0.0.1:9/mcp\"\n").unwrap();
    let bash = ["/usr/bin/bash", "/bin/bash"]
        .into_iter()
        .find(|b| Path::new(b).exists())
        .expect("bash in /usr/bin or /bin");
    let out = run_with(
        bash,
        &copy,
        tmp.path(),
        &[
            ("PATH", OsStr::new(path)),
            ("MCP_AUTH_PROFILE", profile.as_os_str()),
        ],
    );
    assert_eq!(out.code, Some(2), "{}", out.transcript());
    assert!(
        out.stderr
            .contains("mcp-auth-conformance not found. Install it"),
        "{}",
        out.transcript()
    );
    assert!(
        out.stderr.contains(
            "cargo install --locked --git https://github.com/mcp-auth-harness/mcp-auth-harness conformance"
        ),
        "{}",
        out.transcript()
    );
}

#[test]
fn the_example_profiles_are_valid() {
    let dir = workspace_root().join("ci/examples/profiles");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension() == Some(OsStr::new("toml")) {
            let profile = conformance::TargetProfile::from_file(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(profile.server.command.is_some(), "{}", path.display());
            seen.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    seen.sort();
    assert_eq!(seen, ["node.toml", "python.toml", "rust.toml"]);
    // The Node example is the one the README shows.
    let node = conformance::TargetProfile::from_file(&dir.join("node.toml")).unwrap();
    assert_eq!(
        node.server.command.as_deref(),
        Some(&["node".to_owned(), "server.mjs".to_owned()][..])
    );
}
