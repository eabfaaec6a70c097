//! qatctl end to end on simulated hosts: the main job, the JSON contract, exit codes, the fault
//! sweep through separate processes, and concurrent applies serialised by the lock.

mod common;

use std::path::Path;

use common::{SimFile, assert_bad_input, qatctl, stderr};
use serde_json::Value;

const APPLY: [&str; 5] = ["apply", "--services", "sym,dc", "--driver", "vfio-pci"];
const PLAN: [&str; 5] = ["plan", "--services", "sym,dc", "--driver", "vfio-pci"];

#[test]
fn main_job_on_a_two_pf_4xxx_host() {
    let sim = SimFile::create("4xxx", 2);
    let out = sim.run(&APPLY);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("applied 42 steps"));

    let plan = sim.json(&PLAN);
    assert_eq!(plan["steps"], serde_json::json!([]));
    assert!(String::from_utf8_lossy(&sim.run(&PLAN).stdout).contains("nothing to do"));

    let status = sim.json(&["status"]);
    let pfs = status["pfs"].as_array().unwrap();
    assert_eq!(pfs.len(), 2);
    for pf in pfs {
        assert_eq!(pf["generation"], "4xxx");
        assert_eq!(pf["state"], "up");
        assert_eq!(pf["services"], serde_json::json!(["sym", "dc"]));
        assert_eq!(pf["sriov_numvfs"], pf["sriov_totalvfs"]);
        assert_eq!(pf["sriov_totalvfs"], 16);
        assert!(pf["numa_node"].is_u64() && pf["driver"] == "4xxx" && pf["bdf"].is_string());
        let vfs = pf["vfs"].as_array().unwrap();
        assert_eq!(vfs.len(), 16);
        for vf in vfs {
            assert_eq!(vf["driver"], "vfio-pci");
            assert!(vf["iommu_group"].is_u64() && vf["bdf"].is_string());
        }
    }
    assert_eq!(pfs[0]["numa_node"], 0);
    assert_eq!(pfs[1]["numa_node"], 1);
}

#[test]
fn json_contract_of_list_plan_and_apply() {
    let sim = SimFile::create("4xxx", 1);
    let list = sim.json(&["list"]);
    assert_eq!(list["devices"][0]["kind"], "pf");
    let plan = sim.json(&PLAN);
    assert_eq!(plan["steps"][0]["op"], "set_state");
    assert_eq!(plan["steps"][0]["state"], "down");
    let apply = sim.json(&APPLY);
    assert_eq!(apply["ok"], true);
    assert_eq!(
        apply["steps_done"].as_array().unwrap().len(),
        plan["steps"].as_array().unwrap().len()
    );
    assert!(apply.get("error").is_none());
    assert_eq!(apply["rolled_back"], serde_json::json!([]));
}

/// For every write index k of the main apply, with EIO and again with EBUSY: exit 1, the output
/// names the failed step and the rollback, and the host is exactly as before.
#[test]
fn fault_sweep_through_qatctl() {
    let clean = SimFile::create("4xxx", 2);
    assert!(clean.run(&APPLY).status.success());
    let total = clean.write_count();
    assert_eq!(total, 2 * (5 + 2 * 16), "writes of the main apply changed");
    let template = SimFile::create("4xxx", 2);
    let pristine = std::fs::read(&template.path).unwrap();
    for errno in ["EIO", "EBUSY"] {
        for k in 1..=total {
            std::fs::write(&template.path, &pristine).unwrap();
            let before = template.kernel();
            let arm = template.run(&[
                "sim",
                "fail",
                template.path.to_str().unwrap(),
                "--nth-write",
                &k.to_string(),
                "--errno",
                errno,
            ]);
            assert!(arm.status.success());
            let out = template.run(&APPLY);
            assert_eq!(
                out.status.code(),
                Some(1),
                "write {k} {errno}: {}",
                stderr(&out)
            );
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(stdout.contains("failed: 0000:"), "write {k}: {stdout}");
            assert!(
                stdout.contains("rolled back")
                    && stdout.contains("the host reads as it did before"),
                "write {k}: {stdout}"
            );
            let err = stderr(&out);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.contains("(rolled back)"));
            assert_eq!(template.kernel(), before, "write {k} {errno}: host changed");
        }
    }
}

#[test]
fn apply_json_on_failure_has_error_and_rolled_back() {
    let sim = SimFile::create("4xxx", 1);
    sim.run(&[
        "sim",
        "fail",
        sim.path.to_str().unwrap(),
        "--attribute",
        "sriov_numvfs",
        "--errno",
        "EIO",
    ]);
    let out = sim.run(&["apply", "--services", "sym", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["error"]["step"]["op"], "enable_vfs");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Input/output error")
    );
    // The failed step's own inverse (disable VFs) runs too, then the four earlier ones.
    assert_eq!(report["rolled_back"].as_array().unwrap().len(), 5);
    assert_eq!(report["steps_done"].as_array().unwrap().len(), 4);
}

#[test]
fn bad_input_exits_2_with_one_line_and_writes_nothing() {
    let sim = SimFile::create("mixed", 3);
    assert_bad_input(&sim, &["apply", "--pf", "0000:3d:00"], 2, "invalid");
    assert_bad_input(&sim, &["apply", "--pf", "../0000:6b:00.0"], 2, "invalid");
    assert_bad_input(
        &sim,
        &["apply", "--services", "sym,cy"],
        2,
        "unknown service",
    );
    assert_bad_input(
        &sim,
        &["apply", "--services", "sym,asym,dc", "--pf", "0000:6b:00.0"],
        2,
        "at most two",
    );
    assert_bad_input(
        &sim,
        &[
            "apply",
            "--services",
            "sym",
            "--driver",
            "kernel",
            "--pf",
            "0000:70:00.0",
        ],
        2,
        "no configurable services",
    );
    assert_bad_input(&sim, &["apply", "--pf", "0000:99:00.0"], 2, "no PCI device");
    assert_bad_input(&sim, &["apply", "--pf", "0000:00:00.0"], 2, "no SR-IOV");
    assert_bad_input(
        &sim,
        &["apply", "--services", "sym", "--pf", "0000:01:00.0"],
        2,
        "not a QAT device",
    );
    assert_bad_input(
        &sim,
        &["apply", "--driver", "../x"],
        2,
        "invalid driver name",
    );
    assert_bad_input(
        &sim,
        &[
            "apply",
            "--vfio-group",
            "nosuchgroup",
            "--pf",
            "0000:6b:00.0",
        ],
        2,
        "unknown group",
    );
    assert_bad_input(&sim, &["apply", "--vfio-mode", "0660"], 2, "--vfio-group");
    assert_bad_input(
        &sim,
        &["plan", "--vfio-group", "qat", "--vfio-mode", "999"],
        2,
        "octal",
    );
    assert_bad_input(
        &sim,
        &["plan", "--vfio-group", "qat", "--vfio-mode", "4777"],
        2,
        "octal",
    );
    assert_bad_input(&sim, &["apply", "--services", "sym,sym"], 2, "listed twice");
    assert_bad_input(&sim, &["frobnicate"], 2, "unrecognized subcommand");
}

#[test]
fn a_held_vf_exits_1_and_writes_nothing_unless_forced() {
    let sim = SimFile::create("4xxx", 1);
    assert!(sim.run(&["apply", "--services", "sym"]).status.success());
    let hold = sim.run(&[
        "sim",
        "hold",
        sim.path.to_str().unwrap(),
        "--vf",
        "0000:6b:00.4",
        "--pid",
        "999",
    ]);
    assert!(hold.status.success());
    assert_bad_input(
        &sim,
        &["apply", "--services", "dc"],
        1,
        "0000:6b:00.4 is open by a VFIO user (pid 999)",
    );
    assert_bad_input(&sim, &["reset"], 1, "is open by a VFIO user");
    let status = sim.json(&["status"]);
    assert_eq!(
        status["pfs"][0]["vfs"][3]["held_by"],
        serde_json::json!([999])
    );
    assert_eq!(
        status["pfs"][0]["vfs"][3]["device_open_by"],
        serde_json::json!([999])
    );
    // Forcing does not pass a user with the device open: the kernel would wait for it forever.
    assert_bad_input(
        &sim,
        &["apply", "--services", "dc", "--force"],
        1,
        "force does not override",
    );
    // Released: it goes through.
    sim.run(&[
        "sim",
        "hold",
        sim.path.to_str().unwrap(),
        "--vf",
        "0000:6b:00.4",
        "--release",
    ]);
    assert!(sim.run(&["apply", "--services", "dc"]).status.success());
}

#[test]
fn reset_turns_vfs_off_and_keeps_services() {
    let sim = SimFile::create("4xxx", 2);
    assert!(sim.run(&APPLY).status.success());
    let out = sim.run(&["reset"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status = sim.json(&["status"]);
    for pf in status["pfs"].as_array().unwrap() {
        assert_eq!(pf["sriov_numvfs"], 0);
        assert_eq!(pf["sriov_drivers_autoprobe"], true);
        assert_eq!(pf["services"], serde_json::json!(["sym", "dc"]));
    }
    assert!(String::from_utf8_lossy(&sim.run(&["reset"]).stdout).contains("nothing to do"));
}

#[test]
fn generic_mode_status_and_apply_on_a_named_pf() {
    let sim = SimFile::create("igb", 1);
    let status = sim.json(&["status"]);
    assert_eq!(status["pfs"], serde_json::json!([]));
    let out = sim.run(&["apply", "--pf", "01:00.0", "--driver", "igbvf"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status = sim.json(&["status", "--pf", "0000:01:00.0"]);
    assert_eq!(status["pfs"][0]["generation"], Value::Null);
    assert_eq!(status["pfs"][0]["state"], Value::Null);
    assert_eq!(status["pfs"][0]["vfs"].as_array().unwrap().len(), 7);
    assert_eq!(status["pfs"][0]["vfs"][6]["driver"], "igbvf");
}

#[test]
fn vfio_group_and_mode_are_applied() {
    let sim = SimFile::create("4xxx", 1);
    let out = sim.run(&["apply", "--vfio-group", "qat", "--vfio-mode", "0660"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status = sim.json(&["status"]);
    let node = &status["pfs"][0]["vfs"][0]["vfio_node"];
    assert_eq!(
        (node["gid"].as_u64(), node["mode"].as_u64()),
        (Some(990), Some(0o660))
    );
}

#[test]
fn sim_writes_lists_the_write_record() {
    let sim = SimFile::create("4xxx", 1);
    sim.run(&["apply", "--services", "sym"]);
    let writes = sim.json(&["sim", "writes", sim.path.to_str().unwrap()]);
    let first = &writes["writes"][0];
    assert_eq!(first["path"], "/sys/bus/pci/devices/0000:6b:00.0/qat/state");
    assert_eq!(first["value"], "down");
    assert_eq!(first["errno"], Value::Null);
}

/// Two applies started while the lock is held both wait; once it is released they run one after
/// the other, so neither loses the other's writes and the host ends as one of the two requests.
#[test]
fn concurrent_applies_serialise_on_the_lock() {
    let sim = SimFile::create("4xxx", 2);
    let path = sim.path.to_str().unwrap().to_owned();
    let mut lock_path = sim.path.clone().into_os_string();
    lock_path.push(".lock");
    let held = qat_vf::provision::ProvisionLock::acquire(Path::new(&lock_path)).unwrap();
    let spawn = |services: &str| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("qatctl"))
            .args([
                "--sim",
                &path,
                "apply",
                "--services",
                services,
                "--driver",
                "vfio-pci",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut a = spawn("sym,dc");
    let mut b = spawn("asym,dc");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        a.try_wait().unwrap().is_none() && b.try_wait().unwrap().is_none(),
        "did not wait"
    );
    assert_eq!(sim.write_count(), 0);
    drop(held);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(
        a.status.success() && b.status.success(),
        "{}{}",
        stderr(&a),
        stderr(&b)
    );
    assert!(stderr(&a).contains("waiting for another provisioner"));
    // Each run writes 74 times (per PF: 5 PF writes, 2 per VF), the second from the first's
    // result; the record holds both.
    assert_eq!(sim.write_count(), 2 * 74, "writes were lost");
    let converged = ["sym,dc", "asym,dc"].iter().any(|services| {
        let plan = sim.json(&["plan", "--services", services, "--driver", "vfio-pci"]);
        plan["steps"] == serde_json::json!([])
    });
    assert!(converged, "host is neither request");
}

#[test]
fn json_is_printed_even_for_arguments_that_do_not_parse() {
    let sim = SimFile::create("4xxx", 1);
    let out = sim.run(&["plan", "--services", "cy", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    assert!(doc["error"].as_str().unwrap().contains("unknown service"));
}

#[test]
fn sim_create_refuses_to_overwrite_and_rejects_unknown_presets() {
    let sim = SimFile::create("c62x", 3);
    let path = sim.path.to_str().unwrap();
    let out = qatctl(&["sim", "create", path]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--force"));
    let out = qatctl(&["sim", "create", path, "--preset", "qat9000", "--force"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown preset"));
    assert!(Path::new(path).exists());
}

#[test]
fn vfio_check_reports_what_a_vm_manager_needs() {
    let sim = SimFile::create_with(&["--preset", "qemu"]);
    let apply = |driver| {
        let out = sim.run(&["apply", "--pf", "0000:01:00.0", "--driver", driver]);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    // Not on vfio-pci: exit 1 and the reason.
    apply("igbvf");
    let igbvf = sim.run(&["vfio-check", "--vf", "0000:01:10.0"]);
    assert_eq!(igbvf.status.code(), Some(1));
    assert!(stderr(&igbvf).contains("not to vfio-pci"));
    // With --json, the report is the one JSON document, failure or not.
    let igbvf = sim.run(&["vfio-check", "--vf", "0000:01:10.0", "--json"]);
    let report: Value = serde_json::from_slice(&igbvf.stdout).expect("exactly one JSON document");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("not to vfio-pci")
    );
    apply("vfio-pci");
    let ok = sim.json(&["vfio-check", "--vf", "0000:01:10.0"]);
    assert_eq!(ok["error"], Value::Null);
    assert_eq!(ok["dma_map"], true);
    assert_eq!(ok["device"]["num_regions"], 9);
    assert_eq!(ok["regions"][0]["size"], 16384);
    assert_eq!(ok["blockers"], serde_json::json!([]));
    assert!(ok["memlock_enough_for_qatlib"].is_boolean());
    // A PF or no such device: bad input, exit 2.
    assert_bad_input(
        &sim,
        &["vfio-check", "--vf", "0000:01:00.0"],
        2,
        "is an SR-IOV PF, not a VF",
    );
    assert_bad_input(
        &sim,
        &["vfio-check", "--vf", "0000:07:00.0"],
        2,
        "no PCI device",
    );
    // A VF in a group its PF keeps: the culprit is named.
    let out = sim.run(&["apply", "--pf", "0000:02:00.0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("0000:02:00.0 is bound to nvme"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn xml_prints_hostdevs_and_updates_a_domain_in_place_idempotently() {
    let sim = SimFile::create("4xxx", 2);
    assert!(sim.run(&["apply", "--services", "sym,dc"]).status.success());
    let out = sim.run(&["xml", "--count", "3", "--rom-bar", "off", "--managed", "no"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let xml = String::from_utf8(out.stdout).unwrap();
    assert_eq!(xml.matches("<hostdev ").count(), 3);
    assert_eq!(xml.matches("managed=\"no\"").count(), 3);
    assert_eq!(xml.matches("<rom bar=\"off\"/>").count(), 3);
    assert_eq!(
        xml.matches("model=\"pcie-to-pci-bridge\"").count(),
        2,
        "one bus per PF"
    );

    let domain = sim.path.with_file_name("vm.xml");
    let original = "<domain type='kvm'>\n  <name>vm</name>\n  <os>\n    <type arch='x86_64' machine='pc-q35-8.2'>hvm</type>\n  </os>\n  <!-- keep me -->\n  <devices>\n    <controller type='pci' index='0' model='pcie-root'/>\n  </devices>\n</domain>\n";
    std::fs::write(&domain, original).unwrap();
    std::fs::set_permissions(&domain, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let d = domain.to_str().unwrap();
    assert!(
        sim.run(&["xml", "--count", "2", "--domain", d, "--in-place"])
            .status
            .success()
    );
    let once = std::fs::read_to_string(&domain).unwrap();
    // The rewrite keeps the file's mode (domain XML can hold secrets).
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&domain).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        once.contains("<!-- keep me -->") && once.contains("index=\"1\" model=\"pcie-root-port\"")
    );
    assert!(
        sim.run(&["xml", "--count", "2", "--domain", d, "--in-place"])
            .status
            .success()
    );
    assert_eq!(
        std::fs::read_to_string(&domain).unwrap(),
        once,
        "second run changed the domain"
    );
    let printed = sim.run(&["xml", "--count", "2", "--domain", d]);
    assert_eq!(String::from_utf8(printed.stdout).unwrap(), once);

    assert_bad_input(
        &sim,
        &["xml", "--alias-prefix", "ua-\"x"],
        2,
        "alias prefix",
    );
    assert_bad_input(
        &sim,
        &["xml", "--domain", "/nonexistent.xml"],
        2,
        "cannot read",
    );
    let too_many = sim.run(&["xml", "--count", "33"]);
    assert_eq!(too_many.status.code(), Some(1));
    assert!(stderr(&too_many).contains("33 VFs requested, 32 eligible"));
}

#[test]
fn kubevirt_prints_yaml_or_json() {
    let sim = SimFile::create("4xxx", 1);
    assert!(sim.run(&["apply"]).status.success());
    let json = sim.json(&[
        "kubevirt",
        "--count",
        "2",
        "--external-provider",
        "--resource-name",
        "qat.intel.com/generic",
    ]);
    let entry = &json["kubevirtPatch"]["spec"]["configuration"]["permittedHostDevices"]["pciHostDevices"]
        [0];
    assert_eq!(entry["pciVendorSelector"], "8086:4941");
    assert_eq!(entry["externalResourceProvider"], true);
    let devices = &json["vmHostDevices"]["spec"]["domain"]["devices"]["hostDevices"];
    assert_eq!(devices.as_array().unwrap().len(), 2);
    let yaml = sim.run(&["kubevirt", "--resource-name", "example.com/qat"]);
    let text = String::from_utf8(yaml.stdout).unwrap();
    assert!(text.contains("resourceName: example.com/qat") && text.contains("\n---\n"));
    assert_bad_input(
        &sim,
        &["kubevirt", "--resource-name", "no slash"],
        2,
        "resource name",
    );
    assert_bad_input(
        &sim,
        &["kubevirt", "--external-provider"],
        2,
        "--resource-name",
    );
}

#[test]
fn kubevirt_errors_say_kubevirt_and_json_errors_carry_their_kind() {
    // A host with two QAT families: one resource name cannot name both VF kinds.
    let sim = SimFile::create("mixed", 3);
    assert_bad_input(
        &sim,
        &["kubevirt", "--resource-name", "example.com/qat"],
        2,
        "qatctl: error: kubevirt: the host has 2 QAT VF kinds",
    );
    let json = sim.json(&["kubevirt", "--resource-name", "example.com/qat"]);
    assert_eq!(json["ok"], false);
    assert_eq!(json["kind"], "invalid_input");
    assert!(json["error"].as_str().unwrap().starts_with("kubevirt: "));
    // A kind from the host, not the request: too few VFs is exit 1, limit_exceeded.
    let json = sim.json(&["xml", "--count", "1000"]);
    assert_eq!(json["kind"], "limit_exceeded");
    // Bad usage found by clap has no kind.
    let json = sim.json(&["xml", "--count", "many"]);
    assert_eq!(json["ok"], false);
    assert!(json.get("kind").is_none(), "{json}");
}
