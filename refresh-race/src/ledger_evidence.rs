//! The ledger's facts a counterexample shows: the step's refresh requests
//! at the token endpoint, phase by phase (refresh token presented, what was
//! issued or the error, reuse detection, injected faults), and what the
//! upstream API answered. Fingerprints only, never token values; within a
//! phase the lines are in a fixed order (granted first), so the same
//! schedule reads the same every run.

use std::collections::BTreeMap;

use mock_provider::ledger::LedgerEntry;

/// The ledger sequence numbers that delimit the phases of one step.
#[derive(Debug, Clone, Default)]
pub(crate) struct PhaseMarks {
    /// Name of the step (`cycle 1`).
    pub step: String,
    /// The last sequence number before the step.
    pub start: u64,
    /// Each phase's name and the last sequence number at its end.
    pub phases: Vec<(String, u64)>,
}

/// One refresh request, as a line.
fn refresh_line(e: &LedgerEntry) -> String {
    let injected = e
        .faults
        .iter()
        .filter_map(|f| f.split('#').next())
        .filter(|kind| !matches!(*kind, "refresh_barrier" | "latency"))
        .collect::<Vec<_>>();
    let Some(presented) = e.refresh_token else {
        // A fault answered before the token was looked at (a provider
        // from before faulted entries carried the fingerprint).
        return if injected.is_empty() {
            format!("refresh (token not examined): {}", e.outcome)
        } else {
            format!(
                "refresh: {} (injected: {}; token not examined)",
                e.outcome,
                injected.join(", ")
            )
        };
    };
    if !e.processed {
        // Presented, but a fault answered first: the token was not
        // consumed, so this is no use of it.
        let by = if injected.is_empty() {
            String::new()
        } else {
            format!("injected: {}; ", injected.join(", "))
        };
        return format!(
            "refresh {presented}: {} ({by}answered before processing, token not consumed)",
            e.outcome
        );
    }
    let mut line = if e.outcome == "ok" {
        match e.issued_refresh_token {
            Some(next) => format!("refresh {presented}: granted, rotated to {next}"),
            None => format!("refresh {presented}: granted, not rotated"),
        }
    } else {
        format!("refresh {presented}: {}", e.outcome)
    };
    if e.reuse_detected {
        line.push_str(", reuse detected");
    }
    if !injected.is_empty() {
        line.push_str(&format!(" (injected: {})", injected.join(", ")));
    }
    line
}

/// Runs of the same line become one line with a count.
fn collapse(lines: Vec<String>) -> Vec<String> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for line in lines {
        match out.last_mut() {
            Some((last, n)) if *last == line => *n += 1,
            _ => out.push((line, 1)),
        }
    }
    out.into_iter()
        .map(|(line, n)| {
            if n == 1 {
                line
            } else {
                format!("{line} ({n} times)")
            }
        })
        .collect()
}

/// The evidence lines of one step: `refreshes` are the case's refresh
/// requests, `upstream` the API requests since the step started, `label`
/// the step's API path segment.
pub(crate) fn evidence(
    marks: &PhaseMarks,
    refreshes: &[LedgerEntry],
    upstream: &[LedgerEntry],
    label: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut from = marks.start;
    let mut phases = marks.phases.clone();
    phases.push(("afterwards".to_owned(), u64::MAX));
    for (phase, until) in phases {
        let mut in_phase: Vec<&LedgerEntry> = refreshes
            .iter()
            .filter(|e| e.seq > from && e.seq <= until)
            .collect();
        in_phase.sort_by_key(|e| (e.outcome != "ok", !e.reuse_detected, e.outcome.clone()));
        for e in in_phase {
            out.push(format!("{}, {phase}: {}", marks.step, refresh_line(e)));
        }
        from = until;
    }
    let mut out = collapse(out);
    let prefix = format!("/race/{label}/");
    let mut accepted = 0usize;
    let mut refused: BTreeMap<String, usize> = BTreeMap::new();
    for u in upstream {
        let Some(seen) = &u.upstream else { continue };
        if !seen.path.starts_with(&prefix) {
            continue;
        }
        if u.outcome == "ok" {
            accepted += 1;
        } else {
            let why = seen
                .refused_because
                .clone()
                .unwrap_or_else(|| u.outcome.clone());
            *refused.entry(why).or_default() += 1;
        }
    }
    if accepted > 0 || !refused.is_empty() {
        let mut line = format!("{}, upstream API: {accepted} accepted", marks.step);
        for (why, n) in refused {
            line.push_str(&format!("; {n} refused ({why})"));
        }
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, presented: Option<&str>, outcome: &str, faults: &[&str]) -> LedgerEntry {
        // An injected error (no `#` id of a barrier or latency) answered
        // before processing.
        let processed = !faults
            .iter()
            .any(|f| f.starts_with("oauth_error") || f.starts_with("http_status"));
        serde_json::from_value(serde_json::json!({
            "seq": seq,
            "time_ms": 0,
            "issuer": "upstream",
            "endpoint": "token",
            "client_id": "c",
            "grant_type": "refresh_token",
            "status": 400,
            "outcome": outcome,
            "refresh_token": presented,
            "issued_refresh_token": if outcome == "ok" { Some("sha256:bbbbbbbbbbbb") } else { None },
            "reuse_detected": outcome == "invalid_grant" && presented.is_some(),
            "faults": faults,
            "processed": processed,
            "latency_ms": 0.0,
        }))
        .unwrap()
    }

    #[test]
    fn lines_are_ordered_by_phase_then_grant_first_and_runs_collapse() {
        let marks = PhaseMarks {
            step: "cycle 1".into(),
            start: 0,
            phases: vec![
                ("access_token()".into(), 2),
                ("replace_rejected()".into(), 5),
            ],
        };
        let ledger = [
            entry(1, Some("sha256:aaaaaaaaaaaa"), "invalid_grant", &[]),
            entry(2, Some("sha256:aaaaaaaaaaaa"), "ok", &["refresh_barrier#3"]),
            entry(3, None, "invalid_grant", &["oauth_error#9"]),
            entry(4, None, "invalid_grant", &["oauth_error#9"]),
            entry(
                6,
                Some("sha256:bbbbbbbbbbbb"),
                "http_503",
                &["http_status#2"],
            ),
        ];
        assert_eq!(
            evidence(&marks, &ledger, &[], "c/c1"),
            [
                "cycle 1, access_token(): refresh sha256:aaaaaaaaaaaa: granted, rotated to sha256:bbbbbbbbbbbb",
                "cycle 1, access_token(): refresh sha256:aaaaaaaaaaaa: invalid_grant, reuse detected",
                "cycle 1, replace_rejected(): refresh: invalid_grant (injected: oauth_error; token not examined) (2 times)",
                "cycle 1, afterwards: refresh sha256:bbbbbbbbbbbb: http_503 (injected: http_status; answered before processing, token not consumed)",
            ]
        );
    }
}
