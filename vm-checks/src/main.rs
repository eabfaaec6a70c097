//! Runs inside the QEMU test machine (tests/vm/run) as part of its init: checks qat-vf against
//! the real kernel's sysfs and VFIO and prints one line per check on the console.
//!
//! Protocol (parsed by tests/vm/run): `QATKIT-CHECK ok <name>` or `QATKIT-CHECK FAIL <name>:
//! <why>` per check, then `QATKIT-DONE <passed> <failed>`.

use qat_vf::{Bdf, Host, HostSysfs};

fn main() {
    let sysfs = HostSysfs::new();
    let igb: Bdf = "0000:01:00.0".parse().expect("address");
    let nvme: Bdf = "0000:02:00.0".parse().expect("address");
    let (mut passed, mut failed) = (0, 0);
    match Host::discover(&sysfs, &[igb, nvme]) {
        Ok(host) if host.pf(igb).is_some() && host.pf(nvme).is_some() => {
            println!("QATKIT-CHECK ok discover_named_pfs");
            passed += 1;
        }
        Ok(host) => {
            println!("QATKIT-CHECK FAIL discover_named_pfs: found {:?}", host.pfs.iter().map(|p| p.pci.bdf).collect::<Vec<_>>());
            failed += 1;
        }
        Err(e) => {
            println!("QATKIT-CHECK FAIL discover_named_pfs: {e}");
            failed += 1;
        }
    }
    println!("QATKIT-DONE {passed} {failed}");
}
