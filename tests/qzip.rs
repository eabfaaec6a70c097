//! The `qzip` example as a user runs it: output names, no overwriting without `-f`, round trips
//! through gzip and lz4, and bad input leaving nothing behind; and gzip's manners (issue 13):
//! devices, FIFOs and symlinks as outputs, bounded memory, nothing left by signals, the input's
//! mode and times, counted sizes, `-T`, `-c`, stdin and terminals.

use std::fs::{File, FileTimes, OpenOptions, Permissions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{
    FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _,
};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::unistd::{Pid, mkfifo};
use qatkit::compress::{Format, decompress};

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
    // The big sample's bad member comes after 1 MiB of good output: a partial output to remove.
    for (data, named) in [
        (sample(), false),
        (big_sample(), false),
        (big_sample(), true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("data"), &data).unwrap();
        assert!(run(&["data"], dir.path()).status.success());
        let mut packed = std::fs::read(dir.path().join("data.gz")).unwrap();
        let middle = packed.len() / 2;
        packed[middle] ^= 0x55;
        std::fs::write(dir.path().join("bad.gz"), &packed).unwrap();
        let before = files(dir.path());
        let out = qzip_in(dir.path(), named)
            .args(["-d", "bad.gz"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let line = stderr(&out);
        assert_eq!(own_lines(&line), 1, "{line}");
        // The message says what was being done, not "compression failed".
        assert!(
            line.contains("bad.gz: decompressing gzip: data is corrupt"),
            "{line}"
        );
        assert_eq!(
            files(dir.path()),
            before,
            "no output or temporary file is left, the input is kept"
        );
    }
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

/// `qzip` in `dir`, writing regular files through O_TMPFILE or, with `named`, through the
/// named temporary file that filesystems without O_TMPFILE get.
fn qzip_in(dir: &Path, named: bool) -> Command {
    let mut command = qzip();
    command.current_dir(dir);
    if named {
        command.env("QZIP_NAMED_TEMP", "1");
    }
    command
}

fn gunzip(packed: &[u8]) -> Vec<u8> {
    decompress(Format::Gzip, packed, 1 << 30).unwrap()
}

/// A check that needs what the machine may not offer (root, a tool); skipped unless
/// `QATKIT_REQUIRE_TOOLS` is set, as CI does.
fn skip(why: &str) {
    assert!(std::env::var_os("QATKIT_REQUIRE_TOOLS").is_none(), "{why}");
    eprintln!("skipped a check: {why}");
}

#[test]
fn a_character_device_output_is_written_into_not_replaced() {
    // Issue 13: `qzip -f -o /dev/null FILE` replaced /dev/null with a regular file. A null
    // device of the test's own stands in for it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data"), sample()).unwrap();
    let null = dir.path().join("null");
    let dev = nix::sys::stat::makedev(1, 3);
    if let Err(e) = nix::sys::stat::mknod(
        &null,
        nix::sys::stat::SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        dev,
    ) {
        return skip(&format!("mknod: {e} (needs root)"));
    }
    let mode = std::fs::metadata(&null).unwrap().mode();
    for args in [&["-f", "-o", "null", "data"][..], &["-o", "null", "data"]] {
        let out = run(args, dir.path());
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let meta = std::fs::symlink_metadata(&null).unwrap();
        assert!(meta.file_type().is_char_device(), "{args:?}: {meta:?}");
        assert_eq!(meta.rdev(), dev);
        assert_eq!(meta.mode(), mode);
    }
    // Output into a device keeps the input.
    assert_eq!(std::fs::read(dir.path().join("data")).unwrap(), sample());
    assert_eq!(files(dir.path()), [dir.path().join("data"), null]);
}

#[test]
fn a_fifo_output_is_written_in_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data"), sample()).unwrap();
    let fifo = dir.path().join("out.gz");
    mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let out = run(&["-o", "out.gz", "data"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(gunzip(&reader.join().unwrap()), sample());
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert_eq!(files(dir.path()), [dir.path().join("data"), fifo]);
}

#[test]
fn a_symlink_output_writes_its_target() {
    // Issue 13: a symlink given as -o was replaced, its target untouched.
    for named in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        std::fs::write(path("data"), sample()).unwrap();
        std::fs::write(path("real.gz"), b"old").unwrap();
        std::os::unix::fs::symlink("real.gz", path("link.gz")).unwrap();
        // A dangling link: its target is created.
        std::os::unix::fs::symlink("new.gz", path("dangling.gz")).unwrap();
        let out = qzip_in(dir.path(), named)
            .args(["-k", "-o", "link.gz", "data"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "an existing target needs -f");
        assert!(
            stderr(&out).contains("link.gz: exists (use -f"),
            "{}",
            stderr(&out)
        );
        for args in [
            ["-k", "-f", "-o", "link.gz", "data"],
            ["-k", "-f", "-o", "dangling.gz", "data"],
        ] {
            let out = qzip_in(dir.path(), named).args(args).output().unwrap();
            assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        }
        assert_eq!(
            std::fs::read_link(path("link.gz")).unwrap(),
            Path::new("real.gz")
        );
        assert_eq!(
            std::fs::read_link(path("dangling.gz")).unwrap(),
            Path::new("new.gz")
        );
        assert_eq!(gunzip(&std::fs::read(path("real.gz")).unwrap()), sample());
        assert_eq!(gunzip(&std::fs::read(path("new.gz")).unwrap()), sample());
        let names = ["dangling.gz", "data", "link.gz", "new.gz", "real.gz"];
        assert_eq!(files(dir.path()), names.map(path));
    }
}

#[test]
fn dev_stdout_as_output_writes_the_pipe() {
    // Issue 13: `-o /dev/stdout` could not work (the symlink was to be replaced). Without -f
    // a regression refuses ("exists") rather than touch /dev.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data"), sample()).unwrap();
    let out = run(&["-o", "/dev/stdout", "data"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(gunzip(&out.stdout), sample());
    assert!(
        std::fs::symlink_metadata("/dev/stdout")
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        files(dir.path()),
        [dir.path().join("data")],
        "written into the pipe, input kept"
    );
}

/// The peak resident set of the running process `pid` in KiB: VmHWM, its own since its exec
/// (wait4's and getrusage's ru_maxrss count the test process's memory at the fork too).
fn peak_rss_kib(pid: u32) -> u64 {
    peak_rss_while_running(pid).expect("the process is running")
}

/// [`peak_rss_kib`], `None` once the process has exited (a zombie has no memory to show).
fn peak_rss_while_running(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB");
    Some(kib.trim().parse().unwrap())
}

#[test]
fn decompression_streams_a_bomb_in_bounded_memory() {
    // Issue 13: `qzip -d` read the whole file and decompressed it in one request, 2.1 GB for a
    // 2 MB bomb. 200 gzip members of 1 MiB of zeros: 200 MiB from a small file.
    let dir = tempfile::tempdir().unwrap();
    let member = qatkit::compress::compress(Format::Gzip, 1, &vec![0; 1 << 20]).unwrap();
    std::fs::write(dir.path().join("bomb.gz"), member.repeat(200)).unwrap();
    let mut child = qzip()
        .args(["-d", "-c", "bomb.gz"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let head = std::io::copy(&mut (&mut stdout).take(199 << 20), &mut std::io::sink()).unwrap();
    // qzip cannot end before its last MiB is read: it is there to be measured.
    let kib = peak_rss_kib(child.id());
    let tail = std::io::copy(&mut stdout, &mut std::io::sink()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(head + tail, 200 << 20);
    assert!(kib < 64 << 10, "peak RSS {kib} KiB decompressing 200 MiB");
}

/// Runs `qzip ARGS` in `dir` with its stdout piped, and returns that output and the peak
/// resident set it reached, measured at every MiB of output read while it runs.
fn output_and_peak_rss(args: &[&str], dir: &Path) -> (Vec<u8>, u64) {
    let mut child = qzip()
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut out = Vec::new();
    let mut peak = 0;
    let mut chunk = vec![0; 1 << 20];
    loop {
        // Measured after every MiB, while the child is still writing.
        peak = peak.max(peak_rss_while_running(child.id()).unwrap_or(0));
        let n = stdout.read(&mut chunk).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
    }
    let status = child.wait_with_output().unwrap();
    assert!(status.status.success(), "{}", stderr(&status));
    (out, peak)
}

#[test]
fn a_file_of_many_mapped_windows_round_trips_in_bounded_memory() {
    // Regular files are read in mapped windows of 8 MiB, unmapped as they are done with: 40
    // MiB (compressing about 2:1, in 1 MiB requests whose members span the windows' edges)
    // through qzip and back, memory bounded well below the file's size either way.
    let dir = tempfile::tempdir().unwrap();
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let data: Vec<u8> = (0..40 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b"qatkit windows"[(x % 14) as usize] ^ ((x >> 60) as u8 & 1)
        })
        .collect();
    std::fs::write(dir.path().join("data"), &data).unwrap();
    let (packed, peak) = output_and_peak_rss(&["-k", "-c", "-T", "2", "data"], dir.path());
    assert!(peak < 48 << 10, "peak RSS {peak} KiB compressing 40 MiB");
    assert!(gunzip(&packed) == data);
    std::fs::write(dir.path().join("data.gz"), &packed).unwrap();
    let (unpacked, peak) = output_and_peak_rss(&["-d", "-c", "-T", "2", "data.gz"], dir.path());
    assert!(
        peak < 48 << 10,
        "peak RSS {peak} KiB decompressing to 40 MiB"
    );
    assert!(unpacked == data);
}

/// 3 MiB that do not compress: more than a request, and the output is more than qzip buffers.
fn big_sample() -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    (0..3 << 20)
        .map(|_| {
            // xorshift64
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Writes `data` into the FIFO at `path` once `child` opens it for reading, and returns the
/// writing end still open: the child gets no end of input until it is dropped. Non-blocking,
/// so that a child that never opens or reads its end fails the test instead of hanging it.
fn feed(path: &Path, data: &[u8], child: &mut Child) -> File {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut wait = || {
        assert!(child.try_wait().unwrap().is_none(), "qzip ended early");
        assert!(Instant::now() < deadline, "qzip does not read its input");
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut fifo = loop {
        let opened = OpenOptions::new()
            .write(true)
            .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
            .open(path);
        match opened {
            Ok(fifo) => break fifo,
            // No reader yet.
            Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ENXIO as i32) => wait(),
            Err(e) => panic!("opening {}: {e}", path.display()),
        }
    };
    let mut rest = data;
    while !rest.is_empty() {
        match fifo.write(rest) {
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => wait(),
            Err(e) => panic!("writing {}: {e}", path.display()),
        }
    }
    fifo
}

/// Starts `qzip ARGS` in `dir` on a FIFO named by the last argument and feeds it `data`: qzip,
/// waiting for more, and the FIFO's writing end.
fn start_on_fifo(dir: &Path, named: bool, args: &[&str], data: &[u8]) -> (Child, File) {
    let input = dir.join(args.last().unwrap());
    mkfifo(&input, Mode::from_bits_truncate(0o600)).unwrap();
    let mut command = qzip_in(dir, named);
    // A shell that started the tests in the background (as CI may be) leaves SIGINT and SIGHUP
    // ignored, which qzip respects as gzip does: the child gets the default actions back.
    // SAFETY: the closure runs between fork and exec and calls only signal(2), which is
    // async-signal-safe; it allocates nothing.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
                nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigDfl)
                    .map_err(std::io::Error::from)?;
            }
            Ok(())
        })
    };
    let mut child = command.args(args).stderr(Stdio::null()).spawn().unwrap();
    let fifo = feed(&input, data, &mut child);
    (child, fifo)
}

/// Starts qzip as [`start_on_fifo`] does and sends it `signal` while it waits for more; its
/// exit status.
fn interrupt(dir: &Path, named: bool, args: &[&str], data: &[u8], signal: Signal) -> ExitStatus {
    let input = dir.join(args.last().unwrap());
    let (mut child, fifo) = start_on_fifo(dir, named, args, data);
    if named {
        // Mid-run there is a partial output to remove, once qzip has written some.
        let deadline = Instant::now() + Duration::from_secs(120);
        while !files(dir).iter().any(|f| {
            let temp = f
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".qzip");
            temp && f.metadata().unwrap().len() > 0
        }) {
            assert!(
                Instant::now() < deadline,
                "no partial output: {:?}",
                files(dir)
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    } else {
        assert_eq!(
            files(dir),
            std::slice::from_ref(&input),
            "an O_TMPFILE has no name"
        );
    }
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
    // A qzip that outlives the signal fails the test instead of hanging it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("qzip is still running 60 s after {signal}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    drop(fifo);
    status
}

#[test]
fn a_signal_mid_run_leaves_nothing_and_qzip_dies_of_it() {
    // Issue 13: SIGINT, SIGTERM or an abort left MB-sized temporary files next to the output.
    let data = big_sample();
    let packed = qatkit::compress::compress(Format::Gzip, 1, &data).unwrap();
    for named in [false, true] {
        for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
            // One thread: output follows input as it arrives (with more, what workers finish
            // while qzip waits for input goes out when more comes or the input ends).
            let cases = [
                (&["-T", "1", "in"][..], &data),
                (&["-T", "1", "-d", "in.gz"], &packed),
            ];
            for (args, data) in cases {
                let dir = tempfile::tempdir().unwrap();
                let status = interrupt(dir.path(), named, args, data, signal);
                let input = dir.path().join(args.last().unwrap());
                let case = format!("{signal} {args:?} named {named}");
                assert_eq!(status.signal(), Some(signal as i32), "{case}: {status:?}");
                assert_eq!(files(dir.path()), [input], "{case}");
            }
        }
    }
}

#[test]
fn sigkill_mid_run_leaves_nothing() {
    // Issue 13: an abort (a bomb under `ulimit -v`) left `.tmpXXXXXX` behind. Nothing runs on
    // SIGKILL: the unnamed O_TMPFILE is what leaves nothing.
    let dir = tempfile::tempdir().unwrap();
    let status = interrupt(
        dir.path(),
        false,
        &["-T", "1", "in"],
        &big_sample(),
        Signal::SIGKILL,
    );
    assert_eq!(status.signal(), Some(Signal::SIGKILL as i32));
    assert_eq!(files(dir.path()), [dir.path().join("in")]);
}

#[test]
fn the_output_keeps_the_inputs_mode_and_times_also_over_an_existing_file() {
    // Issue 13: the output was mode 0600 with the current mtime, and -f changed the mode of
    // the file it replaced.
    let atime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_100_000_000);
    for named in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        let mut data = File::create(path("data")).unwrap();
        data.write_all(&sample()).unwrap();
        data.set_permissions(Permissions::from_mode(0o604)).unwrap();
        data.set_times(FileTimes::new().set_accessed(atime).set_modified(mtime))
            .unwrap();
        std::fs::write(path("old"), b"to be replaced").unwrap();
        std::fs::set_permissions(path("old"), Permissions::from_mode(0o600)).unwrap();
        let qz = |args: &[&str]| {
            let out = qzip_in(dir.path(), named).args(args).output().unwrap();
            assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        };
        let like_data = |name: &str| {
            let meta = std::fs::metadata(path(name)).unwrap();
            assert_eq!(meta.mode() & 0o7777, 0o604, "{name} named {named}");
            assert_eq!(meta.accessed().unwrap(), atime, "{name} named {named}");
            assert_eq!(meta.modified().unwrap(), mtime, "{name} named {named}");
        };
        qz(&["data"]);
        like_data("data.gz");
        qz(&["-d", "-k", "-f", "-o", "old", "data.gz"]);
        like_data("old");
        assert_eq!(std::fs::read(path("old")).unwrap(), sample());
        // From stdin: what creating the file anew gives, 0666 less the umask.
        let mut command = Command::new("sh");
        command
            .args(["-c", "umask 027 && exec \"$0\" -o from-stdin"])
            .arg(qzip().get_program())
            .current_dir(dir.path())
            .stdin(File::open(path("old")).unwrap());
        if named {
            command.env("QZIP_NAMED_TEMP", "1");
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let meta = std::fs::metadata(path("from-stdin")).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o640, "named {named}");
    }
}

#[test]
fn the_input_is_removed_once_written_unless_kept_or_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("data"), sample()).unwrap();
    // -k keeps it; so does writing stdout.
    for args in [&["-k", "data"][..], &["-c", "data"]] {
        let out = run(args, dir.path());
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert_eq!(std::fs::read(path("data")).unwrap(), sample(), "{args:?}");
    }
    let out = run(&["-f", "data"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(files(dir.path()), [path("data.gz")]);
    let out = run(&["-d", "data.gz"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(files(dir.path()), [path("data")]);
    assert_eq!(std::fs::read(path("data")).unwrap(), sample());
}

#[test]
fn the_output_may_not_be_the_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data"), sample()).unwrap();
    std::os::unix::fs::symlink("data", dir.path().join("link")).unwrap();
    for output in ["data", "link"] {
        let out = run(&["-f", "-o", output, "data"], dir.path());
        assert_eq!(out.status.code(), Some(1), "{output}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("is the input file"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(std::fs::read(dir.path().join("data")).unwrap(), sample());
}

/// Runs `qzip ARGS` with `input` on stdin (written from a thread: qzip's stdout may fill up
/// first); its output.
fn run_with_stdin(args: &[&str], dir: &Path, input: Vec<u8>) -> Output {
    let mut child = qzip()
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
}

/// The `A -> B bytes, ratio R` part of qzip's line for `raw` bytes in `packed`.
fn sizes(read: usize, written: usize, raw: usize, packed: usize) -> String {
    format!(
        "{read} -> {written} bytes, ratio {:.2}",
        raw as f64 / packed as f64
    )
}

#[test]
fn stdin_from_a_file_is_read_from_where_it_stands_and_left_at_its_end() {
    // Regular files are mapped, but stdin redirected from one shares its offset with the
    // commands around qzip: qzip reads from that offset and leaves it at the end, as reading
    // would.
    let dir = tempfile::tempdir().unwrap();
    let data = sample();
    std::fs::write(dir.path().join("data"), &data).unwrap();
    let qzip = qzip().get_program().to_owned();
    let qzip = qzip.to_str().unwrap();
    for (skip, read_first) in [(0, ""), (5, "dd bs=5 count=1 of=/dev/null 2>/dev/null; ")] {
        let script = format!("{{ {read_first}{qzip} -c > out.gz; cat > rest; }} < data");
        let status = Command::new("sh")
            .args(["-c", &script])
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "{script}");
        let packed = std::fs::read(dir.path().join("out.gz")).unwrap();
        assert!(gunzip(&packed) == data[skip..], "{script}");
        let rest = std::fs::read(dir.path().join("rest")).unwrap();
        assert!(rest.is_empty(), "{script}: {} bytes left", rest.len());
    }
}

#[test]
fn stdin_and_no_file_read_stdin_and_write_stdout() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&[][..], &["-"]] {
        let out = run_with_stdin(args, dir.path(), sample());
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert_eq!(gunzip(&out.stdout), sample());
        let line = stderr(&out);
        assert!(line.contains("qzip: stdin -> stdout: gzip, "), "{line}");
        // Issue 13: sizes came from metadata, 0 for anything but a regular file.
        let (raw, packed) = (sample().len(), out.stdout.len());
        assert!(line.contains(&sizes(raw, packed, raw, packed)), "{line}");
        let back = run_with_stdin(&["-d", "-"], dir.path(), out.stdout.clone());
        assert!(back.status.success(), "{}", stderr(&back));
        assert_eq!(back.stdout, sample());
        assert!(
            stderr(&back).contains(&sizes(packed, raw, raw, packed)),
            "{}",
            stderr(&back)
        );
    }
    assert!(files(dir.path()).is_empty());
}

#[test]
fn the_line_counts_what_was_read_from_a_fifo_and_names_the_cpu() {
    // Issue 13: `0 -> 226605 bytes, ratio 0.00` for FIFO input, `ratio 300000.00` for FIFO
    // decompression, and `served by ` with nothing after it for zlib and raw.
    for (format, suffix) in [("gzip", "gz"), ("zlib", "zz"), ("raw", "deflate")] {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        mkfifo(&path("in"), Mode::from_bits_truncate(0o600)).unwrap();
        let packed_name = format!("in.{suffix}");
        let args = ["-O", format, "in"];
        let mut child = qzip_in(dir.path(), false)
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(feed(&path("in"), &sample(), &mut child));
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{format}: {}", stderr(&out));
        let packed = std::fs::read(path(&packed_name)).unwrap();
        let (raw, len) = (sample().len(), packed.len());
        let line = stderr(&out);
        assert!(
            line.contains(&sizes(raw, len, raw, len)),
            "{format}: {line}"
        );
        assert!(
            line.trim_end().ends_with(if format == "gzip" {
                "served by cpu (1 request)"
            } else {
                "served by cpu"
            }),
            "{format}: {line}"
        );
        // The FIFO is not a regular file: kept.
        assert!(path("in").exists());
        std::fs::remove_file(path("in")).unwrap();
        std::fs::rename(path(&packed_name), path("packed")).unwrap();
        mkfifo(&path(&packed_name), Mode::from_bits_truncate(0o600)).unwrap();
        let mut child = qzip_in(dir.path(), false)
            .args(["-d", &packed_name])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(feed(&path(&packed_name), &packed, &mut child));
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{format}: {}", stderr(&out));
        let line = stderr(&out);
        assert!(
            line.contains(&sizes(len, raw, raw, len)),
            "{format}: {line}"
        );
        assert!(line.contains("served by cpu"), "{format}: {line}");
        assert_eq!(std::fs::read(path("in")).unwrap(), sample());
    }
}

#[test]
fn threads_are_set_by_t_and_zero_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data"), big_sample()).unwrap();
    let before = files(dir.path());
    let out = run(&["-T", "0", "data"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(files(dir.path()), before);
    for threads in ["1", "3"] {
        let out = run(&["-k", "-f", "-T", threads, "data"], dir.path());
        assert!(out.status.success(), "-T {threads}: {}", stderr(&out));
        let packed = std::fs::read(dir.path().join("data.gz")).unwrap();
        assert_eq!(gunzip(&packed), big_sample(), "-T {threads}");
    }
    // Mid-run, -T 3 has its workers; -T 1 compresses on the main thread.
    let tasks = |threads: &str| {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, _fifo) =
            start_on_fifo(dir.path(), false, &["-T", threads, "in"], &big_sample());
        let tasks = std::fs::read_dir(format!("/proc/{}/task", child.id()))
            .unwrap()
            .count();
        child.kill().unwrap();
        child.wait().unwrap();
        tasks
    };
    let (one, three) = (tasks("1"), tasks("3"));
    assert!(
        three >= one + 2,
        "threads: {one} with -T 1, {three} with -T 3"
    );
}

#[test]
fn compressed_data_is_not_written_to_or_read_from_a_terminal_without_force() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data"), b"small").unwrap();
    let pty = nix::pty::openpty(None, None).unwrap();
    let terminal = || Stdio::from(pty.slave.try_clone().unwrap());
    let out = qzip()
        .args(["-c", "data"])
        .current_dir(dir.path())
        .stdout(terminal())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not written to a terminal (use -f"),
        "{}",
        stderr(&out)
    );
    let out = qzip()
        .args(["-d"])
        .current_dir(dir.path())
        .stdin(terminal())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not read from a terminal (use -f"),
        "{}",
        stderr(&out)
    );
    // -f writes it (a few bytes: the terminal holds them unread).
    let out = qzip()
        .args(["-f", "-c", "data"])
        .current_dir(dir.path())
        .stdout(terminal())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Decompressed data goes to a terminal without -f.
    std::fs::write(
        dir.path().join("data.gz"),
        qatkit::compress::compress(Format::Gzip, 1, b"small").unwrap(),
    )
    .unwrap();
    let out = qzip()
        .args(["-d", "-c", "data.gz"])
        .current_dir(dir.path())
        .stdout(terminal())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        files(dir.path()),
        [dir.path().join("data"), dir.path().join("data.gz")]
    );
}
