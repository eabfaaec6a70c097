//! What the C tests and the C examples share: the tools they need, the workspace, and the
//! libraries cargo built for them.
//!
//! [`libraries`] builds the C libraries from the current sources before a test links them.

#![allow(dead_code)] // each test file uses part of it

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Whether missing tools fail the tests instead of skipping them.
pub(crate) fn tools_required() -> bool {
    std::env::var_os("QATKIT_REQUIRE_TOOLS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Whether `program` runs; when not, says so (and fails if tools are required).
pub(crate) fn have(program: &str, for_what: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        let why = format!("{program} is not installed (Debian package {program}): {for_what}");
        assert!(!tools_required(), "{why} (QATKIT_REQUIRE_TOOLS is set)");
        eprintln!("skipped: {why}");
    }
    found
}

/// The workspace's directory.
pub(crate) fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
}

/// The directory holding libqatkit.a and libqatkit.so built from the current sources, with
/// this test's profile, target and features: `target/PROFILE` (or `target/TRIPLE/PROFILE`).
///
/// `cargo test` does not build them: a library without an rlib is not linked into its
/// integration tests, so cargo builds it only as the unit-test harness. The first call runs
/// `cargo build -p qatkit-capi` with this test's settings, which does nothing when the
/// libraries are up to date.
pub(crate) fn libraries() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("the test's executable");
            let dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("target/PROFILE/deps/TEST-HASH")
                .to_owned();
            let mut cargo = Command::new(env!("CARGO"));
            cargo
                .args([
                    "build",
                    "--quiet",
                    "--package",
                    "qatkit-capi",
                    "--manifest-path",
                ])
                .arg(workspace().join("Cargo.toml"));
            let profile = dir.file_name().and_then(|n| n.to_str()).expect("a profile");
            cargo.args([
                "--profile",
                if profile == "debug" { "dev" } else { profile },
            ]);
            // target/PROFILE, or target/TRIPLE/PROFILE when the tests were built with --target.
            // Cargo keeps .rustc_info.json at the top of the target directory only (CACHEDIR.TAG
            // is no sign: it is in target/TRIPLE too, and missing from a `target/` that
            // something else, such as scripts/qat-prefix, made first).
            let above = dir.parent().expect("the target directory");
            if above.join(".rustc_info.json").exists() {
                cargo.arg("--target-dir").arg(above);
            } else {
                let triple = above.file_name().expect("a target triple");
                cargo.arg("--target").arg(triple);
                cargo
                    .arg("--target-dir")
                    .arg(above.parent().expect("the target directory"));
            }
            let features: Vec<&str> = [
                ("isal", cfg!(feature = "isal")),
                ("qatzip", cfg!(feature = "qatzip")),
                ("qatlib", cfg!(feature = "qatlib")),
                ("zlib-ng", cfg!(feature = "zlib-ng")),
                ("capi", cfg!(feature = "capi")),
            ]
            .into_iter()
            .filter_map(|(name, on)| on.then_some(name))
            .collect();
            if !features.is_empty() {
                cargo.arg("--features").arg(features.join(","));
            }
            let out = cargo.output().expect("run cargo");
            assert!(
                out.status.success(),
                "{cargo:?} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            for name in ["libqatkit.a", "libqatkit.so"] {
                assert!(dir.join(name).exists(), "{name} missing after {cargo:?}");
            }
            dir
        })
        .clone()
}
