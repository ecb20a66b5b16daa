//! No import circles between the modules of any crate of the workspace: a
//! module may use those below it, never one that (through others) uses it.
//! Each file is a module (`steps/mint.rs` is `steps::mint`), and an edge is
//! any `crate::` path in its code, to the longest prefix that is a module.
//! The same holds one level up, with each folder as one node. A circle is reported
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

/// The module a file is (`tokens::jws` for `tokens/jws.rs`, `tokens` for
/// `tokens/mod.rs`; `None` for `lib.rs`/`main.rs`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned()
        })
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    let name = parts.join("::");
    (!matches!(name.as_str(), "lib" | "main")).then_some(name)
}

/// The path that follows `at` in `code`: `a::b::C`.
fn path_at(code: &str) -> String {
    let mut path = String::new();
    let mut rest = code;
    loop {
        let word: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if word.is_empty() {
            break;
        }
        if !path.is_empty() {
            path.push_str("::");
        }
        path.push_str(&word);
        rest = &rest[word.len()..];
        match rest.strip_prefix("::") {
            Some(more) => rest = more,
            None => break,
        }
    }
    path
}

/// module -> the modules its code names with `crate::` (the longest prefix
/// of each path that is a module), tests and comments left out.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut paths: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
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
        let named = paths.entry(module).or_default();
        for (at, _) in code.match_indices("crate::") {
            // `$crate::` in a macro is the same crate; `crate::` inside a
            // longer name (`some_crate::`) is not.
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let after = &code[at + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                // `use crate::{a::X, b::Y}`
                let group = &group[..group.find("};").unwrap_or(group.len())];
                named.extend(group.split(',').map(|part| path_at(part.trim())));
            } else {
                named.insert(path_at(after));
            }
        }
    }
    // Each path leads to the longest prefix that is a module of this crate;
    // names that are no module (items re-exported at the root) are no edge.
    let modules: BTreeSet<String> = paths.keys().cloned().collect();
    paths
        .iter()
        .map(|(module, named)| {
            let targets = named
                .iter()
                .filter_map(|path| {
                    let mut prefix = path.as_str();
                    loop {
                        if modules.contains(prefix) {
                            return Some(prefix.to_owned());
                        }
                        prefix = &prefix[..prefix.rfind("::")?];
                    }
                })
                .filter(|target| target != module)
                .collect();
            (module.clone(), targets)
        })
        .collect()
}

/// The same graph one level up: a folder is one node.
fn folders(edges: &BTreeMap<String, BTreeSet<String>>) -> BTreeMap<String, BTreeSet<String>> {
    let top = |m: &str| m.split("::").next().unwrap().to_owned();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, targets) in edges {
        let entry = out.entry(top(module)).or_default();
        entry.extend(targets.iter().map(|t| top(t)).filter(|t| *t != top(module)));
    }
    out
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
        if let Some(found) = circle(&folders(&edges)) {
            panic!(
                "{dir}: import circle between folders {}",
                found.join(" -> ")
            );
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

#[test]
fn folders_tie_a_circle_that_files_do_not() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a::x", vec!["b::y"]),
        ("b::y", vec!["a::z"]),
        ("a::z", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(circle(&edges), None);
    assert_eq!(circle(&folders(&edges)).unwrap(), ["a", "b", "a"]);
}
