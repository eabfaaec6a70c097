//! The binary as a DaemonSet runs it, on a simulated host's state file: it converges the node
//! from the config, serves a socket per resource, keeps the NFD features file, and on SIGTERM
//! removes its socket and exits 0. Bad arguments exit 2 with the reason, changing nothing.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use qat_vf::Host;
use qat_vf::sim::SimHost;

const BIN: &str = env!("CARGO_BIN_EXE_qatkit-deviceplugin");

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no {what} in time"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn it_provisions_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("host.json");
    SimHost::preset("4xxx".parse().unwrap(), 2)
        .save(&state)
        .unwrap();
    let config = dir.path().join("node.yaml");
    std::fs::write(&config, "services: [sym, dc]\n").unwrap();
    let features = dir.path().join("qatkit.features");
    let child = Command::new(BIN)
        .arg("--sim")
        .arg(&state)
        .arg("--plugin-dir")
        .arg(dir.path())
        .arg("--provision")
        .arg(&config)
        .arg("--nfd-features")
        .arg(&features)
        .args(["--interval", "100ms"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let socket = dir.path().join("qatkit-qat_intel_com_sym_dc.sock");
    wait_for("socket", || socket.exists());
    wait_for("features file", || features.exists());
    assert!(
        std::fs::read_to_string(&features)
            .unwrap()
            .contains("qat.vfs=32")
    );
    let host = Host::discover(&SimHost::load(&state).unwrap(), &[]).unwrap();
    assert!(host.pfs.iter().all(|pf| pf.vfs.len() == 16));
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{log}", out.status);
    assert!(log.contains("plan: "), "{log}");
    assert!(log.contains("SIGTERM"), "{log}");
    assert!(!socket.exists());
}

#[test]
fn bad_arguments_exit_2_with_the_reason_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("host.json");
    SimHost::preset("4xxx".parse().unwrap(), 1)
        .save(&state)
        .unwrap();
    let before = std::fs::read_to_string(&state).unwrap();
    let config = dir.path().join("node.yaml");
    std::fs::write(&config, "services: [sym, zip]\n").unwrap();
    for (args, says) in [
        (vec!["--prefix", "Bad_Prefix"], "domain"),
        (vec!["--resource-name", "qat"], "<domain>/<name>"),
        (vec!["--cdi-kind", "nokind"], "vendor.com/class"),
        (vec!["--interval", "0s"], "10ms to 3600s"),
        (vec!["--provision", config.to_str().unwrap()], "zip"),
    ] {
        let out = Command::new(BIN)
            .arg("--sim")
            .arg(&state)
            .arg("--plugin-dir")
            .arg(dir.path())
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&state).unwrap(), before);
}
