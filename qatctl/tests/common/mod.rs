//! What the qatctl tests share: a simulated host in a state file, running qatctl, and the bad
//! input contract (exit code, one line, nothing written).
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

pub struct SimFile {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl SimFile {
    pub fn create(preset: &str, pfs: u32) -> SimFile {
        SimFile::create_with(&["--preset", preset, "--pfs", &pfs.to_string()])
    }

    pub fn create_with(options: &[&str]) -> SimFile {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.json");
        let mut args = vec!["sim", "create", path.to_str().unwrap()];
        args.extend_from_slice(options);
        let out = qatctl(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        SimFile { _dir: dir, path }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let mut full = vec!["--sim", self.path.to_str().unwrap()];
        full.extend_from_slice(args);
        qatctl(&full)
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut full = args.to_vec();
        full.push("--json");
        let out = self.run(&full);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
    }

    pub fn state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(&self.path).unwrap()).unwrap()
    }

    pub fn kernel(&self) -> Value {
        self.state()["kernel"].clone()
    }

    pub fn write_count(&self) -> usize {
        self.state()["writes"].as_array().unwrap().len()
    }
}

pub fn qatctl(args: &[&str]) -> Output {
    Command::cargo_bin("qatctl")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn assert_bad_input(sim: &SimFile, args: &[&str], code: i32, needle: &str) {
    let writes = sim.write_count();
    let out = sim.run(args);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
    assert!(err.contains(needle), "{args:?}: {err}");
    assert_eq!(sim.write_count(), writes, "{args:?} wrote to the host");
}
