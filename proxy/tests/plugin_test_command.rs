//! `vigie plugin test`: the example plugins' `requests.yaml` files run offline through the
//! built plugins and every expectation holds; a missed expectation exits 1, an unusable file
//! or plugin exits 2 naming what is wrong.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{TempDir, plugin_wasm};

/// Runs `vigie plugin test` on the example's file, its module replaced by the built one.
fn run_example(example: &str, module: &str, edit: impl Fn(String) -> String) -> Output {
    let dir = TempDir::new();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins")
        .join(example)
        .join("requests.yaml");
    let text = std::fs::read_to_string(&shipped).unwrap();
    let built = plugin_wasm(module).display().to_string();
    let text = text.replace(
        &format!("../target/wasm32-wasip1/release/{module}.wasm"),
        &built,
    );
    assert!(
        text.contains(&built),
        "{example}/requests.yaml names its module"
    );
    let file = dir.write("requests.yaml", edit(text));
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["plugin", "test"])
        .arg(&file)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_examples_request_files_pass() {
    for (example, module) in [
        ("children-only", "children_only"),
        ("campaign-window", "campaign_window"),
        ("directory-check", "directory_check"),
    ] {
        let out = run_example(example, module, |t| t);
        let report = stdout(&out);
        assert!(
            out.status.success(),
            "{example}:\n{report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!report.contains("FAILED"), "{report}");
        assert!(report.contains("expect status"), "{report}");
    }
    let out = run_example("children-only", "children_only", |t| t);
    let report = stdout(&out);
    assert!(
        report.contains("[2] a parent opens another child's livret"),
        "{report}"
    );
    assert!(
        report.contains("<- answered by the plugin: 403"),
        "{report}"
    );
    assert!(
        report.contains("-> forwarded upstream (unchanged)"),
        "{report}"
    );
}

#[test]
fn a_missed_expectation_exits_1_and_a_broken_file_exits_2() {
    let out = run_example("children-only", "children_only", |t| {
        t.replacen(
            "expect: { status: 200, forwarded: true }",
            "expect: { status: 418 }",
            1,
        )
    });
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("expect status 418: FAILED"),
        "{}",
        stdout(&out)
    );

    let dir = TempDir::new();
    let file = dir.write(
        "requests.yaml",
        "plugin: { module: missing.wasm }\nrequests: []\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["plugin", "test"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.wasm"));

    let out = run_example("children-only", "children_only", |t| {
        t.replace("requests:", "requestz:")
    });
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("requestz"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
