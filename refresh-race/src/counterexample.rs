//! What a failed run reports: the shrunk [`Schedule`], the invariants it
//! broke and the ledger evidence, as a [`Counterexample`] whose `Display`
//! is the readable report. [`Counterexample::redacted`] is the same text
//! with fingerprints numbered in order of appearance and ports blanked, for
//! snapshots that must not change between runs.

use std::collections::HashMap;
use std::fmt;

use crate::invariants::Violation;
use crate::schedule::Schedule;

/// A schedule the manager fails, shrunk as far as it still fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counterexample {
    /// The smallest failing schedule found.
    pub schedule: Schedule,
    /// What broke (the first step that broke anything; several invariants
    /// may break in it).
    pub violations: Vec<Violation>,
    /// The ledger's facts for that step.
    pub evidence: Vec<String>,
    /// The seed of the run.
    pub seed: u64,
    /// The case (from 1) that first failed.
    pub found_at_case: u32,
    /// Shrink steps that still failed.
    pub shrink_steps: u32,
}

impl fmt::Display for Counterexample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "refresh race counterexample: {}", self.schedule)?;
        f.write_str("violated:")?;
        for v in &self.violations {
            write!(f, "\n  - {v}")?;
        }
        if !self.evidence.is_empty() {
            f.write_str("\nledger evidence:")?;
            for line in &self.evidence {
                write!(f, "\n  {line}")?;
            }
        }
        Ok(())
    }
}

impl Counterexample {
    /// The report with every `sha256:` fingerprint replaced by
    /// `sha256:<n>` (the same fingerprint, the same n, numbered in order
    /// of appearance) and loopback ports by `<port>`: the same schedule
    /// gives the same text on every run.
    pub fn redacted(&self) -> String {
        redact(&self.to_string())
    }
}

/// Numbers fingerprints and blanks loopback ports.
pub(crate) fn redact(text: &str) -> String {
    const PREFIX: &str = "sha256:";
    let mut numbers: HashMap<String, usize> = HashMap::new();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(PREFIX) {
        out.push_str(&rest[..at]);
        let after = &rest[at + PREFIX.len()..];
        let hex = after
            .char_indices()
            .take_while(|(_, c)| c.is_ascii_hexdigit())
            .count();
        if hex >= 8 {
            let digest = &after[..hex];
            let next = numbers.len() + 1;
            let n = *numbers.entry(digest.to_owned()).or_insert(next);
            out.push_str(&format!("{PREFIX}<{n}>"));
            rest = &after[hex..];
        } else {
            out.push_str(PREFIX);
            rest = after;
        }
    }
    out.push_str(rest);
    blank_ports(&out)
}

fn blank_ports(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let found = ["127.0.0.1:", "localhost:", "[::1]:"]
            .iter()
            .filter_map(|host| rest.find(host).map(|at| (at, host.len())))
            .min();
        let Some((at, len)) = found else { break };
        out.push_str(&rest[..at + len]);
        let after = &rest[at + len..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 {
            out.push_str("<port>");
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_numbered_and_ports_blanked() {
        let text = "sha256:0123456789ab -> sha256:ba9876543210; sha256:0123456789ab again at http://127.0.0.1:41234/upstream; sha256: alone";
        assert_eq!(
            redact(text),
            "sha256:<1> -> sha256:<2>; sha256:<1> again at http://127.0.0.1:<port>/upstream; sha256: alone"
        );
    }
}
