//! `docs/steps.md`, the reference of step kinds, is generated from the
//! `//!` docs of the modules under `conformance/src/steps/` and must match
//! them. Regenerate with `UPDATE_STEP_DOCS=1 cargo test -p conformance
//! --test step_docs`. Every step kind has its module, and every module's
//! doc opens with its `kind`.

use std::path::{Path, PathBuf};

fn steps_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/steps")
}

/// (kind, the module's `//!` text) for every step module, by kind.
fn step_modules() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(steps_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if matches!(name.as_str(), "mod" | "step_error") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: Vec<&str> = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .map(|l| {
                l.strip_prefix("//!")
                    .unwrap()
                    .strip_prefix(' ')
                    .unwrap_or("")
            })
            .collect();
        out.push((name, doc.join("\n")));
    }
    out.sort();
    out
}

fn render() -> String {
    let mut md = String::from(
        "# Step kinds\n\n\
         Generated from the module docs of `conformance/src/steps/` by\n\
         `UPDATE_STEP_DOCS=1 cargo test -p conformance --test step_docs`; do not\n\
         edit by hand. A scenario's `[[step]]` tables pick one with `kind`;\n\
         unknown fields are refused when the scenario loads.\n",
    );
    for (kind, doc) in step_modules() {
        md.push_str(&format!("\n## `{kind}`\n\n{doc}\n"));
    }
    md
}

#[test]
fn every_step_module_documents_its_kind() {
    let modules = step_modules();
    assert!(modules.len() >= 15, "{} step modules", modules.len());
    let dispatcher = std::fs::read_to_string(steps_dir().join("mod.rs")).unwrap();
    for (kind, doc) in &modules {
        assert!(
            doc.starts_with(&format!("`kind = \"{kind}\"`")),
            "steps/{kind}.rs: the doc must open with `kind = \"{kind}\"`"
        );
        assert!(
            doc.contains("```toml"),
            "steps/{kind}.rs: the doc needs an example"
        );
        let variant: String = kind
            .split('_')
            .map(|w| w[..1].to_uppercase() + &w[1..])
            .collect();
        assert!(
            dispatcher.contains(&format!("    {variant}(")),
            "steps/{kind}.rs has no `Step::{variant}`"
        );
    }
}

/// Each module's example is a step that loads.
#[test]
fn every_example_parses_as_its_kind() {
    #[derive(serde::Deserialize)]
    struct Example {
        step: Vec<conformance::steps::Step>,
    }
    for (kind, doc) in step_modules() {
        let toml_text = doc
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .unwrap_or_else(|| panic!("steps/{kind}.rs has no toml example"));
        let example: Example = toml::from_str(toml_text)
            .unwrap_or_else(|e| panic!("steps/{kind}.rs: its example does not load: {e}"));
        let json = serde_json::to_value(&example.step[0]).unwrap();
        assert_eq!(json["kind"], kind.as_str(), "steps/{kind}.rs");
    }
}

#[test]
fn the_step_reference_is_fresh() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/steps.md");
    let want = render();
    if std::env::var("UPDATE_STEP_DOCS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/steps.md is stale: UPDATE_STEP_DOCS=1 cargo test -p conformance --test step_docs"
    );
}
