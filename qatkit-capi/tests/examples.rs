//! The C examples (examples/c) as a C user builds and runs them: compiled with `cc` against
//! libqatkit.a, then qgzip checked against gzip and lz4, on a file far larger than the memory it
//! may use, and host_status on a simulated host.
//!
//! `cc`, `gzip` and `lz4` are the system's: a check that needs a missing one is skipped with a
//! message, unless `QATKIT_REQUIRE_TOOLS` is set (CI sets it), when it fails.

mod common;

use std::fmt::Write as _;
use std::io::{BufWriter, Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::Instant;

use common::{have, workspace};
use tempfile::TempDir;

/// examples/c/`name`.c compiled as a C user would, into a new temporary directory, or `None`
/// when there is no C compiler.
fn build(name: &str) -> Option<(TempDir, PathBuf)> {
    if !have("cc", "the C examples are not built") {
        return None;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let exe = dir.path().join(name);
    compile(
        &workspace().join("examples/c").join(format!("{name}.c")),
        &exe,
    );
    Some((dir, exe))
}

/// `source` compiled and linked against libqatkit.a into `exe`.
fn compile(source: &Path, exe: &Path) {
    let out = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O2"])
        .arg(format!("-I{}", workspace().join("include").display()))
        .arg(source)
        .arg(common::libraries().join("libqatkit.a"))
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(exe)
        .output()
        .expect("run cc");
    assert!(
        out.status.success(),
        "cc {} failed:\n{}",
        source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `command` with `input` on its stdin (written from a thread of its own, so a command
/// that writes as it reads cannot block on a full pipe).
fn run(command: &mut Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    std::thread::scope(|scope| {
        // A command that fails before reading it all closes the pipe: not this thread's error.
        scope.spawn(move || {
            let _ = stdin.write_all(input);
        });
        child.wait_with_output().expect("wait for the command")
    })
}

/// Its output, after checking it succeeded with nothing on stderr.
fn ok(what: &str, out: Output) -> Vec<u8> {
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{what}: {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A failure's one stderr line, after checking the exit status and the `program: ` prefix.
fn failure(what: &str, out: &Output, program: &str, status: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(status), "{what}: {stderr}");
    let first = stderr.lines().next().unwrap_or_default().to_owned();
    assert!(
        first.starts_with(&format!("{program}: ")) && first.len() > program.len() + 2,
        "{what}: {stderr:?}"
    );
    first
}

/// Compressible text with varying numbers: `lines` lines from `first`, about 40 bytes each.
fn text(first: u64, lines: u64) -> Vec<u8> {
    let mut out = String::new();
    for i in first..first + lines {
        let value = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 44;
        writeln!(out, "record {i}: value={value} state=ok").expect("write to a String");
    }
    out.into_bytes()
}

/// gzip, both ways: qgzip's output (several members: a request is a MiB) is what `gzip -d`
/// reads, byte for byte, at the default level and at -1 and -9, from a file and from stdin;
/// qgzip -d reads `gzip -9` output and two gzip files concatenated.
#[test]
fn qgzip_writes_what_gzip_reads_and_reads_what_gzip_writes() {
    let Some((dir, qgzip)) = build("qgzip") else {
        return;
    };
    if !have("gzip", "qgzip's gzip interoperability is not checked") {
        return;
    }
    let data = text(0, 80_000); // about 3 MB: three gzip members
    let file = dir.path().join("data");
    std::fs::write(&file, &data).unwrap();

    for level in [None, Some("-1"), Some("-9")] {
        let mut command = Command::new(&qgzip);
        command.args(level).arg(&file);
        let packed = ok("qgzip FILE", run(&mut command, &[]));
        assert!(packed.len() < data.len() / 2, "{level:?}: {}", packed.len());
        let plain = ok("gzip -d", run(Command::new("gzip").arg("-dc"), &packed));
        assert!(plain == data, "{level:?}: gzip -d gives other bytes");
    }
    let packed = ok("qgzip < data", run(&mut Command::new(&qgzip), &data));
    assert!(ok("gzip -d", run(Command::new("gzip").arg("-dc"), &packed)) == data);

    let by_gzip = ok("gzip -9", run(Command::new("gzip").arg("-9c"), &data));
    let plain = ok("qgzip -d", run(Command::new(&qgzip).arg("-d"), &by_gzip));
    assert!(
        plain == data,
        "qgzip -d of gzip -9 output gives other bytes"
    );

    let second = text(1_000_000, 30_000);
    let mut two = ok("gzip", run(Command::new("gzip").arg("-c"), &data));
    two.extend(ok("gzip -1", run(Command::new("gzip").arg("-1c"), &second)));
    let plain = ok("qgzip -d", run(Command::new(&qgzip).arg("-d"), &two));
    assert!(
        plain.len() == data.len() + second.len()
            && plain[..data.len()] == data[..]
            && plain[data.len()..] == second[..],
        "qgzip -d of two gzip members gives other bytes ({} bytes)",
        plain.len()
    );
}

/// zlib, raw deflate and LZ4 round trip through qgzip; its LZ4 is what `lz4 -d` reads, and it
/// reads what `lz4` writes.
#[test]
fn qgzip_round_trips_zlib_raw_and_lz4() {
    let Some((_dir, qgzip)) = build("qgzip") else {
        return;
    };
    let data = text(0, 60_000);
    for format in ["zlib", "raw", "lz4"] {
        let levels: &[&str] = if format == "lz4" {
            &["-0", "-2"]
        } else {
            &["-1", "-9"]
        };
        for level in levels {
            let packed = ok(
                "qgzip",
                run(Command::new(&qgzip).args(["-f", format, level]), &data),
            );
            assert!(packed.len() < data.len() / 2, "{format} {level}");
            let plain = ok(
                "qgzip -d",
                run(Command::new(&qgzip).args(["-d", "-f", format]), &packed),
            );
            assert!(
                plain == data,
                "{format} {level}: the round trip changed the data"
            );
        }
    }
    if have("lz4", "qgzip's LZ4 interoperability is not checked") {
        let packed = ok(
            "qgzip -f lz4",
            run(Command::new(&qgzip).arg("-flz4"), &data),
        );
        let plain = ok(
            "lz4 -d",
            run(Command::new("lz4").args(["-d", "-c"]), &packed),
        );
        assert!(plain == data, "lz4 -d of qgzip's output gives other bytes");
        let by_lz4 = ok("lz4", run(Command::new("lz4").args(["-9", "-c"]), &data));
        let plain = ok("qgzip -d", run(Command::new(&qgzip).arg("-dflz4"), &by_lz4));
        assert!(plain == data, "qgzip -d of lz4 output gives other bytes");
    }
}

/// Failures are one `qgzip: ` line: exit 1 for bad data or a missing file, 2 for bad usage
/// (a level the format has not, an unknown option or format).
#[test]
fn qgzip_reports_failures_in_one_line() {
    let Some((dir, qgzip)) = build("qgzip") else {
        return;
    };
    let data = text(0, 10_000);
    let packed = ok("qgzip", run(&mut Command::new(&qgzip), &data));

    let out = run(Command::new(&qgzip).arg("-d"), &packed[..packed.len() / 2]);
    let line = failure("truncated gzip", &out, "qgzip", 1);
    assert!(line.contains("corrupt or truncated"), "{line}");
    let out = run(Command::new(&qgzip).arg("-d"), &data);
    failure("not gzip", &out, "qgzip", 1);
    let out = run(Command::new(&qgzip).args(["-d", "-f", "zlib"]), &packed);
    failure("gzip read as zlib", &out, "qgzip", 1);
    let missing = dir.path().join("missing");
    let out = run(Command::new(&qgzip).arg(&missing), &[]);
    let line = failure("a missing file", &out, "qgzip", 1);
    assert!(line.contains("missing"), "{line}");

    let out = run(Command::new(&qgzip).args(["-9", "-f", "lz4"]), &data);
    let line = failure("lz4 -9", &out, "qgzip", 2);
    assert!(line.contains("level"), "{line}");
    for args in [&["-x"][..], &["-f", "zip"], &["-f"], &["a", "b"]] {
        let out = run(Command::new(&qgzip).args(args), &[]);
        failure(&format!("{args:?}"), &out, "qgzip", 2);
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// The big file: this many bytes, several times the memory qgzip may use.
const BIG_BYTES: u64 = 200_000_000;

/// The address-space limit (`ulimit -v`, KiB) qgzip runs under with the big file. Measured on
/// Debian 12 (glibc 2.36, debug libqatkit.a), whatever the file's size: qgzip and qgzip -d
/// both run in 13,500 KiB and not in 12,500 (the decoder's thread and its stack included),
/// with a peak resident set of about 6.5 MB. 64 MiB leaves room for another libc or
/// allocator, and is under a third of the file: a program holding the file (or its
/// decompressed output) cannot run under it, as the dd check below shows.
const LIMIT_KIB: u64 = 64 * 1024;

/// The peak resident set a qgzip run may reach with the big file: 5 times what it was measured
/// at.
const MAX_RSS_KIB: u64 = 32 * 1024;

/// `program ARGS` under the address-space limit, through `/usr/bin/time -v -o TIME` when given.
fn limited(program: &Path, args: &[&str], time: Option<&Path>) -> Command {
    let mut command = Command::new("sh");
    command
        .args([
            "-c",
            r#"ulimit -v "$1" || exit 125; shift; exec "$@""#,
            "sh",
        ])
        .arg(LIMIT_KIB.to_string());
    if let Some(time) = time {
        command.args(["/usr/bin/time", "-v", "-o"]).arg(time);
    }
    command.arg(program).args(args);
    command
}

/// Writes about `bytes` of `text` to `path`.
fn write_big(path: &Path, bytes: u64) {
    let mut file = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let (mut written, mut line) = (0, 0);
    while written < bytes {
        let chunk = text(line, 25_000);
        file.write_all(&chunk).unwrap();
        written += chunk.len() as u64;
        line += 25_000;
    }
    file.flush().unwrap();
}

/// `sha256sum` reading `input` (a file, or a pipe from another process).
fn sha256sum(input: impl Into<Stdio>) -> Child {
    Command::new("sha256sum")
        .stdin(input)
        .stdout(Stdio::piped())
        .spawn()
        .expect("run sha256sum")
}

/// A pipeline stage's stdout, after checking it succeeded.
fn finished(what: &str, child: Child) -> Vec<u8> {
    let out = child.wait_with_output().expect("wait for a pipeline stage");
    assert!(
        out.status.success(),
        "{what}: {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The digest a `sha256sum` child printed.
fn digest(sha256sum: Child) -> String {
    let out = finished("sha256sum", sha256sum);
    let line = String::from_utf8_lossy(&out).into_owned();
    line.split_whitespace().next().expect("a digest").to_owned()
}

/// A line of `/usr/bin/time -v`'s report, after `label: `.
fn time_field(report: &str, label: &str) -> Option<String> {
    report
        .lines()
        .find_map(|l| l.trim().strip_prefix(label)?.strip_prefix(": "))
        .map(str::to_owned)
}

/// Copies `from` to every one of `to` until it ends; the byte count. A reader that stops
/// early (it failed) is dropped, and the others still get everything.
fn tee(mut from: impl Read, mut to: Vec<ChildStdin>) -> u64 {
    let mut buf = vec![0; 64 << 10];
    let mut total = 0;
    loop {
        let n = from.read(&mut buf).expect("read the compressed stream");
        if n == 0 {
            return total;
        }
        total += n as u64;
        to.retain_mut(|pipe| pipe.write_all(&buf[..n]).is_ok());
    }
}

/// A 200 MB file through `cat | qgzip | qgzip -d | sha256sum`, both qgzips under a 64 MiB
/// address-space limit that no program holding the file fits in: the same digest as the file.
/// The compressed stream also goes to `gzip -d | sha256sum`, with the same digest.
#[test]
fn qgzip_streams_a_file_larger_than_the_memory_it_may_use() {
    let Some((dir, qgzip)) = build("qgzip") else {
        return;
    };
    let gzip = have("gzip", "gzip -d of the big file is not checked");
    let big = dir.path().join("big");
    let start = Instant::now();
    write_big(&big, BIG_BYTES);
    let big_len = std::fs::metadata(&big).unwrap().len();
    eprintln!(
        "big file: {big_len} bytes, written in {:.1} s",
        start.elapsed().as_secs_f64()
    );

    // The limit is real: dd cannot take the file in one buffer under it.
    let out = Command::new("sh")
        .args([
            "-c",
            r#"ulimit -v "$1" && exec dd if="$2" of=/dev/null bs="$3" count=1"#,
        ])
        .args(["sh", &LIMIT_KIB.to_string()])
        .arg(&big)
        .arg(big_len.to_string())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("memory exhausted"),
        "dd held the whole file under ulimit -v {LIMIT_KIB}: {stderr}"
    );

    // Peak memory and time of each qgzip, when /usr/bin/time is there to measure them.
    let time = Path::new("/usr/bin/time").exists().then(|| {
        (
            dir.path().join("compress.time"),
            dir.path().join("decompress.time"),
        )
    });
    if time.is_none() {
        eprintln!("/usr/bin/time is not installed (Debian package time): peak memory not measured");
    }
    let start = Instant::now();
    let expected = sha256sum(std::fs::File::open(&big).unwrap());
    let mut cat = Command::new("cat")
        .arg(&big)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut compress = limited(&qgzip, &[], time.as_ref().map(|t| t.0.as_path()))
        .stdin(Stdio::from(cat.stdout.take().unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut decompress = limited(&qgzip, &["-d"], time.as_ref().map(|t| t.1.as_path()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let after_qgzip = sha256sum(decompress.stdout.take().unwrap());
    let mut readers = vec![decompress.stdin.take().unwrap()];
    let mut gzip = gzip.then(|| {
        Command::new("gzip")
            .arg("-dc")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    });
    let after_gzip = gzip.as_mut().map(|gzip| {
        readers.push(gzip.stdin.take().unwrap());
        sha256sum(gzip.stdout.take().unwrap())
    });
    let packed_len = tee(compress.stdout.take().unwrap(), readers);
    finished("cat", cat);
    finished("qgzip", compress);
    finished("qgzip -d", decompress);
    let after_qgzip = digest(after_qgzip);
    let after_gzip = gzip.map(|gzip| {
        finished("gzip -d", gzip);
        digest(after_gzip.expect("gzip's sha256sum"))
    });
    let expected = digest(expected);
    eprintln!(
        "cat | qgzip | qgzip -d{} | sha256sum, under ulimit -v {LIMIT_KIB}: {big_len} -> {packed_len} bytes, {:.1} s",
        if after_gzip.is_some() {
            " (and gzip -d)"
        } else {
            ""
        },
        start.elapsed().as_secs_f64()
    );
    assert_eq!(
        after_qgzip, expected,
        "qgzip -d gave other bytes than the file"
    );
    if let Some(after_gzip) = after_gzip {
        assert_eq!(
            after_gzip, expected,
            "gzip -d gave other bytes than the file"
        );
    }
    assert!(packed_len < big_len / 2, "{packed_len}");

    for (what, time) in time
        .iter()
        .flat_map(|(c, d)| [("qgzip", c), ("qgzip -d", d)])
    {
        let report = std::fs::read_to_string(time).expect("/usr/bin/time's report");
        let rss: u64 = time_field(&report, "Maximum resident set size (kbytes)")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no peak in {report}"));
        let wall = time_field(&report, "Elapsed (wall clock) time (h:mm:ss or m:ss)");
        let cpu = time_field(&report, "User time (seconds)");
        eprintln!(
            "{what}: peak resident set {rss} KiB, {} wall, {} s user",
            wall.as_deref().unwrap_or("?"),
            cpu.as_deref().unwrap_or("?")
        );
        assert!(rss < MAX_RSS_KIB, "{what}: peak resident set {rss} KiB");
    }
}

/// A tiny C program that makes a simulated host through the C ABI: `make_sim STATE PRESET
/// [DESIRED_JSON]` creates it with `qatkit_sim_create` and applies DESIRED_JSON to it with
/// `qatkit_host_apply_json`.
const MAKE_SIM_C: &str = r#"
#include <stdbool.h>
#include <stdio.h>
#include "qatkit.h"

static int failed(const char *call, qatkit_result result) {
    char message[1024];
    size_t len = 0;
    if (qatkit_last_error(message, sizeof message, &len) != QATKIT_OK) {
        message[0] = '\0';
    }
    fprintf(stderr, "make_sim: %s: %s: %s\n", call, qatkit_result_text(result), message);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: make_sim STATE PRESET [DESIRED_JSON]\n");
        return 2;
    }
    qatkit_result result = qatkit_sim_create(argv[1], argv[2], 0);
    if (result != QATKIT_OK) {
        return failed("qatkit_sim_create", result);
    }
    if (argc == 3) {
        return 0;
    }
    qatkit_host *host = NULL;
    result = qatkit_host_open_sim(argv[1], &host);
    if (result != QATKIT_OK) {
        return failed("qatkit_host_open_sim", result);
    }
    char *report = NULL;
    bool applied = false;
    result = qatkit_host_apply_json(host, argv[3], NULL, &report, &applied);
    int status = result != QATKIT_OK ? failed("qatkit_host_apply_json", result) : 0;
    if (status == 0 && !applied) {
        fprintf(stderr, "make_sim: rolled back: %s\n", report);
        status = 1;
    }
    qatkit_string_free(report);
    qatkit_host_free(host);
    return status;
}
"#;

/// A simulated host of `preset` in `state`, with `desired` (JSON) applied when given, made by
/// `make_sim` (built from [`MAKE_SIM_C`] into `dir`).
fn simulated_host(dir: &Path, state: &Path, preset: &str, desired: Option<&str>) {
    let make_sim = dir.join("make_sim");
    if !make_sim.exists() {
        let source = dir.join("make_sim.c");
        std::fs::write(&source, MAKE_SIM_C).unwrap();
        compile(&source, &make_sim);
    }
    let out = Command::new(&make_sim)
        .arg(state)
        .arg(preset)
        .args(desired)
        .output()
        .unwrap();
    ok("make_sim", out);
}

/// host_status on a simulated host: a line per 4xxx PF with its state, services and VF counts,
/// under it a line per VF with its driver, IOMMU group and /dev/vfio node; `--json` is
/// qatctl's document; a missing state file is a one-line failure. Also `--root` (an empty
/// directory, a missing one) and the real host.
#[test]
fn host_status_lists_a_simulated_hosts_pfs_and_vfs() {
    let Some((dir, host_status)) = build("host_status") else {
        return;
    };
    let fresh = dir.path().join("fresh.json");
    simulated_host(dir.path(), &fresh, "4xxx", None);
    let table = ok(
        "host_status --sim",
        run(Command::new(&host_status).arg("--sim").arg(&fresh), &[]),
    );
    let table = String::from_utf8(table).unwrap();
    let pfs: Vec<&str> = table.lines().filter(|l| l.contains(" 4xxx ")).collect();
    assert_eq!(pfs.len(), 2, "{table}");
    for pf in &pfs {
        let fields: Vec<&str> = pf.split_whitespace().collect();
        // PF FAMILY DRIVER NUMA STATE SERVICES TOTALVFS NUMVFS
        assert_eq!(fields.len(), 8, "{pf}");
        assert_eq!((fields[1], fields[4]), ("4xxx", "up"), "{pf}");
        assert_eq!((fields[6], fields[7]), ("16", "0"), "{pf}");
    }
    assert!(pfs[0].starts_with("0000:6b:00.0 "), "{table}");
    assert!(!table.contains("vfio-pci"), "{table}");

    // VFs enabled and bound to vfio-pci, their nodes group 990 and mode 0660.
    let enabled = dir.path().join("enabled.json");
    simulated_host(
        dir.path(),
        &enabled,
        "4xxx",
        Some(r#"{"driver": "vfio-pci", "vfio_access": {"gid": 990, "mode": 432}}"#),
    );
    let table = ok(
        "host_status --sim",
        run(Command::new(&host_status).arg("--sim").arg(&enabled), &[]),
    );
    let table = String::from_utf8(table).unwrap();
    let pfs: Vec<Vec<&str>> = table
        .lines()
        .filter(|l| l.contains(" 4xxx "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(pfs.len(), 2, "{table}");
    for pf in &pfs {
        assert_eq!((pf[6], pf[7]), ("16", "16"), "{table}");
    }
    let vfs: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("  0000:") && l.contains(" vfio-pci "))
        .collect();
    assert_eq!(vfs.len(), 32, "{table}");
    for vf in &vfs {
        assert!(vf.contains(" 0660 (uid 0, gid 990)"), "{vf}");
        let group = vf.split_whitespace().nth(2).unwrap();
        assert!(group.parse::<u32>().is_ok(), "{vf}");
    }
    assert!(table.contains("  0000:6b:00.1 "), "{table}");

    let json = ok(
        "host_status --json",
        run(
            Command::new(&host_status)
                .args(["--json", "--sim"])
                .arg(&enabled),
            &[],
        ),
    );
    let status: serde_json::Value = serde_json::from_slice(&json).expect("--json prints JSON");
    let pfs = status["pfs"].as_array().expect("\"pfs\": an array");
    assert_eq!(pfs.len(), 2, "{status}");
    assert_eq!(pfs[0]["bdf"], "0000:6b:00.0", "{status}");
    assert_eq!(pfs[0]["vfs"].as_array().map(Vec::len), Some(16), "{status}");

    let out = run(
        Command::new(&host_status)
            .arg("--sim")
            .arg(dir.path().join("missing.json")),
        &[],
    );
    let line = failure("a missing state file", &out, "host_status", 1);
    assert!(line.contains("missing.json"), "{line}");
    let out = run(Command::new(&host_status).arg("--bogus"), &[]);
    failure("--bogus", &out, "host_status", 2);

    // A directory shaped like a host: an empty one has no devices; a missing one is an error.
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let table = ok(
        "host_status --root",
        run(Command::new(&host_status).arg("--root").arg(&root), &[]),
    );
    assert_eq!(String::from_utf8_lossy(&table), "no QAT devices found\n");
    let out = run(
        Command::new(&host_status)
            .arg("--root")
            .arg(dir.path().join("nowhere")),
        &[],
    );
    let line = failure("a missing root", &out, "host_status", 1);
    assert!(line.contains("nowhere"), "{line}");

    // The real host, whatever it has: a table (or "no QAT devices found"), or one line why not.
    let out = run(&mut Command::new(&host_status), &[]);
    if out.status.success() {
        assert!(!out.stdout.is_empty());
    } else {
        failure("the real host", &out, "host_status", 1);
    }
}
