//! qatctl used as a careless or hostile operator would use it: each test protects one defect
//! that was found that way (issue 9) from coming back.

mod common;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{SimFile, assert_bad_input, qatctl, stderr};

const DOMAIN: &str = "<domain type='kvm'>
  <name>vm</name>
  <memory unit='KiB'>1048576</memory>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
  </devices>
</domain>
";

/// A provisioned 4xxx host and a domain file beside its state.
fn provisioned_with_domain(content: &str) -> (SimFile, PathBuf) {
    let sim = SimFile::create("4xxx", 2);
    let out = sim.run(&["apply"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let domain = sim.path.with_file_name("vm.xml");
    std::fs::write(&domain, content).unwrap();
    (sim, domain)
}

fn xml_in_place(sim: &SimFile, domain: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["xml", "--count", "2", "--domain", domain.to_str().unwrap()];
    args.push("--in-place");
    args.extend_from_slice(extra);
    sim.run(&args)
}

/// Whether libxml2's xmllint reads the file; `None` where it is not installed, which CI
/// (QATKIT_REQUIRE_LIBVIRT=1) does not allow.
fn xmllint_ok(file: &Path) -> Option<bool> {
    match Command::new("xmllint").arg("--noout").arg(file).output() {
        Ok(out) => Some(out.status.success()),
        Err(e) => {
            let required = std::env::var("QATKIT_REQUIRE_LIBVIRT").as_deref() == Ok("1");
            assert!(!required, "xmllint: {e} (Debian package libxml2-utils)");
            None
        }
    }
}

#[test]
fn a_domain_file_with_a_byte_order_mark_is_updated_in_place_not_corrupted() {
    let (sim, domain) = provisioned_with_domain(&format!("\u{feff}{DOMAIN}"));
    let out = xml_in_place(&sim, &domain, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let written = std::fs::read_to_string(&domain).unwrap();
    // The same bytes as for the document without the mark, after the mark.
    let plain = sim.path.with_file_name("plain.xml");
    std::fs::write(&plain, DOMAIN).unwrap();
    let printed = sim.run(&["xml", "--count", "2", "--domain", plain.to_str().unwrap()]);
    assert_eq!(
        written.strip_prefix('\u{feff}'),
        Some(String::from_utf8(printed.stdout).unwrap().as_str())
    );
    assert!(written.contains("<emulator>/usr/bin/qemu-system-x86_64</emulator>\n    <controller"));
    assert_ne!(
        xmllint_ok(&domain),
        Some(false),
        "xmllint refuses {written}"
    );
    assert!(xml_in_place(&sim, &domain, &[]).status.success());
    assert_eq!(std::fs::read_to_string(&domain).unwrap(), written);
}

#[test]
fn a_domain_with_two_devices_elements_is_bad_input() {
    let doubled = DOMAIN.replace(
        "</domain>",
        "  <devices>\n    <emulator>/bin/true</emulator>\n  </devices>\n</domain>",
    );
    let (sim, domain) = provisioned_with_domain(&doubled);
    assert_bad_input(
        &sim,
        &["xml", "--domain", domain.to_str().unwrap(), "--in-place"],
        2,
        "more than one <devices>",
    );
    assert_eq!(std::fs::read_to_string(&domain).unwrap(), doubled);
}

#[test]
fn a_domain_file_larger_than_virsh_reads_is_bad_input() {
    let (sim, domain) = provisioned_with_domain(DOMAIN);
    // Sparse, 200 MiB; that qatctl reads little of it is shown with a pipe below.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&domain)
        .unwrap()
        .set_len(200 << 20)
        .unwrap();
    assert_bad_input(
        &sim,
        &["xml", "--domain", domain.to_str().unwrap(), "--in-place"],
        2,
        "larger than 10 MiB",
    );
    assert_eq!(std::fs::metadata(&domain).unwrap().len(), 200 << 20);
}

#[test]
fn in_place_through_a_symlink_writes_the_file_it_points_to() {
    let (sim, domain) = provisioned_with_domain(DOMAIN);
    let link = sim.path.with_file_name("link.xml");
    std::os::unix::fs::symlink("vm.xml", &link).unwrap();
    let hard = sim.path.with_file_name("hard.xml");
    std::fs::hard_link(&domain, &hard).unwrap();
    let out = xml_in_place(&sim, &link, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let link_meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(link_meta.file_type().is_symlink());
    let written = std::fs::read_to_string(&domain).unwrap();
    assert!(written.contains("<hostdev"));
    // The README says so: a hard link keeps the old content (the file is renamed over).
    assert_eq!(std::fs::read_to_string(&hard).unwrap(), DOMAIN);
    // A re-run with nothing to change leaves the file alone, inode and all.
    let inode = std::fs::metadata(&domain).unwrap().ino();
    assert!(xml_in_place(&sim, &link, &[]).status.success());
    assert_eq!(std::fs::metadata(&domain).unwrap().ino(), inode);
    assert_eq!(std::fs::read_to_string(&domain).unwrap(), written);
}

#[test]
fn in_place_refuses_a_file_in_a_directory_it_cannot_write() {
    // Root writes every directory; the check is for everyone else, so act as nobody.
    if !can_act_as_nobody() {
        return;
    }
    let (sim, domain) = provisioned_with_domain(DOMAIN);
    let dir = sim.path.parent().unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&sim.path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(&domain, Some(65534), Some(65534)).unwrap();
    let out = as_nobody(&sim, &domain);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot make a file in"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&domain).unwrap(), DOMAIN);
}

/// Whether this test process may run qatctl as nobody (root, with setpriv); where it may not,
/// the test is skipped, except under QATKIT_REQUIRE_TOOLS (CI, which runs as root).
fn can_act_as_nobody() -> bool {
    if nix::unistd::geteuid().is_root() && Path::new("/usr/bin/setpriv").exists() {
        return true;
    }
    let why = "needs root and setpriv (util-linux) to act as another user";
    assert!(std::env::var_os("QATKIT_REQUIRE_TOOLS").is_none(), "{why}");
    eprintln!("skipped: {why}");
    false
}

/// `qatctl --sim SIM xml --count 1 --domain DOMAIN --in-place` as user and group nobody.
fn as_nobody(sim: &SimFile, domain: &Path) -> std::process::Output {
    Command::new("/usr/bin/setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(assert_cmd::cargo::cargo_bin("qatctl"))
        .args(["--sim", sim.path.to_str().unwrap(), "xml", "--count", "1"])
        .args(["--domain", domain.to_str().unwrap(), "--in-place"])
        .output()
        .unwrap()
}

#[test]
fn a_domain_read_from_a_pipe_is_read_only_up_to_the_bound() {
    use std::io::Write as _;
    let sim = SimFile::create("4xxx", 1);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("qatctl"))
        .args([
            "--sim",
            sim.path.to_str().unwrap(),
            "xml",
            "--domain",
            "/dev/stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // An endless document: qatctl must stop reading past 10 MiB, not wait for its end.
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b' '; 1 << 20];
        let mut sent = 0usize;
        while sent < 1 << 30 && stdin.write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
        sent
    });
    let out = child.wait_with_output().unwrap();
    let sent = writer.join().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("larger than 10 MiB"),
        "{}",
        stderr(&out)
    );
    assert!(sent <= 12 << 20, "{sent} bytes went in");
}

#[test]
fn in_place_refuses_a_read_only_file_unless_forced() {
    let (sim, domain) = provisioned_with_domain(DOMAIN);
    std::fs::set_permissions(&domain, std::fs::Permissions::from_mode(0o444)).unwrap();
    assert_bad_input(
        &sim,
        &["xml", "--domain", domain.to_str().unwrap(), "--in-place"],
        2,
        "read-only; pass --force",
    );
    assert_eq!(std::fs::read_to_string(&domain).unwrap(), DOMAIN);
    let out = xml_in_place(&sim, &domain, &["--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::read_to_string(&domain)
            .unwrap()
            .contains("<hostdev")
    );
    let mode = std::fs::metadata(&domain).unwrap().mode();
    assert_eq!(mode & 0o7777, 0o444);
    // --force means nothing without --in-place.
    assert_bad_input(
        &sim,
        &["xml", "--domain", domain.to_str().unwrap(), "--force"],
        2,
        "--in-place",
    );
}

#[test]
fn in_place_refuses_what_is_not_a_regular_file() {
    let sim = SimFile::create("4xxx", 1);
    let link = sim.path.with_file_name("null.xml");
    std::os::unix::fs::symlink("/dev/null", &link).unwrap();
    // A FIFO with no writer: refused, not waited on.
    let fifo = sim.path.with_file_name("fifo.xml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    for path in [Path::new("/dev/null"), link.as_path(), fifo.as_path()] {
        assert_bad_input(
            &sim,
            &["xml", "--domain", path.to_str().unwrap(), "--in-place"],
            2,
            "not a regular file",
        );
    }
    use std::os::unix::fs::FileTypeExt as _;
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

/// As root: the domain file belongs to a user whose process may not give it its group. sed -i
/// keeps what it may; qatctl, too, and says what it could not keep.
#[test]
fn in_place_by_a_user_outside_the_files_group_succeeds_and_says_so() {
    if !can_act_as_nobody() {
        return;
    }
    let (sim, domain) = provisioned_with_domain(DOMAIN);
    let nobody = 65534;
    let dir = sim.path.parent().unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(&sim.path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(&domain, Some(nobody), Some(0)).unwrap();
    std::fs::set_permissions(&domain, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = as_nobody(&sim, &domain);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning") && stderr(&out).contains("was uid 65534 gid 0"),
        "{}",
        stderr(&out)
    );
    let meta = std::fs::metadata(&domain).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (nobody, 0o640));
    assert!(
        std::fs::read_to_string(&domain)
            .unwrap()
            .contains("<hostdev")
    );
}

#[test]
fn vfio_group_4294967295_is_bad_input_not_a_rollback() {
    let sim = SimFile::create("4xxx", 1);
    for command in ["plan", "apply"] {
        assert_bad_input(
            &sim,
            &[command, "--vfio-group", "4294967295"],
            2,
            "(gid_t)-1",
        );
    }
}

#[test]
fn kubernetes_domain_and_quota_prefixed_resource_names_are_bad_input() {
    let sim = SimFile::create("4xxx", 1);
    for (name, why) in [
        ("kubernetes.io/qat", "kubernetes.io"),
        ("requests.intel.com/qat", "resource quotas"),
    ] {
        assert_bad_input(&sim, &["kubevirt", "--resource-name", name], 2, why);
    }
}

#[test]
fn a_hand_edited_state_with_overlapping_vfs_is_refused_unchanged() {
    let sim = SimFile::create("4xxx", 2);
    let mut state = sim.state();
    state["kernel"]["devices"]["0000:6b:00.0"]["sriov"]["total"] = 4096.into();
    let text = serde_json::to_string_pretty(&state).unwrap();
    std::fs::write(&sim.path, &text).unwrap();
    for args in [&["status"][..], &["apply"], &["xml"]] {
        let out = sim.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("cannot exist"), "{}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1);
    }
    assert_eq!(std::fs::read_to_string(&sim.path).unwrap(), text);
}

#[test]
fn sim_create_in_a_missing_directory_is_bad_input() {
    let out = qatctl(&["sim", "create", "/nonexistent/dir/x.json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not a directory"));
    assert!(!Path::new("/nonexistent").exists());
}

#[test]
fn sim_create_honours_pfs_for_mixed_and_refuses_it_for_the_fixed_qemu_machine() {
    let mixed = SimFile::create("mixed", 6);
    let list = mixed.json(&["list"]);
    let pfs: Vec<&str> = list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "pf")
        .map(|d| d["generation"].as_str().unwrap())
        .collect();
    assert_eq!(pfs, ["4xxx", "c62x", "4xxx", "c62x"]);
    let igb = mixed.json(&["status", "--pf", "0000:01:00.0", "--pf", "0000:03:00.0"]);
    assert_eq!(igb["pfs"].as_array().unwrap().len(), 2, "two igb PFs");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.json");
    let out = qatctl(&[
        "sim",
        "create",
        path.to_str().unwrap(),
        "--preset",
        "qemu",
        "--pfs",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("one fixed machine"));
    assert!(!path.exists());
}

#[test]
fn a_numa_node_no_vf_is_on_is_bad_input() {
    let sim = SimFile::create("4xxx", 2);
    assert!(sim.run(&["apply"]).status.success());
    assert_bad_input(
        &sim,
        &["xml", "--numa", "99"],
        2,
        "no VF is on NUMA node 99 (VFs are on nodes 0, 1)",
    );
    assert!(sim.run(&["xml", "--numa", "1"]).status.success());
}

/// A signal that arrives while the host is being changed is held until the apply is over; the
/// apply's outcome decides the exit code, and stderr says what arrived. The signal is made
/// pending before qatctl starts (blocked in the child, raised, then exec: pending signals and
/// the mask survive exec), which is what a signal during the apply looks like to qatctl.
#[test]
fn a_signal_during_an_apply_lets_it_finish_and_exit_with_its_outcome() {
    use std::os::unix::process::CommandExt as _;
    for signal in [
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGHUP,
    ] {
        let sim = SimFile::create("4xxx", 1);
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("qatctl"));
        command.args(["--sim", sim.path.to_str().unwrap(), "apply"]);
        // SAFETY: between fork and exec only async-signal-safe calls (sigprocmask, raise).
        unsafe {
            command.pre_exec(move || {
                let mut set = nix::sys::signal::SigSet::empty();
                set.add(signal);
                set.thread_block()?;
                nix::sys::signal::raise(signal)?;
                Ok(())
            });
        }
        let out = command.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{signal}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("{signal} arrived"))
                && stderr(&out).contains("ran to the end"),
            "{}",
            stderr(&out)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("applied"));
        let plan = sim.json(&["plan"]);
        assert_eq!(plan["steps"], serde_json::json!([]), "the apply finished");
    }
}
