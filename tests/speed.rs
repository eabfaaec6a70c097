//! The `speed` example as a user runs it: the shape of its lines, and its exit statuses for a
//! backend that cannot serve and for bad arguments.

use std::path::Path;
use std::process::{Command, Output};

/// The example binary `cargo test` builds beside the tests.
fn speed(args: &[&str]) -> Output {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let path = dir.join("examples").join("speed");
    assert!(
        path.exists(),
        "{} missing: `cargo test` builds the examples",
        path.display()
    );
    Command::new(path).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// How many lines of `stderr` speed wrote. With `qatlib` built in and no device, qatlib's
/// probe may print lines of its own; without the feature nothing but speed writes there.
fn own_lines(stderr: &str) -> usize {
    if cfg!(feature = "qatlib") {
        stderr.lines().filter(|l| l.starts_with("speed: ")).count()
    } else {
        stderr.lines().count()
    }
}

#[test]
fn one_line_per_algorithm_and_size() {
    let out = speed(&[
        "--seconds",
        "0.05",
        "-e",
        "aes-256-gcm",
        "-e",
        "sha-256",
        "--bytes",
        "64",
        "--bytes",
        "1024",
        "--backend",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    for (line, (name, bytes)) in lines.iter().zip([
        ("AES-256-GCM", "64"),
        ("AES-256-GCM", "1024"),
        ("SHA-256", "64"),
        ("SHA-256", "1024"),
    ]) {
        // AES-256-GCM  64 bytes  1234567 ops/s  79.0 MB/s  served by cpu
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.len(), 10, "{line}");
        assert_eq!(words[..3], [name, bytes, "bytes"], "{line}");
        let ops: f64 = words[3].parse().expect(line);
        let mb: f64 = words[5].parse().expect(line);
        assert!(ops > 0.0 && mb > 0.0, "{line}");
        let expected_mb = ops * bytes.parse::<f64>().unwrap() / 1e6;
        assert!(
            (mb - expected_mb).abs() <= 0.05 + expected_mb * 1e-3,
            "{line}"
        );
        assert_eq!(words[4], "ops/s", "{line}");
        assert_eq!(words[6..], ["MB/s", "served", "by", "cpu"], "{line}");
    }
}

#[test]
fn one_line_per_public_key_algorithm_and_operation() {
    // `--bytes` sizes the symmetric algorithms' requests: the public-key ones ignore it.
    let out = speed(&[
        "--seconds",
        "0.05",
        "-e",
        "rsa2048",
        "-e",
        "X25519",
        "--bytes",
        "64",
        "--backend",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    for (line, (name, operation)) in lines.iter().zip([
        ("RSA2048", "sign"),
        ("RSA2048", "verify"),
        ("X25519", "derive"),
    ]) {
        // RSA2048  sign  2546 ops/s  served by cpu
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.len(), 7, "{line}");
        assert_eq!(words[..2], [name, operation], "{line}");
        let ops: f64 = words[2].parse().expect(line);
        assert!(ops > 0.0, "{line}");
        assert_eq!(words[3..], ["ops/s", "served", "by", "cpu"], "{line}");
    }
    // The columns line up with the symmetric algorithms' lines.
    let out = speed(&[
        "--seconds",
        "0.05",
        "-e",
        "x25519",
        "-e",
        "sha-256",
        "--bytes",
        "64",
        "--backend",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for column in ["ops/s", "served by"] {
        let at: Vec<Option<usize>> = lines.iter().map(|l| l.find(column)).collect();
        assert!(at[0].is_some() && at[0] == at[1], "{column}: {stdout}");
    }
}

#[test]
fn auto_without_a_device_is_served_by_the_cpu() {
    let out = speed(&["--seconds", "0.05", "-e", "aes-256-gcm", "--bytes", "64"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    if !cfg!(feature = "qatlib") {
        assert!(stdout.trim_end().ends_with("served by cpu"), "{stdout}");
    }
}

#[test]
fn qat_without_a_device_is_one_line_and_exit_1() {
    let out = speed(&[
        "--seconds",
        "0.05",
        "-e",
        "aes-256-gcm",
        "--bytes",
        "64",
        "--backend",
        "qat",
    ]);
    let stderr = text(&out.stderr);
    if cfg!(feature = "qatlib") && out.status.success() {
        // A device is there: it served.
        assert!(text(&out.stdout).contains("served by qat device"));
        return;
    }
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let stdout = text(&out.stdout);
    if cfg!(feature = "qatlib") {
        // qatlib prints its own complaint to stdout ("ADF_UIO_PROXY err: ... Failed to start
        // SSL"): what matters is that nothing was measured.
        assert!(!stdout.contains("MB/s"), "{stdout}");
    } else {
        assert!(stdout.is_empty(), "{stdout}");
    }
    assert_eq!(own_lines(&stderr), 1, "{stderr}");
    let line = stderr.lines().find(|l| l.starts_with("speed: ")).unwrap();
    assert!(
        line.contains("AES-256-GCM") && line.contains("qat"),
        "{line}"
    );
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["-e", "rot13"][..],
        &["-e", "rsa1024"],
        &["--bytes", "0"],
        &["--seconds", "-1"],
        &["--backend", "gpu"],
        &["-e", "aes-256-cbc", "--bytes", "100"],
    ] {
        let out = speed(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(text(&out.stderr).starts_with("error: "), "{args:?}");
    }
}
