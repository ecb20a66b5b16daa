//! No import circles between the modules of any crate of the workspace: a
//! module may use those below it, never one that (through others) uses it.
//! Each file counts as its top-level module (`steps/mint.rs` is `steps`),
//! and an edge is any `crate::name` path in its code. A circle is reported
//! with the names that tie it, so it can be cut where it is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates' source directories, from this package's directory.
const CRATES: &[&str] = &[
    "../mock-provider/src",
    "src",
    "../refresh-race/src",
    "../fixtures/reference-server/src",
    "../fixtures/interop/src",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`None` for `lib.rs`/`main.rs`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    let name = first.trim_end_matches(".rs").to_owned();
    (!matches!(name.as_str(), "lib" | "main")).then_some(name)
}

/// module -> the modules its code names with `crate::`, tests and
/// comments left out.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        // Code only: tests and comments (doc links) are no imports.
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or("")
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let targets = edges.entry(module.clone()).or_default();
        for (at, _) in code.match_indices("crate::") {
            // `$crate::` in a macro is the same crate; `crate::` inside a
            // longer name (`some_crate::`) is not.
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let name: String = code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                targets.insert(name);
            }
        }
        // `use crate::{a::X, b::Y}`
        for (at, _) in code.match_indices("crate::{") {
            let inner = &code[at + "crate::{".len()..];
            let inner = &inner[..inner.find("};").unwrap_or(inner.len())];
            for part in inner.split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    targets.insert(name);
                }
            }
        }
    }
    // Names that are not modules of this crate (re-exported items used
    // as `crate::Item`) are not edges.
    let modules: BTreeSet<String> = edges.keys().cloned().collect();
    for targets in edges.values_mut() {
        targets.retain(|t| modules.contains(t));
    }
    edges
}

/// A circle through `start`, if there is one (depth-first).
fn circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(found) = visit(node, edges, &mut Vec::new(), &mut done) {
            return Some(found);
        }
    }
    None
}

#[test]
fn no_crate_has_an_import_circle() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in CRATES {
        let src = here.join(dir);
        let edges = graph(&src);
        assert!(edges.len() >= 5, "{dir}: only {} modules read", edges.len());
        if let Some(found) = circle(&edges) {
            panic!("{dir}: import circle {}", found.join(" -> "));
        }
    }
}

#[test]
fn the_check_finds_a_circle() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(circle(&edges).unwrap(), ["a", "b", "c", "a"]);
    let mut acyclic = edges.clone();
    acyclic.get_mut("c").unwrap().clear();
    assert_eq!(circle(&acyclic), None);
}
