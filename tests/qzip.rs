//! The `qzip` example as a user runs it: output names, no overwriting without `-f`, round trips
//! through gzip and lz4, and bad input leaving nothing behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The example binary `cargo test` builds beside the tests.
fn qzip() -> Command {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let path = dir.join("examples").join("qzip");
    assert!(
        path.exists(),
        "{} missing: `cargo test` builds the examples",
        path.display()
    );
    Command::new(path)
}

fn run(args: &[&str], dir: &Path) -> Output {
    qzip().args(args).current_dir(dir).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// What `program ARGS` prints in `dir`; `None` when it is not installed (the check is skipped,
/// unless `QATKIT_REQUIRE_TOOLS` is set, as CI does).
fn tool(program: &str, args: &[&str], dir: &Path) -> Option<Vec<u8>> {
    match Command::new(program).args(args).current_dir(dir).output() {
        Ok(out) => {
            assert!(out.status.success(), "{program} {args:?} failed");
            Some(out.stdout)
        }
        Err(e) => {
            let why = format!("{program}: {e} (Debian package {program})");
            assert!(std::env::var_os("QATKIT_REQUIRE_TOOLS").is_none(), "{why}");
            eprintln!("skipped a check: {why}");
            None
        }
    }
}

fn sample() -> Vec<u8> {
    (0..200_000u32)
        .map(|i| b"qat offload compress\n"[(i % 21) as usize] ^ ((i / 4096) as u8 & 1))
        .collect()
}

/// How many lines of `stderr` qzip wrote. With `qatzip` built in and no device, qatlib (under
/// QATzip's device probe) prints a line of its own, "Cannot open /dev/vfio", which QATzip's log
/// level does not reach; without the feature nothing but qzip writes there.
fn own_lines(stderr: &str) -> usize {
    if cfg!(feature = "qatzip") {
        stderr.lines().filter(|l| l.starts_with("qzip: ")).count()
    } else {
        stderr.lines().count()
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names
}

#[test]
fn compresses_to_file_gz_and_gzip_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data"), sample()).unwrap();
    let out = run(&["data"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stderr(&out);
    assert!(line.contains("served by cpu"), "{line}");
    assert!(line.contains("MB/s"), "{line}");
    assert_eq!(own_lines(&line), 1, "{line}");
    if let Some(plain) = tool("gzip", &["-dc", "data.gz"], dir.path()) {
        assert_eq!(plain, sample());
    }
}

#[test]
fn every_format_round_trips_and_lz4_reads_its_output() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data"), sample()).unwrap();
    for (format, suffix) in [
        ("gzip", "gz"),
        ("zlib", "zz"),
        ("raw", "deflate"),
        ("lz4", "lz4"),
    ] {
        let packed = format!("data.{suffix}");
        let out = run(&["-k", "-O", format, "-L", "1", "data"], dir.path());
        assert!(out.status.success(), "{format}: {}", stderr(&out));
        let back = format!("back.{format}");
        // -d takes the format from the suffix.
        let out = run(&["-d", "-k", "-o", &back, &packed], dir.path());
        assert!(out.status.success(), "{format}: {}", stderr(&out));
        assert_eq!(std::fs::read(dir.path().join(&back)).unwrap(), sample());
    }
    if let Some(plain) = tool("lz4", &["-dc", "data.lz4"], dir.path()) {
        assert_eq!(plain, sample());
    }
}

#[test]
fn an_existing_output_is_replaced_only_with_force() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data"), sample()).unwrap();
    std::fs::write(dir.path().join("data.gz"), b"precious").unwrap();
    let out = run(&["data"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("exists (use -f"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(dir.path().join("data.gz")).unwrap(),
        b"precious"
    );
    let out = run(&["-f", "data"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["-d", "-f", "data.gz"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(dir.path().join("data")).unwrap(), sample());
}

#[test]
fn corrupt_input_fails_in_one_line_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data"), sample()).unwrap();
    assert!(run(&["data"], dir.path()).status.success());
    let mut packed = std::fs::read(dir.path().join("data.gz")).unwrap();
    let middle = packed.len() / 2;
    packed[middle] ^= 0x55;
    std::fs::write(dir.path().join("bad.gz"), &packed).unwrap();
    let before = files(dir.path());
    let out = run(&["-d", "bad.gz"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let line = stderr(&out);
    assert_eq!(own_lines(&line), 1, "{line}");
    // The message says what was being done, not "compression failed".
    assert!(
        line.contains("decompressing gzip: data is corrupt"),
        "{line}"
    );
    assert_eq!(
        files(dir.path()),
        before,
        "no output or temporary file is left"
    );
}

#[test]
fn bad_arguments_exit_2_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.txt"), sample()).unwrap();
    let before = files(dir.path());
    // -d on a name without a known suffix.
    let out = run(&["-d", "data.txt"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("unknown suffix"), "{}", stderr(&out));
    // A level the format does not have, a backend that does not exist, a missing file.
    let out = run(&["-L", "13", "data.txt"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no level 13"), "{}", stderr(&out));
    let out = run(&["--backend", "gpu", "data.txt"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = run(&["missing"], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(files(dir.path()), before);
}

#[test]
fn the_qat_backend_is_refused_when_not_built_in() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data"), sample()).unwrap();
    let out = run(&["-k", "--backend", "qat", "data"], dir.path());
    if cfg!(feature = "qatzip") {
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stderr(&out).contains("served by q"), "{}", stderr(&out));
        // QATzip tears itself down at process exit: sessions held by worker threads once
        // raced it into a crash about one run in three.
        for _ in 0..8 {
            let out = run(&["-k", "-f", "--backend", "qat", "data"], dir.path());
            assert!(out.status.success(), "{:?} {}", out.status, stderr(&out));
        }
    } else {
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr(&out).contains("without the `qatzip` feature"),
            "{}",
            stderr(&out)
        );
        assert!(!dir.path().join("data.gz").exists());
    }
}
