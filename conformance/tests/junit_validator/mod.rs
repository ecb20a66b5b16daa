//! Validates JUnit documents against `ci/junit.xsd` with libxml2's
//! `xmllint`: what the JUnit tests share. `.ci/run` installs xmllint and
//! sets `MCP_AUTH_HARNESS_REQUIRE_XMLLINT=1`, so in CI a missing validator
//! fails the test instead of skipping it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The schema, in the workspace's `ci/` directory.
pub fn schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the conformance crate sits in the workspace")
        .join("ci/junit.xsd")
}

/// Whether `xmllint` can be run. Without it the caller skips, unless the
/// environment requires it (then this panics saying how to install it).
pub fn xmllint_available() -> bool {
    let found = Command::new("xmllint")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var_os("MCP_AUTH_HARNESS_REQUIRE_XMLLINT").is_some_and(|v| v == "1") {
            panic!(
                "xmllint is required (MCP_AUTH_HARNESS_REQUIRE_XMLLINT=1) but not installed: \
                 apt-get install libxml2-utils"
            );
        }
        eprintln!(
            "SKIPPED: xmllint not installed (apt-get install libxml2-utils); \
             the JUnit schema check did not run"
        );
    }
    found
}

/// `Ok` when `xml` is valid against the schema; otherwise xmllint's
/// complaint.
pub fn validate(xml: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let file = dir.path().join("junit.xml");
    std::fs::write(&file, xml).map_err(|e| format!("{}: {e}", file.display()))?;
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(schema())
        .arg(&file)
        .output()
        .map_err(|e| format!("xmllint: {e}"))?;
    let complaint = String::from_utf8_lossy(&out.stderr).into_owned();
    // A broken schema would make every document "invalid", and the tests
    // that expect a refusal would pass for the wrong reason.
    assert!(
        !complaint.contains("failed to compile"),
        "ci/junit.xsd itself does not compile:\n{complaint}"
    );
    if out.status.success() {
        Ok(())
    } else {
        Err(complaint)
    }
}

/// Panics with xmllint's complaint and the document when `xml` is not
/// valid; does nothing when xmllint is missing and not required.
pub fn assert_valid(xml: &str) {
    if !xmllint_available() {
        return;
    }
    if let Err(why) = validate(xml) {
        panic!("the JUnit document is not valid against ci/junit.xsd:\n{why}\n{xml}");
    }
}
