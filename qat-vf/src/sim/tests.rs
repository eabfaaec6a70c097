//! The simulated host against shared/facts/kernel-abi.md: every fact of "Generic SR-IOV sysfs",
//! "Driver binding" and "QAT PF attributes", and the device-table facts the model covers.
//!
//! Everything goes through the host's files with paths from `host::paths`, as qatkit's own code
//! does; `with_kernel` only sets up what sysfs cannot (quirks, counters, heartbeat).

use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::attributes::{self, Heartbeat};
use crate::error::{Blocker, Error, ProvisionError, SimError, SysfsError, VfioError};
use crate::host::{FileAccess, paths};
use crate::pci::QAT_FAMILIES;
use crate::sim::{BLOCKS_FOREVER, FaultTrigger, Preset, SimHost, SimState, WriteRecord};
use crate::{Bdf, Services, driver, iommu, qat, sriov};
use nix::libc;

/// Whether an error is the OS error `errno`.
fn is_errno(error: &Error, errno: i32) -> bool {
    error.raw_os_error() == Some(errno)
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn host(preset: &str, pfs: usize) -> SimHost {
    SimHost::preset(Preset::from_str(preset).expect("known preset"), pfs)
}

/// The SR-IOV PFs of the host, in address order.
fn pfs(sim: &SimHost) -> Vec<Bdf> {
    sim.kernel()
        .devices
        .iter()
        .filter(|(_, d)| d.sriov.is_some())
        .map(|(bdf, _)| *bdf)
        .collect()
}

fn pf0(sim: &SimHost) -> Bdf {
    pfs(sim)[0]
}

fn numvfs(pf: Bdf) -> PathBuf {
    paths::device_attr(pf, "sriov_numvfs")
}

fn autoprobe(pf: Bdf) -> PathBuf {
    paths::device_attr(pf, "sriov_drivers_autoprobe")
}

fn override_path(bdf: Bdf) -> PathBuf {
    paths::device_attr(bdf, "driver_override")
}

fn drivers_probe() -> &'static Path {
    Path::new(paths::DRIVERS_PROBE)
}

fn errno_of(err: &Error) -> Option<i32> {
    std::error::Error::source(err)?
        .downcast_ref::<io::Error>()?
        .raw_os_error()
}

#[track_caller]
fn read(sim: &SimHost, path: &Path) -> String {
    sim.read_trimmed(path)
        .unwrap_or_else(|e| panic!("{e} (errno {:?})", errno_of(&e)))
}

#[track_caller]
fn write(sim: &SimHost, path: &Path, value: &str) {
    if let Err(e) = sim.write(path, value) {
        panic!("{e} (errno {:?})", errno_of(&e));
    }
}

#[track_caller]
fn assert_errno(result: crate::Result<()>, errno: i32) {
    match result {
        Ok(()) => panic!("succeeded; expected errno {errno}"),
        Err(err) => assert!(
            is_errno(&err, errno),
            "{err}: errno {:?}, expected {errno}",
            errno_of(&err)
        ),
    }
}

/// The PF's VFs from its `virtfnN` links, in index order.
fn vfs(sim: &SimHost, pf: Bdf) -> Vec<Bdf> {
    let mut links: Vec<(u32, Bdf)> = Vec::new();
    for name in sim.list(&paths::device(pf)).unwrap() {
        let Some(index) = name.strip_prefix("virtfn").and_then(|i| i.parse().ok()) else {
            continue;
        };
        let target = sim.link_name(&paths::device_attr(pf, &name)).unwrap();
        links.push((
            index,
            target
                .expect("virtfn is a link")
                .parse()
                .expect("names a BDF"),
        ));
    }
    links.sort();
    links.into_iter().map(|(_, vf)| vf).collect()
}

fn enable(sim: &SimHost, pf: Bdf, count: u16) -> Vec<Bdf> {
    write(sim, &numvfs(pf), &count.to_string());
    vfs(sim, pf)
}

fn driver_of(sim: &SimHost, bdf: Bdf) -> Option<String> {
    attributes::read_driver(sim, bdf).unwrap()
}

fn group_of(sim: &SimHost, bdf: Bdf) -> u32 {
    attributes::read_iommu_group(sim, bdf)
        .unwrap()
        .expect("iommu_group link")
}

/// Binds through the working sequence (unbind, override, drivers_probe, re-read).
fn bind(sim: &SimHost, bdf: Bdf, driver_name: &str) {
    driver::set_driver(sim, bdf, Some(driver_name), Some(driver_name), false).unwrap();
    assert_eq!(driver_of(sim, bdf).as_deref(), Some(driver_name));
}

fn set_qat(sim: &SimHost, pf: Bdf, f: impl FnOnce(&mut crate::sim::SimQat)) {
    sim.with_kernel(|k| f(k.devices.get_mut(&pf).unwrap().qat.as_mut().unwrap()));
}

// ---------------------------------------------------------------------------------------------
// Generic SR-IOV sysfs
// ---------------------------------------------------------------------------------------------

#[test]
fn sriov_numvfs_above_totalvfs_is_erange() {
    let sim = host("igb", 1);
    let pf = pf0(&sim);
    assert_eq!(read(&sim, &paths::device_attr(pf, "sriov_totalvfs")), "7");
    assert_errno(sim.write(&numvfs(pf), "8"), libc::ERANGE);
    assert_eq!(read(&sim, &numvfs(pf)), "0");
    assert!(vfs(&sim, pf).is_empty());
    // The boundary itself is fine.
    assert_eq!(enable(&sim, pf, 7).len(), 7);

    // On QAT the range check comes before the driver that would enable TotalVFs anyway.
    let qat = host("4xxx", 1);
    let pf = pf0(&qat);
    assert_errno(qat.write(&numvfs(pf), "17"), libc::ERANGE);
    assert_eq!(read(&qat, &numvfs(pf)), "0");
}

#[test]
fn sriov_numvfs_not_a_number_is_einval() {
    let sim = host("igb", 1);
    let pf = pf0(&sim);
    for value in ["abc", "two", "-1", "2x", "1.5"] {
        assert_errno(sim.write(&numvfs(pf), value), libc::EINVAL);
    }
    assert_eq!(read(&sim, &numvfs(pf)), "0");
    // Parsing comes before everything else, also before the EBUSY of an enabled PF.
    enable(&sim, pf, 2);
    assert_errno(sim.write(&numvfs(pf), "abc"), libc::EINVAL);
    assert_eq!(vfs(&sim, pf).len(), 2);
}

#[test]
fn sriov_numvfs_between_nonzero_counts_is_ebusy() {
    let sim = host("igb", 1);
    let pf = pf0(&sim);
    let before = enable(&sim, pf, 2);
    assert_errno(sim.write(&numvfs(pf), "3"), libc::EBUSY);
    assert_errno(sim.write(&numvfs(pf), "1"), libc::EBUSY);
    assert_eq!(vfs(&sim, pf), before);
    // Going through 0 works.
    write(&sim, &numvfs(pf), "0");
    assert_eq!(enable(&sim, pf, 3).len(), 3);
}

#[test]
fn sriov_numvfs_same_value_is_a_successful_noop() {
    let sim = host("igb", 1);
    let pf = pf0(&sim);
    let vfs_before = enable(&sim, pf, 2);
    // Something a re-enable would lose: a VF moved to vfio-pci.
    bind(&sim, vfs_before[0], "vfio-pci");
    let before = sim.kernel();
    write(&sim, &numvfs(pf), "2");
    write(&sim, &numvfs(pf), "2\n");
    assert_eq!(sim.kernel(), before);

    let sim = host("igb", 1);
    let before = sim.kernel();
    write(&sim, &numvfs(pf0(&sim)), "0");
    assert_eq!(sim.kernel(), before);
}

#[test]
fn sriov_numvfs_without_pf_driver_is_enoent_even_for_zero() {
    // nvme leaves SR-IOV enabled when unbound: a PF with VFs and no driver.
    let sim = host("nvme", 1);
    let pf = pf0(&sim);
    write(&sim, &autoprobe(pf), "0");
    let before = enable(&sim, pf, 2);
    driver::unbind(&sim, pf).unwrap();
    assert_eq!(driver_of(&sim, pf), None);
    assert_errno(sim.write(&numvfs(pf), "0"), libc::ENOENT);
    assert_errno(sim.write(&numvfs(pf), "3"), libc::ENOENT);
    assert_eq!(vfs(&sim, pf), before);

    // Enabling on a PF without a driver.
    let igb = host("igb", 1);
    let pf = pf0(&igb);
    driver::unbind(&igb, pf).unwrap();
    assert_errno(igb.write(&numvfs(pf), "2"), libc::ENOENT);
    assert_eq!(read(&igb, &numvfs(pf)), "0");

    // A device without SR-IOV has no sriov_numvfs at all.
    let bridge: Bdf = "0000:00:00.0".parse().unwrap();
    assert!(igb.exists(&paths::device(bridge)));
    assert_errno(igb.write(&numvfs(bridge), "0"), libc::ENOENT);
}

#[test]
fn sriov_numvfs_range_and_same_value_are_checked_before_the_pf_driver() {
    // drivers/pci/iov.c: kstrtou16 → EINVAL, > TotalVFs → ERANGE, == NumVFs → success, and only
    // then "no driver bound" → ENOENT.
    let sim = host("nvme", 1);
    let pf = pf0(&sim);
    write(&sim, &autoprobe(pf), "0");
    enable(&sim, pf, 2);
    driver::unbind(&sim, pf).unwrap();
    assert_errno(sim.write(&numvfs(pf), "5"), libc::ERANGE);
    write(&sim, &numvfs(pf), "2");
    assert_eq!(vfs(&sim, pf).len(), 2);

    let igb = host("igb", 1);
    let pf = pf0(&igb);
    driver::unbind(&igb, pf).unwrap();
    assert_errno(igb.write(&numvfs(pf), "8"), libc::ERANGE);
    write(&igb, &numvfs(pf), "0");
}

#[test]
fn autoprobe_on_binds_gen2_vfs_to_their_kernel_vf_driver() {
    for family in QAT_FAMILIES.iter().filter(|f| f.generation == 2) {
        let sim = host(family.name, 1);
        let pf = pf0(&sim);
        assert_eq!(read(&sim, &autoprobe(pf)), "1", "{}", family.name);
        let vf_driver = family.vf_driver.expect("gen2 has a VF driver");
        for vf in enable(&sim, pf, 1) {
            assert_eq!(
                driver_of(&sim, vf).as_deref(),
                Some(vf_driver),
                "{} {vf}",
                family.name
            );
            assert_eq!(
                sim.read_link(&paths::device_attr(vf, "driver")).unwrap(),
                Some(PathBuf::from(format!(
                    "../../../bus/pci/drivers/{vf_driver}"
                )))
            );
        }
    }
}

#[test]
fn autoprobe_off_leaves_new_vfs_unbound() {
    let sim = host("c62x", 1);
    let pf = pf0(&sim);
    write(&sim, &autoprobe(pf), "0");
    assert_eq!(read(&sim, &autoprobe(pf)), "0");
    let vfs = enable(&sim, pf, 16);
    assert_eq!(vfs.len(), 16);
    for &vf in &vfs {
        assert_eq!(driver_of(&sim, vf), None);
        assert!(
            !sim.list(&paths::device(vf))
                .unwrap()
                .contains(&"driver".to_owned())
        );
    }
    // Autoprobe applies to VFs as they appear, not to VFs that already exist.
    write(&sim, &autoprobe(pf), "1");
    assert!(vfs.iter().all(|&vf| driver_of(&sim, vf).is_none()));
    assert_errno(sim.write(&autoprobe(pf), "2"), libc::EINVAL);
    assert_eq!(read(&sim, &autoprobe(pf)), "1");
}

#[test]
fn vf_links_are_relative_symlinks() {
    let sim = host("4xxx", 1);
    let pf = pf0(&sim);
    assert_eq!(pf.to_string(), "0000:6b:00.0");
    let vfs = enable(&sim, pf, 16);
    let vf = vfs[0];
    assert_eq!(vf.to_string(), "0000:6b:00.1");
    let link = |bdf: Bdf, name: &str| sim.read_link(&paths::device_attr(bdf, name)).unwrap();
    assert_eq!(link(pf, "virtfn0"), Some(PathBuf::from("../0000:6b:00.1")));
    assert_eq!(link(pf, "virtfn15"), Some(PathBuf::from("../0000:6b:02.0")));
    assert_eq!(link(vf, "physfn"), Some(PathBuf::from("../0000:6b:00.0")));
    assert_eq!(link(pf, "physfn"), None);
    let group = group_of(&sim, vf);
    assert_eq!(
        link(vf, "iommu_group"),
        Some(PathBuf::from(format!(
            "../../../kernel/iommu_groups/{group}"
        )))
    );
    assert!(
        sim.list(&paths::iommu_group_devices(group))
            .unwrap()
            .contains(&vf.to_string())
    );
    assert_eq!(
        link(pf, "driver"),
        Some(PathBuf::from("../../../bus/pci/drivers/4xxx"))
    );
    // No default driver for gen4 VFs: the link is absent until one binds.
    assert_eq!(link(vf, "driver"), None);
    bind(&sim, vf, "vfio-pci");
    assert_eq!(
        link(vf, "driver"),
        Some(PathBuf::from("../../../bus/pci/drivers/vfio-pci"))
    );
    for target in [
        link(pf, "virtfn0"),
        link(vf, "physfn"),
        link(vf, "iommu_group"),
    ] {
        assert!(target.unwrap().is_relative());
    }
}

#[test]
fn numa_node_can_be_minus_one_and_vfs_list_flr_reset() {
    let sim = host("igb", 1);
    let pf = pf0(&sim);
    assert_eq!(read(&sim, &paths::device_attr(pf, "numa_node")), "-1");
    let vf = enable(&sim, pf, 1)[0];
    assert_eq!(read(&sim, &paths::device_attr(vf, "numa_node")), "-1");
    let methods = read(&sim, &paths::device_attr(vf, "reset_method"));
    assert!(methods.split_whitespace().any(|m| m == "flr"), "{methods}");
    // And discovery turns -1 into "no node".
    assert_eq!(attributes::read_pci(&sim, pf).unwrap().numa_node, None);
}

#[test]
fn nvme_keeps_vfs_on_unbind_and_igb_disables_them() {
    let nvme = host("nvme", 1);
    let pf = pf0(&nvme);
    let before = enable(&nvme, pf, 4);
    driver::unbind(&nvme, pf).unwrap();
    assert_eq!(read(&nvme, &numvfs(pf)), "4");
    assert_eq!(vfs(&nvme, pf), before);
    assert!(before.iter().all(|&vf| nvme.exists(&paths::device(vf))));

    let igb = host("igb", 1);
    let pf = pf0(&igb);
    let before = enable(&igb, pf, 3);
    driver::unbind(&igb, pf).unwrap();
    assert_eq!(read(&igb, &numvfs(pf)), "0");
    assert!(vfs(&igb, pf).is_empty());
    assert!(before.iter().all(|&vf| !igb.exists(&paths::device(vf))));
}

#[test]
fn nvme_vfs_share_the_pf_iommu_group_and_igb_vfs_get_their_own() {
    let nvme = host("nvme", 1);
    let pf = pf0(&nvme);
    let vfs_ = enable(&nvme, pf, 4);
    let group = group_of(&nvme, pf);
    assert!(vfs_.iter().all(|&vf| group_of(&nvme, vf) == group));
    let mut members = vec![pf];
    members.extend(&vfs_);
    assert_eq!(iommu::group_members(&nvme, group).unwrap(), members);

    let igb = host("igb", 1);
    let pf = pf0(&igb);
    let vfs_ = enable(&igb, pf, 7);
    let mut groups: Vec<u32> = vfs_.iter().map(|&vf| group_of(&igb, vf)).collect();
    groups.push(group_of(&igb, pf));
    groups.sort_unstable();
    groups.dedup();
    assert_eq!(groups.len(), 8, "PF and every VF in a group of its own");
    for &vf in &vfs_ {
        assert_eq!(
            iommu::group_members(&igb, group_of(&igb, vf)).unwrap(),
            vec![vf]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// QAT PF attributes and sriov_numvfs on QAT PFs
// ---------------------------------------------------------------------------------------------

#[test]
fn qat_pf_ignores_the_count_and_enables_totalvfs() {
    for family in &QAT_FAMILIES {
        let sim = host(family.name, 1);
        let pf = pf0(&sim);
        let total = read(&sim, &paths::device_attr(pf, "sriov_totalvfs"));
        let expected_total = if family.name == "dh895xcc" {
            "32"
        } else {
            "16"
        };
        assert_eq!(total, expected_total, "{}", family.name);
        write(&sim, &numvfs(pf), "1");
        assert_eq!(read(&sim, &numvfs(pf)), total, "{}", family.name);
        let vfs = vfs(&sim, pf);
        assert_eq!(vfs.len().to_string(), total, "{}", family.name);
        for vf in vfs {
            assert_eq!(
                sim.link_name(&paths::device_attr(vf, "physfn")).unwrap(),
                Some(pf.to_string())
            );
            assert_eq!(
                read(&sim, &paths::device_attr(vf, "device")),
                format!("0x{:04x}", family.vf_device)
            );
        }
        // Enabled is enabled: a different non-zero count is still N→M.
        assert_errno(sim.write(&numvfs(pf), "1"), libc::EBUSY);
    }
}

#[test]
fn qat_numvfs_zero_disables_vfs_on_newer_kernels() {
    let sim = host("4xxx", 1);
    let pf = pf0(&sim);
    let before = enable(&sim, pf, 16);
    write(&sim, &numvfs(pf), "0");
    assert_eq!(read(&sim, &numvfs(pf)), "0");
    assert!(vfs(&sim, pf).is_empty());
    assert!(before.iter().all(|&vf| !sim.exists(&paths::device(vf))));
}

#[test]
fn qat_numvfs_zero_is_einval_on_older_kernels_and_state_down_removes_vfs() {
    let sim = host("4xxx", 1);
    sim.with_kernel(|k| k.quirks.qat_numvfs_zero = false);
    let pf = pf0(&sim);
    let before = enable(&sim, pf, 16);
    assert_errno(sim.write(&numvfs(pf), "0"), libc::EINVAL);
    assert_eq!(vfs(&sim, pf), before);
    write(&sim, &paths::qat_attr(pf, "state"), "down");
    assert_eq!(read(&sim, &numvfs(pf)), "0");
    assert!(before.iter().all(|&vf| !sim.exists(&paths::device(vf))));
    // qatkit's disable path falls back to cycling the state there.
    write(&sim, &paths::qat_attr(pf, "state"), "up");
    enable(&sim, pf, 16);
    sriov::disable_vfs(&sim, pf, false).unwrap();
    assert_eq!(read(&sim, &numvfs(pf)), "0");
    assert_eq!(read(&sim, &paths::qat_attr(pf, "state")), "up");
}

#[test]
fn qat_numvfs_zero_while_vf_held_blocks() {
    let sim = host("4xxx", 1);
    let pf = pf0(&sim);
    let vfs_ = enable(&sim, pf, 16);
    bind(&sim, vfs_[3], "vfio-pci");
    sim.hold(vfs_[3], 4242).unwrap();
    let before = sim.kernel();
    assert_errno(sim.write(&numvfs(pf), "0"), BLOCKS_FOREVER);
    assert_eq!(sim.kernel(), before);
    sim.release(vfs_[3]);
    write(&sim, &numvfs(pf), "0");
    assert!(vfs(&sim, pf).is_empty());
}

#[test]
fn generic_numvfs_zero_while_vf_held_answers_blocks_forever() {
    let sim = host("igb", 1);
    let pf = pf0(&sim);
    let vfs_ = enable(&sim, pf, 2);
    bind(&sim, vfs_[1], "vfio-pci");
    sim.hold(vfs_[1], 4242).unwrap();
    assert_ne!(BLOCKS_FOREVER, libc::EBUSY);
    let before = sim.kernel();
    assert_errno(sim.write(&numvfs(pf), "0"), BLOCKS_FOREVER);
    assert_eq!(sim.kernel(), before);
    // qatkit detects the holder and refuses before writing.
    let writes = sim.writes().len();
    match sriov::disable_vfs(&sim, pf, false) {
        Err(Error::Provision(ProvisionError::DeviceOpenByVfioUser { vf, pid })) => {
            assert_eq!((vf, pid), (vfs_[1], 4242))
        }
        other => panic!("expected DeviceOpenByVfioUser, got {other:?}"),
    }
    // Not even when forced: the write would never return.
    assert!(matches!(
        sriov::disable_vfs(&sim, pf, true),
        Err(Error::Provision(
            ProvisionError::DeviceOpenByVfioUser { .. }
        ))
    ));
    assert_eq!(sim.writes().len(), writes);
}

#[test]
fn qat_state_down_removes_every_vf() {
    let sim = host("4xxx", 1);
    let pf = pf0(&sim);
    let vfs_ = enable(&sim, pf, 16);
    bind(&sim, vfs_[0], "vfio-pci");
    let node = paths::vfio_group_node(group_of(&sim, vfs_[0]));
    assert!(sim.exists(&node));
    write(&sim, &paths::qat_attr(pf, "state"), "down");
    assert_eq!(read(&sim, &paths::qat_attr(pf, "state")), "down");
    assert_eq!(read(&sim, &numvfs(pf)), "0");
    assert!(vfs(&sim, pf).is_empty());
    assert!(vfs_.iter().all(|&vf| !sim.exists(&paths::device(vf))));
    assert!(
        !sim.exists(&node),
        "the vfio-pci VF went with its group node"
    );
}

#[test]
fn qat_state_write_of_the_current_value_succeeds() {
    let sim = host("4xxx", 1);
    let pf = pf0(&sim);
    let state = paths::qat_attr(pf, "state");
    enable(&sim, pf, 16);
    let before = sim.kernel();
    write(&sim, &state, "up");
    write(&sim, &state, "up\n");
    assert_eq!(
        sim.kernel(),
        before,
        "writing up while up changes nothing, VFs included"
    );
    write(&sim, &state, "down");
    let before = sim.kernel();
    write(&sim, &state, "down");
    assert_eq!(sim.kernel(), before);
    assert_errno(sim.write(&state, "sideways"), libc::EINVAL);
}

#[test]
fn qat_state_down_while_vf_held_blocks() {
    let sim = host("4xxx", 1);
    let pf = pf0(&sim);
    let vfs_ = enable(&sim, pf, 16);
    bind(&sim, vfs_[0], "vfio-pci");
    sim.hold(vfs_[0], 77).unwrap();
    let before = sim.kernel();
    assert_errno(
        sim.write(&paths::qat_attr(pf, "state"), "down"),
        BLOCKS_FOREVER,
    );
    assert_eq!(sim.kernel(), before);
}

#[test]
fn cfg_services_is_einval_while_up() {
    let sim = host("4xxx", 1);
    let pf = pf0(&sim);
    let path = paths::qat_attr(pf, "cfg_services");
    assert_eq!(read(&sim, &paths::qat_attr(pf, "state")), "up");
    let before = read(&sim, &path);
    assert_errno(sim.write(&path, "dc"), libc::EINVAL);
    assert_eq!(read(&sim, &path), before);
    write(&sim, &paths::qat_attr(pf, "state"), "down");
    write(&sim, &path, "dc");
    assert_eq!(read(&sim, &path), "dc");
}

#[test]
fn cfg_services_read_back_is_order_insensitive() {
    let wanted = Services::SYM | Services::ASYM;
    for (canonical, expected_text) in [(true, "asym;sym"), (false, "sym;asym")] {
        let sim = host("4xxx", 1);
        sim.with_kernel(|k| k.quirks.canonical_services = canonical);
        let pf = pf0(&sim);
        let path = paths::qat_attr(pf, "cfg_services");
        write(&sim, &paths::qat_attr(pf, "state"), "down");
        write(&sim, &path, "dc");
        write(&sim, &path, "sym;asym");
        assert_eq!(
            read(&sim, &path),
            expected_text,
            "canonical_services={canonical}"
        );
        assert_eq!(qat::read_services(&sim, pf).unwrap(), Some(wanted));
        // qatkit's setter verifies as a set, so it passes on both kernels.
        qat::set_services(&sim, pf, Services::SYM | Services::DC).unwrap();
        qat::set_services(&sim, pf, wanted).unwrap();
    }
}

#[test]
fn cfg_services_duplicates_are_einval() {
    let sim = host("4xxx", 1);
    let pf = pf0(&sim);
    let path = paths::qat_attr(pf, "cfg_services");
    write(&sim, &paths::qat_attr(pf, "state"), "down");
    write(&sim, &path, "dc");
    for value in ["sym;sym", "dc;dc", "sym;asym;sym"] {
        assert_errno(sim.write(&path, value), libc::EINVAL);
        assert_eq!(read(&sim, &path), "dc", "{value}");
    }
}

#[test]
fn cfg_services_gen4_allows_one_service_or_two_without_dcc() {
    for name in ["4xxx", "401xx", "402xx", "420xx"] {
        let sim = host(name, 1);
        let pf = pf0(&sim);
        let path = paths::qat_attr(pf, "cfg_services");
        write(&sim, &paths::qat_attr(pf, "state"), "down");
        for ok in ["sym", "asym", "dc", "dcc", "asym;sym", "sym;dc", "asym;dc"] {
            write(&sim, &path, ok);
            assert_eq!(
                Services::parse_list(&read(&sim, &path)).unwrap(),
                Services::parse_list(ok).unwrap(),
                "{name}: {ok}"
            );
        }
        write(&sim, &path, "sym");
        for bad in [
            "sym;asym;dc",
            "dcc;sym",
            "dc;dcc",
            "decomp",
            "sym;decomp",
            "cy",
        ] {
            assert_errno(sim.write(&path, bad), libc::EINVAL);
            assert_eq!(read(&sim, &path), "sym", "{name}: {bad}");
        }
    }
}

#[test]
fn cfg_services_gen6_allows_up_to_three_and_decomp() {
    let sim = host("6xxx", 1);
    let pf = pf0(&sim);
    let path = paths::qat_attr(pf, "cfg_services");
    write(&sim, &paths::qat_attr(pf, "state"), "down");
    for ok in ["decomp", "sym;asym;dc", "sym;asym;decomp", "dc;decomp"] {
        write(&sim, &path, ok);
        assert_eq!(
            Services::parse_list(&read(&sim, &path)).unwrap(),
            Services::parse_list(ok).unwrap(),
            "{ok}"
        );
    }
    write(&sim, &path, "sym");
    for bad in ["sym;asym;dc;decomp", "asym;sym;dc;dcc"] {
        assert_errno(sim.write(&path, bad), libc::EINVAL);
        assert_eq!(read(&sim, &path), "sym", "{bad}");
    }
}

#[test]
fn gen2_pfs_have_no_qat_attributes() {
    for family in QAT_FAMILIES.iter().filter(|f| f.generation == 2) {
        let sim = host(family.name, 1);
        let pf = pf0(&sim);
        assert!(
            !sim.exists(&paths::qat_attr(pf, "state")),
            "{}",
            family.name
        );
        assert!(
            !sim.list(&paths::device(pf))
                .unwrap()
                .contains(&"qat".to_owned())
        );
        assert_errno(
            sim.write(&paths::qat_attr(pf, "state"), "down"),
            libc::ENOENT,
        );
        assert_errno(
            sim.write(&paths::qat_attr(pf, "cfg_services"), "sym"),
            libc::ENOENT,
        );
        match sim.read(&paths::qat_attr(pf, "state")) {
            Err(e) => assert!(is_errno(&e, libc::ENOENT), "{e}"),
            Ok(text) => panic!("gen2 {} has qat/state {text:?}", family.name),
        }
    }
}

#[test]
fn pm_idle_enabled_is_writable_only_while_down() {
    let sim = host("4xxx", 1);
    let pf = pf0(&sim);
    let path = paths::qat_attr(pf, "pm_idle_enabled");
    assert_eq!(read(&sim, &path), "1");
    assert_errno(sim.write(&path, "0"), libc::EINVAL);
    assert_eq!(read(&sim, &path), "1");
    write(&sim, &paths::qat_attr(pf, "state"), "down");
    write(&sim, &path, "0");
    assert_eq!(read(&sim, &path), "0");
    write(&sim, &path, "1");
    assert_eq!(read(&sim, &path), "1");
}

#[test]
fn auto_reset_reads_on_or_off() {
    let sim = host("4xxx", 1);
    let pf = pf0(&sim);
    let path = paths::qat_attr(pf, "auto_reset");
    assert_eq!(read(&sim, &path), "off");
    for (value, reads) in [
        ("1", "on"),
        ("0", "off"),
        ("on", "on"),
        ("off", "off"),
        ("y", "on"),
    ] {
        write(&sim, &path, value);
        assert_eq!(read(&sim, &path), reads, "after {value}");
    }
    assert_errno(sim.write(&path, "maybe"), libc::EINVAL);
    assert_eq!(read(&sim, &path), "on");
    // Writable whatever the state.
    write(&sim, &paths::qat_attr(pf, "state"), "down");
    write(&sim, &path, "off");
    assert_eq!(
        crate::discovery::read_pf(&sim, pf, &Default::default(), true)
            .unwrap()
            .auto_reset,
        Some(false)
    );
}

#[test]
fn rp2srv_is_writable_and_num_rps_is_read_only() {
    let sim = host("4xxx", 1);
    let pf = pf0(&sim);
    write(&sim, &paths::qat_attr(pf, "rp2srv"), "3");
    let num_rps = read(&sim, &paths::qat_attr(pf, "num_rps"));
    assert!(num_rps.parse::<u32>().is_ok(), "{num_rps}");
    assert_errno(
        sim.write(&paths::qat_attr(pf, "num_rps"), "8"),
        libc::EACCES,
    );
    assert_eq!(read(&sim, &paths::qat_attr(pf, "num_rps")), num_rps);
}

#[test]
fn ras_counters_read_and_reset_error_counters_clears_them() {
    let sim = host("4xxx", 1);
    let pf = pf0(&sim);
    set_qat(&sim, pf, |q| q.ras = [3, 2, 1]);
    let counter = |name| read(&sim, &paths::qat_ras(pf, name));
    assert_eq!(
        [
            counter("errors_correctable"),
            counter("errors_nonfatal"),
            counter("errors_fatal")
        ],
        ["3", "2", "1"]
    );
    assert_errno(
        sim.write(&paths::qat_ras(pf, "errors_fatal"), "0"),
        libc::EACCES,
    );
    assert_errno(
        sim.write(&paths::qat_ras(pf, "reset_error_counters"), "0"),
        libc::EINVAL,
    );
    assert_eq!(counter("errors_fatal"), "1");
    write(&sim, &paths::qat_ras(pf, "reset_error_counters"), "1");
    assert_eq!(
        [
            counter("errors_correctable"),
            counter("errors_nonfatal"),
            counter("errors_fatal")
        ],
        ["0", "0", "0"]
    );
    // Write-only: it does not read.
    assert!(
        sim.read(&paths::qat_ras(pf, "reset_error_counters"))
            .is_err()
    );
}

#[test]
fn heartbeat_status_is_in_debugfs_under_the_pf_driver_name() {
    for family in QAT_FAMILIES.iter().filter(|f| f.generation >= 4) {
        let sim = host(family.name, 1);
        let pf = pf0(&sim);
        let path = paths::heartbeat_status(family.pf_driver, pf);
        assert!(path.starts_with("/sys/kernel/debug"));
        assert_eq!(read(&sim, &path), "0", "{}", family.name);
        set_qat(&sim, pf, |q| q.heartbeat = -1);
        assert_eq!(read(&sim, &path), "-1", "{}", family.name);
        let found = crate::discovery::read_pf(&sim, pf, &Default::default(), true)
            .unwrap()
            .heartbeat;
        assert_eq!(found, Some(Heartbeat::Failed), "{}", family.name);
        assert!(!sim.exists(&paths::heartbeat_status("c6xx", pf)));
    }
}

// ---------------------------------------------------------------------------------------------
// Driver binding
// ---------------------------------------------------------------------------------------------

#[test]
fn driver_override_reads_null_when_unset_and_newline_clears_it() {
    let sim = host("4xxx", 1);
    let vf = enable(&sim, pf0(&sim), 16)[0];
    assert_eq!(read(&sim, &override_path(vf)), "(null)");
    write(&sim, &override_path(vf), "vfio-pci");
    assert_eq!(read(&sim, &override_path(vf)), "vfio-pci");
    write(&sim, &override_path(vf), "\n");
    assert_eq!(read(&sim, &override_path(vf)), "(null)");
    assert_eq!(attributes::read_driver_override(&sim, vf).unwrap(), None);
    // A trailing newline is not part of the name.
    write(&sim, &override_path(vf), "qat_vfio_pci\n");
    assert_eq!(read(&sim, &override_path(vf)), "qat_vfio_pci");
}

#[test]
fn driver_override_empty_write_is_a_noop() {
    let sim = host("4xxx", 1);
    let vf = enable(&sim, pf0(&sim), 16)[0];
    write(&sim, &override_path(vf), "vfio-pci");
    let before = sim.kernel();
    write(&sim, &override_path(vf), "");
    assert_eq!(read(&sim, &override_path(vf)), "vfio-pci");
    assert_eq!(sim.kernel(), before);
}

#[test]
fn drivers_probe_succeeds_without_binding_and_set_driver_detects_it() {
    // qat_vfio_pci does not match the 420xx VF (4947): the probe binds nothing.
    let sim = host("420xx", 1);
    let vf = enable(&sim, pf0(&sim), 16)[0];
    write(&sim, &override_path(vf), "qat_vfio_pci");
    write(&sim, drivers_probe(), &vf.to_string());
    assert_eq!(driver_of(&sim, vf), None);
    write(&sim, &override_path(vf), "\n");

    match driver::set_driver(&sim, vf, Some("qat_vfio_pci"), Some("qat_vfio_pci"), false) {
        Err(Error::Sysfs(SysfsError::Verify {
            path,
            found,
            expected,
        })) => {
            assert_eq!(path, paths::device_attr(vf, "driver"));
            assert_eq!(found, "no driver");
            assert_eq!(expected, "qat_vfio_pci");
        }
        other => panic!("expected Error::Sysfs(SysfsError::Verify), got {other:?}"),
    }
    assert_eq!(driver_of(&sim, vf), None);
    // The drivers_probe write itself went through without an error.
    let probe = sim
        .writes()
        .into_iter()
        .rfind(|w| w.path == drivers_probe())
        .unwrap();
    assert_eq!((probe.value, probe.errno), (vf.to_string(), None));
}

#[test]
fn override_and_drivers_probe_leave_a_bound_device_on_its_driver() {
    let sim = host("c62x", 1);
    sim.with_kernel(|k| k.quirks.vfio_disable_denylist = true);
    let vf = enable(&sim, pf0(&sim), 16)[0];
    assert_eq!(driver_of(&sim, vf).as_deref(), Some("c6xxvf"));
    write(&sim, &override_path(vf), "vfio-pci");
    write(&sim, drivers_probe(), &vf.to_string());
    assert_eq!(driver_of(&sim, vf).as_deref(), Some("c6xxvf"));
    assert_eq!(read(&sim, &override_path(vf)), "vfio-pci");
    // The same probe after an unbind does take vfio-pci.
    write(
        &sim,
        &paths::driver_attr("c6xxvf", "unbind"),
        &vf.to_string(),
    );
    write(&sim, drivers_probe(), &vf.to_string());
    assert_eq!(driver_of(&sim, vf).as_deref(), Some("vfio-pci"));
}

#[test]
fn binding_sequence_unbinds_through_the_device_driver_link() {
    let sim = host("igb", 1);
    let vf = enable(&sim, pf0(&sim), 1)[0];
    assert_eq!(driver_of(&sim, vf).as_deref(), Some("igbvf"));
    // `<dev>/driver/unbind` ← BDF, driver_override, drivers_probe, re-read the link.
    let unbind = paths::device_attr(vf, "driver").join("unbind");
    write(&sim, &unbind, &vf.to_string());
    assert_eq!(driver_of(&sim, vf), None);
    write(&sim, &override_path(vf), "vfio-pci");
    write(&sim, drivers_probe(), &vf.to_string());
    assert_eq!(driver_of(&sim, vf).as_deref(), Some("vfio-pci"));
    // Unbound, the device has no driver link to write through.
    write(
        &sim,
        &paths::driver_attr("vfio-pci", "unbind"),
        &vf.to_string(),
    );
    assert_errno(sim.write(&unbind, &vf.to_string()), libc::ENOENT);
}

#[test]
fn vfio_pci_bind_without_driver_override_is_enodev() {
    let sim = host("4xxx", 1);
    let vf = enable(&sim, pf0(&sim), 16)[0];
    let bind_path = paths::driver_attr("vfio-pci", "bind");
    assert_errno(sim.write(&bind_path, &vf.to_string()), libc::ENODEV);
    assert_eq!(driver_of(&sim, vf), None);
    write(&sim, &override_path(vf), "vfio-pci");
    write(&sim, &bind_path, &vf.to_string());
    assert_eq!(driver_of(&sim, vf).as_deref(), Some("vfio-pci"));
}

#[test]
fn vfio_pci_refuses_a_pf_with_vfs_enabled() {
    let sim = host("nvme", 2);
    let [with_vfs, without_vfs] = pfs(&sim)[..] else {
        panic!("two PFs")
    };
    write(&sim, &autoprobe(with_vfs), "0");
    enable(&sim, with_vfs, 2);
    for pf in [with_vfs, without_vfs] {
        driver::unbind(&sim, pf).unwrap();
        write(&sim, &override_path(pf), "vfio-pci");
        write(&sim, drivers_probe(), &pf.to_string());
    }
    assert_eq!(
        driver_of(&sim, with_vfs),
        None,
        "VFs enabled: vfio-pci refuses"
    );
    assert_eq!(read(&sim, &numvfs(with_vfs)), "2");
    assert_eq!(driver_of(&sim, without_vfs).as_deref(), Some("vfio-pci"));
}

#[test]
fn vfio_group_node_appears_on_vfio_bind_and_vanishes_on_unbind() {
    for vfio_driver in ["vfio-pci", "qat_vfio_pci"] {
        let sim = host("4xxx", 1);
        let vf = enable(&sim, pf0(&sim), 16)[0];
        let group = group_of(&sim, vf);
        let node = paths::vfio_group_node(group);
        assert_eq!(sim.access(&node).unwrap(), None);
        bind(&sim, vf, vfio_driver);
        assert_eq!(
            sim.access(&node).unwrap(),
            Some(FileAccess {
                uid: 0,
                gid: 0,
                mode: 0o600
            })
        );
        assert!(
            sim.list(Path::new("/dev/vfio"))
                .unwrap()
                .contains(&group.to_string())
        );
        driver::unbind(&sim, vf).unwrap();
        assert_eq!(sim.access(&node).unwrap(), None, "{vfio_driver}");
        assert!(!sim.exists(&node));
        assert!(
            !sim.list(Path::new("/dev/vfio"))
                .unwrap()
                .contains(&group.to_string())
        );
    }
}

#[test]
fn iommu_group_with_pf_bound_to_nvme_is_not_viable() {
    let sim = host("nvme", 1);
    let pf = pf0(&sim);
    write(&sim, &autoprobe(pf), "0");
    let vfs_ = enable(&sim, pf, 2);
    let group = group_of(&sim, pf);
    assert_eq!(group_of(&sim, vfs_[0]), group);
    // Binding the VF itself succeeds in the kernel; the PF on nvme is what blocks the group.
    write(
        &sim,
        &paths::device_attr(vfs_[0], "driver_override"),
        "vfio-pci",
    );
    write(&sim, Path::new(paths::DRIVERS_PROBE), &vfs_[0].to_string());
    assert_eq!(driver_of(&sim, vfs_[0]).as_deref(), Some("vfio-pci"));
    assert!(sim.exists(&paths::vfio_group_node(group)));
    // qat-vf's bind checks viability after binding and says what blocks it.
    match driver::set_driver(&sim, vfs_[1], Some("vfio-pci"), Some("vfio-pci"), false) {
        Err(Error::Vfio(VfioError::GroupNotViable { group: g, blockers })) => {
            assert_eq!((g, blockers[0].bdf), (group, pf));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        iommu::viability_blockers(&sim, group).unwrap(),
        vec![Blocker {
            bdf: pf,
            driver: "nvme".into()
        }]
    );
    // Unbinding the PF (nvme keeps the VFs) makes the group viable.
    driver::unbind(&sim, pf).unwrap();
    assert_eq!(vfs(&sim, pf), vfs_);
    assert_eq!(iommu::viability_blockers(&sim, group).unwrap(), vec![]);

    // With autoprobe on, nvme also takes the VFs, and each one blocks the group too.
    let sim = host("nvme", 1);
    let pf = pf0(&sim);
    let vfs_ = enable(&sim, pf, 2);
    let blockers: Vec<Bdf> = iommu::viability_blockers(&sim, group_of(&sim, pf))
        .unwrap()
        .into_iter()
        .inspect(|b| assert_eq!(b.driver, "nvme"))
        .map(|b| b.bdf)
        .collect();
    assert_eq!(blockers, [vec![pf], vfs_].concat());
}

// ---------------------------------------------------------------------------------------------
// QAT device table
// ---------------------------------------------------------------------------------------------

#[test]
fn qat_vfio_pci_binds_only_through_driver_override() {
    let sim = host("4xxx", 1);
    let pf = pf0(&sim);
    assert_eq!(read(&sim, &autoprobe(pf)), "1");
    let vfs_ = enable(&sim, pf, 16);
    assert!(
        vfs_.iter().all(|&vf| driver_of(&sim, vf).is_none()),
        "no VF driver upstream"
    );
    let vf = vfs_[0];
    write(&sim, drivers_probe(), &vf.to_string());
    assert_eq!(driver_of(&sim, vf), None);
    assert_errno(
        sim.write(&paths::driver_attr("qat_vfio_pci", "bind"), &vf.to_string()),
        libc::ENODEV,
    );
    bind(&sim, vf, "qat_vfio_pci");
    assert!(sim.exists(&paths::vfio_group_node(group_of(&sim, vf))));
}

#[test]
fn qat_vfio_pci_does_not_match_420xx_vfs() {
    let sim = host("420xx", 1);
    let vf = enable(&sim, pf0(&sim), 16)[0];
    assert_eq!(read(&sim, &paths::device_attr(vf, "device")), "0x4947");
    write(&sim, &override_path(vf), "qat_vfio_pci");
    write(&sim, drivers_probe(), &vf.to_string());
    assert_eq!(driver_of(&sim, vf), None);
    assert_errno(
        sim.write(&paths::driver_attr("qat_vfio_pci", "bind"), &vf.to_string()),
        libc::ENODEV,
    );
    assert_eq!(driver_of(&sim, vf), None);
    // vfio-pci takes it.
    bind(&sim, vf, "vfio-pci");
    // And the matching gen4 variants do work with qat_vfio_pci.
    for name in ["4xxx", "401xx", "402xx"] {
        let sim = host(name, 1);
        let vf = enable(&sim, pf0(&sim), 16)[0];
        bind(&sim, vf, "qat_vfio_pci");
    }
}

#[test]
fn vfio_pci_denylists_gen2_unless_disable_denylist() {
    for family in QAT_FAMILIES.iter().filter(|f| f.generation == 2) {
        let sim = host(family.name, 1);
        let pf = pf0(&sim);
        let param = Path::new(paths::VFIO_PCI_DISABLE_DENYLIST);
        assert_eq!(read(&sim, param), "N");
        write(&sim, &autoprobe(pf), "0");
        let vf = enable(&sim, pf, 1)[0];
        write(&sim, &override_path(vf), "vfio-pci");
        write(&sim, drivers_probe(), &vf.to_string());
        assert_eq!(
            driver_of(&sim, vf),
            None,
            "{} VF is denylisted",
            family.name
        );
        // The PF too, once it has neither driver nor VFs.
        driver::unbind(&sim, pf).unwrap();
        assert_eq!(read(&sim, &numvfs(pf)), "0");
        write(&sim, &override_path(pf), "vfio-pci");
        write(&sim, drivers_probe(), &pf.to_string());
        assert_eq!(
            driver_of(&sim, pf),
            None,
            "{} PF is denylisted",
            family.name
        );

        let sim = host(family.name, 1);
        sim.with_kernel(|k| k.quirks.vfio_disable_denylist = true);
        assert_eq!(read(&sim, param), "Y");
        let pf = pf0(&sim);
        write(&sim, &autoprobe(pf), "0");
        let vf = enable(&sim, pf, 1)[0];
        bind(&sim, vf, "vfio-pci");
        write(&sim, &numvfs(pf), "0");
        bind(&sim, pf, "vfio-pci");
    }
    // Gen4 is not on the list.
    let sim = host("4xxx", 1);
    let vf = enable(&sim, pf0(&sim), 16)[0];
    bind(&sim, vf, "vfio-pci");
}

// ---------------------------------------------------------------------------------------------
// Simulator machinery: faults, write record, state file
// ---------------------------------------------------------------------------------------------

#[test]
fn nth_write_fault_fires_once_and_changes_nothing() {
    let sim = host("igb", 1);
    let pf = pf0(&sim);
    // A write before arming does not count.
    write(&sim, &autoprobe(pf), "0");
    sim.inject(FaultTrigger::NthWrite(2), libc::EIO);
    write(&sim, &numvfs(pf), "2");
    let before = sim.kernel();
    assert_errno(sim.write(&numvfs(pf), "0"), libc::EIO);
    assert_eq!(sim.kernel(), before);
    assert!(
        sim.state().faults.is_empty(),
        "a fired NthWrite fault is disarmed"
    );
    write(&sim, &numvfs(pf), "0");
    assert_eq!(read(&sim, &numvfs(pf)), "0");
}

#[test]
fn attribute_fault_fires_on_every_matching_write() {
    let sim = host("4xxx", 1);
    let pf = pf0(&sim);
    sim.inject(FaultTrigger::Attribute("qat/state".into()), libc::EBUSY);
    sim.inject(FaultTrigger::Attribute("sriov_numvfs".into()), libc::EIO);
    let before = sim.kernel();
    for value in ["down", "down", "up"] {
        assert_errno(sim.write(&paths::qat_attr(pf, "state"), value), libc::EBUSY);
    }
    for value in ["16", "16", "0"] {
        assert_errno(sim.write(&numvfs(pf), value), libc::EIO);
    }
    assert_eq!(sim.kernel(), before);
    assert_eq!(sim.state().faults.len(), 2);
    // Other attributes are untouched by either fault.
    write(&sim, &paths::qat_attr(pf, "auto_reset"), "on");
    assert_eq!(read(&sim, &paths::qat_attr(pf, "auto_reset")), "on");
    sim.clear_faults();
    write(&sim, &paths::qat_attr(pf, "state"), "down");
    assert_eq!(read(&sim, &paths::qat_attr(pf, "state")), "down");
}

#[test]
fn write_record_contains_failed_writes_with_their_errno() {
    let sim = host("igb", 1);
    let pf = pf0(&sim);
    let _ = sim.write(&numvfs(pf), "8");
    write(&sim, &numvfs(pf), "2");
    let _ = sim.write(&numvfs(pf), "3");
    sim.inject(FaultTrigger::NthWrite(1), libc::EIO);
    let _ = sim.write(&numvfs(pf), "0");
    let record = |value: &str, errno| WriteRecord {
        path: numvfs(pf),
        value: value.into(),
        errno,
    };
    assert_eq!(
        sim.writes(),
        vec![
            record("8", Some(libc::ERANGE)),
            record("2", None),
            record("3", Some(libc::EBUSY)),
            record("0", Some(libc::EIO)),
        ]
    );
}

#[test]
fn state_file_round_trip_gives_an_equal_state() {
    let sim = host("mixed", 3);
    let qat_pf = sim
        .kernel()
        .devices
        .iter()
        .find(|(_, d)| d.qat.is_some())
        .map(|(bdf, _)| *bdf)
        .unwrap();
    let vfs_ = enable(&sim, qat_pf, 16);
    bind(&sim, vfs_[0], "vfio-pci");
    iommu::set_vfio_access(&sim, group_of(&sim, vfs_[0]), None, 990, 0o660).unwrap();
    sim.hold(vfs_[0], 1234).unwrap();
    set_qat(&sim, qat_pf, |q| {
        q.ras = [1, 2, 3];
        q.heartbeat = -1;
    });
    sim.with_kernel(|k| k.quirks.canonical_services = false);
    let _ = sim.write(&numvfs(qat_pf), "0");
    sim.inject(
        FaultTrigger::Attribute("sriov_drivers_autoprobe".into()),
        libc::EPERM,
    );
    sim.inject(FaultTrigger::NthWrite(3), libc::EIO);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("host.json");
    sim.save(&file).unwrap();
    assert!(!dir.path().join("host.json.tmp").exists());
    let loaded = SimHost::load(&file).unwrap();
    assert_eq!(loaded.state(), sim.state());
    assert_ne!(loaded.state(), host("mixed", 3).state());
    // The loaded host answers as the original would.
    assert_errno(loaded.write(&numvfs(qat_pf), "0"), BLOCKS_FOREVER);
    assert_errno(loaded.write(&autoprobe(qat_pf), "1"), libc::EPERM);

    std::fs::write(&file, "{ not json").unwrap();
    assert!(matches!(
        SimHost::load(&file),
        Err(Error::Sim(SimError::Load { .. }))
    ));
}

#[test]
fn unbinding_a_held_device_or_a_pf_with_held_vfs_blocks() {
    let sim = host("igb", 1);
    let pf = pf0(&sim);
    let vfs_ = enable(&sim, pf, 2);
    bind(&sim, vfs_[0], "vfio-pci");
    sim.hold(vfs_[0], 9).unwrap();
    let before = sim.kernel();
    let bdf = vfs_[0].to_string();
    assert_errno(
        sim.write(&paths::driver_attr("vfio-pci", "unbind"), &bdf),
        BLOCKS_FOREVER,
    );
    assert_errno(
        sim.write(&paths::driver_attr("igb", "unbind"), &pf.to_string()),
        BLOCKS_FOREVER,
    );
    assert_eq!(sim.kernel(), before);
    // qat-vf refuses before it writes.
    let writes = sim.writes().len();
    assert!(matches!(
        driver::set_driver(&sim, vfs_[0], None, None, false),
        Err(Error::Provision(ProvisionError::DeviceOpenByVfioUser {
            pid: 9,
            ..
        }))
    ));
    assert_eq!(sim.writes().len(), writes);
}

// ---------------------------------------------------------------------------------------------
// Hosts that cannot exist
// ---------------------------------------------------------------------------------------------

#[test]
fn every_preset_at_every_size_is_a_host_that_can_exist() {
    for name in Preset::names() {
        let preset = Preset::from_str(name).unwrap();
        for pfs in [1, 2, 3, 8, 9, 32, 33, 65, 256] {
            let sim = SimHost::preset(preset, pfs);
            let kernel = sim.kernel();
            assert_eq!(kernel.validate(), Ok(()), "{name} with {pfs} PFs");
            if !preset.is_fixed() {
                assert_eq!(
                    kernel
                        .devices
                        .values()
                        .filter(|d| d.sriov.is_some())
                        .count(),
                    pfs,
                    "{name} with {pfs} PFs"
                );
            }
            // Every VF enabled: still a host that can exist.
            for pf in self::pfs(&sim) {
                let _ = sim.write(&numvfs(pf), "1");
            }
            assert_eq!(
                sim.kernel().validate(),
                Ok(()),
                "{name} with {pfs} PFs, VFs on"
            );
        }
    }
}

/// A saved host, edited by `edit` as a person would edit the JSON, then loaded.
fn load_edited(edit: impl FnOnce(&mut serde_json::Value)) -> Result<SimHost, String> {
    let sim = host("4xxx", 2);
    enable(&sim, pf0(&sim), 16);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("host.json");
    sim.save(&file).unwrap();
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    edit(&mut state);
    let text = serde_json::to_string(&state).unwrap();
    std::fs::write(&file, &text).unwrap();
    let loaded = SimHost::load(&file).map_err(|e| {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            message += &format!(": {cause}");
            source = cause.source();
        }
        message
    });
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text,
        "load changed the file"
    );
    loaded
}

#[test]
fn a_hand_edited_state_whose_vfs_overlap_another_device_is_refused() {
    const FIRST: &str = "0000:6b:00.0";
    const SECOND: &str = "0000:70:00.0";
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "4096 VFs run into the next PF's bus",
            Box::new(|s| s["kernel"]["devices"][FIRST]["sriov"]["total"] = 4096.into()),
            "where another device is",
        ),
        (
            "stride 0 puts every VF at one address",
            Box::new(|s| s["kernel"]["devices"][SECOND]["sriov"]["stride"] = 0.into()),
            "has a VF already",
        ),
        (
            "offset 0 puts VF 0 on the PF",
            Box::new(|s| s["kernel"]["devices"][SECOND]["sriov"]["offset"] = 0.into()),
            "the PF itself",
        ),
        (
            "VFs past the end of the domain",
            Box::new(|s| s["kernel"]["devices"][SECOND]["sriov"]["offset"] = 65000.into()),
            "past the end of its PCI domain",
        ),
        (
            "more VFs enabled than offered",
            Box::new(|s| s["kernel"]["devices"][FIRST]["sriov"]["total"] = 8.into()),
            "VFs enabled of 8",
        ),
        (
            "an enabled VF missing",
            Box::new(|s| {
                s["kernel"]["devices"]
                    .as_object_mut()
                    .unwrap()
                    .remove("0000:6b:00.3");
            }),
            "enabled but missing",
        ),
        (
            "a device naming a PF that has no such VF",
            Box::new(|s| s["kernel"]["devices"]["0000:00:00.0"]["physfn"] = FIRST.into()),
            "which has no such VF",
        ),
        (
            "a driver that is not loaded",
            Box::new(|s| s["kernel"]["devices"][FIRST]["driver"] = "nosuch".into()),
            "which is not loaded",
        ),
        (
            "a holder of a PF",
            Box::new(|s| s["kernel"]["holders"] = serde_json::json!({ FIRST: 7 })),
            "is not a VF",
        ),
        (
            // Found by fuzzing: a stale node vanished in an apply that said "restored".
            "a /dev/vfio node of a group nobody has on VFIO",
            Box::new(|s| {
                s["kernel"]["vfio_nodes"] =
                    serde_json::json!({ "3": { "uid": 0, "gid": 0, "mode": 384 } })
            }),
            "but no device of group 3 is on a VFIO driver",
        ),
        (
            "a device on vfio-pci without its /dev/vfio node",
            Box::new(|s| s["kernel"]["devices"]["0000:6b:00.2"]["driver"] = "vfio-pci".into()),
            "but no /dev/vfio/",
        ),
        (
            // Found by fuzzing (in CI): a VF made again has its PF's vendor.
            "a VF of another vendor than its PF",
            Box::new(|s| s["kernel"]["devices"]["0000:6b:00.1"]["vendor"] = 0x8087.into()),
            "is not a VF as 0000:6b:00.0 makes them",
        ),
        (
            "a QAT PF down with VFs enabled",
            Box::new(|s| s["kernel"]["devices"][FIRST]["qat"]["state"] = "down".into()),
            "is down with 16 VFs enabled",
        ),
        (
            "a VF on another NUMA node than its PF",
            Box::new(|s| s["kernel"]["devices"]["0000:6b:00.1"]["numa_node"] = 1.into()),
            "is not a VF as 0000:6b:00.0 makes them",
        ),
        (
            // Found by fuzzing: VFs made again do not join another device's group.
            "a VF in another device's IOMMU group",
            Box::new(|s| s["kernel"]["devices"]["0000:6b:00.1"]["iommu_group"] = 2.into()),
            "which is not how 0000:6b:00.0's VFs are grouped",
        ),
        (
            // Found by fuzzing: a rollback wrote the services back as the kernel spells them.
            "services the kernel cannot have accepted",
            Box::new(|s| s["kernel"]["devices"][FIRST]["qat"]["cfg_services"] = "asym,sym".into()),
            "which the kernel cannot have accepted",
        ),
        (
            "a driver whose name is a path",
            Box::new(|s| {
                let vfio = s["kernel"]["drivers"]["vfio-pci"].clone();
                s["kernel"]["drivers"]["../x"] = vfio;
            }),
            "invalid driver name",
        ),
    ];
    for (what, edit, needle) in cases {
        match load_edited(edit) {
            Ok(_) => panic!("{what}: loaded"),
            Err(e) => assert!(
                e.contains("cannot load simulated host state") && e.contains(needle),
                "{what}: {e}"
            ),
        }
    }
    assert!(load_edited(|_| {}).is_ok());
}

#[test]
fn enabling_vfs_where_a_device_sits_is_erange_and_changes_nothing() {
    // A model built in code skips the loader's check; the write itself must not clobber.
    let sim = host("4xxx", 2);
    let first = pf0(&sim);
    sim.with_kernel(|k| {
        let sriov = k.devices.get_mut(&first).unwrap().sriov.as_mut().unwrap();
        sriov.total = 4096;
    });
    let before = sim.kernel();
    assert_errno(sim.write(&numvfs(first), "1"), libc::ERANGE);
    let mut after = sim.kernel();
    assert_eq!(after.devices, before.devices);
    after.quirks = before.quirks.clone();
    assert_eq!(after, before);
}

#[test]
fn the_state_file_is_versioned_and_round_trips_the_model() {
    let sim = host("mixed", 3);
    sim.inject(FaultTrigger::Attribute("sriov_numvfs".into()), libc::EIO);
    sim.set_process(crate::host::Memlock {
        limit: Some(1 << 20),
        locked: 4096,
        cap_ipc_lock: false,
    });
    let text = sim.state().to_json();
    let file: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(file["version"], 1);
    assert_eq!(SimState::from_json(&text).unwrap(), sim.state());

    // Files written before the version field existed are version 1, with the default process.
    let mut old = file.clone();
    old.as_object_mut().unwrap().remove("version");
    old.as_object_mut().unwrap().remove("process");
    let loaded = SimState::from_json(&old.to_string()).unwrap();
    assert_eq!(loaded.kernel, sim.kernel());
    assert_eq!(loaded.process, SimState::default().process);

    // A newer format is refused with both versions named, not misread.
    let mut newer = file;
    newer["version"] = 2.into();
    let err = SimState::from_json(&newer.to_string()).unwrap_err();
    assert!(
        err.to_string()
            .contains("state file version 2; this qatkit reads version 1"),
        "{err}"
    );
}
