//! The `plugins/` workspace built for `wasm32-wasip1`, once per test binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn plugins_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins")
}

/// Runs `cargo ARGS` in `plugins/` with its own target folder under the tests' tmp dir; the
/// target folder.
pub fn plugins_cargo(args: &[&str]) -> PathBuf {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("plugins");
    let out = Command::new(env!("CARGO"))
        .args(args)
        .arg("--target-dir")
        .arg(&target)
        .current_dir(plugins_dir())
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo");
    assert!(
        out.status.success(),
        "cargo {args:?} in plugins/ failed (is the wasm32-wasip1 target installed? .ci/prepare adds it):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    target
}

/// The module of plugin crate `name` (with `_`), built in release for `wasm32-wasip1`.
pub fn plugin_wasm(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let target =
        BUILT.get_or_init(|| plugins_cargo(&["build", "--release", "--target", "wasm32-wasip1"]));
    let path = target.join(format!("wasm32-wasip1/release/{name}.wasm"));
    assert!(path.exists(), "{} was not built", path.display());
    path
}
