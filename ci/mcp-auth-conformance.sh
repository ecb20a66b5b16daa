#!/bin/sh
# mcp-auth-conformance CI entry point: runs the suite against the MCP server
# a target profile describes, writes junit.xml, report.json and summary.md
# into a report directory, appends the summary to the GitHub job summary
# when there is one, and exits with the suite's code:
#   0  every MUST scenario passed (expected failures aside)
#   1  a MUST scenario failed (or could not be judged); with MCP_AUTH_STRICT,
#      a SHOULD scenario too
#   2  a usage, profile or setup error (also: missing inputs here), or a
#      scenario the suite could not run (ERROR) and nothing failed
#
# Inputs (environment):
#   MCP_AUTH_PROFILE             required: the target profile (TOML)
#   MCP_AUTH_SPEC_VERSION        MCP spec version (default: negotiated with the server)
#   MCP_AUTH_STRICT              true: SHOULD failures fail the run too
#   MCP_AUTH_EXPECTED_FAILURES   a baseline file of scenario ids expected to fail
#   MCP_AUTH_REPORT_DIR          where the reports go (default: mcp-auth-reports)
#   MCP_AUTH_CONFORMANCE         the mcp-auth-conformance binary (default: the one
#                                on PATH, else `cargo run` when this script sits in
#                                a checkout of mcp-auth-harness)
#   GITHUB_STEP_SUMMARY          set by GitHub Actions: summary.md is appended to it
# Arguments are passed on to `mcp-auth-conformance run` (e.g. --only 'token.*').
#
# POSIX sh; see ci/README.md.
set -eu

REPOSITORY_URL="https://github.com/mcp-auth-harness/mcp-auth-harness"

die() {
    echo "mcp-auth-conformance.sh: error: $*" >&2
    exit 2
}

profile="${MCP_AUTH_PROFILE:-}"
spec_version="${MCP_AUTH_SPEC_VERSION:-}"
strict="${MCP_AUTH_STRICT:-}"
expected_failures="${MCP_AUTH_EXPECTED_FAILURES:-}"
report_dir="${MCP_AUTH_REPORT_DIR:-mcp-auth-reports}"

[ -n "$profile" ] ||
    die "MCP_AUTH_PROFILE is not set: point it at your target profile (TOML), e.g. MCP_AUTH_PROFILE=mcp-auth.toml (README.md, \"Target profile\")"
[ -f "$profile" ] ||
    die "MCP_AUTH_PROFILE=$profile: no such file (relative paths are taken from $(pwd))"
if [ -n "$expected_failures" ] && [ ! -f "$expected_failures" ]; then
    die "MCP_AUTH_EXPECTED_FAILURES=$expected_failures: no such file"
fi

# The suite: an explicit binary, the one on PATH, or this checkout's.
if [ -n "${MCP_AUTH_CONFORMANCE:-}" ]; then
    command -v "$MCP_AUTH_CONFORMANCE" >/dev/null 2>&1 ||
        die "MCP_AUTH_CONFORMANCE=$MCP_AUTH_CONFORMANCE: not an executable"
    set -- "$MCP_AUTH_CONFORMANCE" run "$@"
elif command -v mcp-auth-conformance >/dev/null 2>&1; then
    set -- mcp-auth-conformance run "$@"
else
    checkout="$(cd "$(dirname "$0")/.." 2>/dev/null && pwd)" || checkout=""
    if [ -n "$checkout" ] && [ -f "$checkout/conformance/Cargo.toml" ] &&
        [ -f "$checkout/Cargo.toml" ] && command -v cargo >/dev/null 2>&1; then
        set -- cargo run -q --manifest-path "$checkout/Cargo.toml" -p conformance -- run "$@"
    else
        die "mcp-auth-conformance not found. Install it (Rust >= 1.88):
    cargo install --locked --git $REPOSITORY_URL conformance
or set MCP_AUTH_CONFORMANCE to the binary."
    fi
fi

mkdir -p "$report_dir" || die "cannot create the report directory $report_dir"
junit="$report_dir/junit.xml"
json="$report_dir/report.json"
summary="$report_dir/summary.md"
# No report from an earlier run may pass for this one's.
rm -f "$junit" "$json" "$summary"

set -- "$@" --profile "$profile" --junit "$junit" --json "$json" --summary "$summary"
[ -z "$spec_version" ] || set -- "$@" --spec-version "$spec_version"
case "$strict" in
    "" | false) ;;
    true) set -- "$@" --strict ;;
    *) die "MCP_AUTH_STRICT=$strict: use true or false" ;;
esac
[ -z "$expected_failures" ] || set -- "$@" --expected-failures "$expected_failures"

code=0
"$@" || code=$?

if [ -f "$summary" ]; then
    echo "mcp-auth-conformance.sh: reports in $report_dir: junit.xml, report.json, summary.md" >&2
    if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
        cat "$summary" >>"$GITHUB_STEP_SUMMARY" ||
            echo "mcp-auth-conformance.sh: warning: cannot append to GITHUB_STEP_SUMMARY" >&2
    fi
else
    echo "mcp-auth-conformance.sh: the suite wrote no report (exit code $code): see the error above" >&2
    if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
        {
            echo "## ⚠️ MCP auth conformance: the suite did not run"
            echo
            echo "\`mcp-auth-conformance\` exited with code $code before writing a report; the job log says why."
        } >>"$GITHUB_STEP_SUMMARY" || true
    fi
fi
exit "$code"
