//! Everything an operator types that qatkit parses or checks: PCI addresses, service lists,
//! modes, drivers, resource names, alias prefixes. Invariants: no panic; what parses prints
//! back to text that parses to the same value; what is accepted as a name is safe where it goes
//! (a sysfs path component, XML, YAML, JSON).
#![no_main]

use libfuzzer_sys::fuzz_target;
use qat_vf::domain::{kubevirt, validate_alias_prefix};
use qat_vf::provision::{VfDriver, VfioAccess};
use qat_vf::{Bdf, Services};

fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"/\\<>&'\"".contains(&b))
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    match which % 6 {
        0 => {
            if let Ok(bdf) = text.parse::<Bdf>() {
                let shown = bdf.to_string();
                assert_eq!(shown.parse::<Bdf>().unwrap(), bdf);
                assert!(bdf.device <= 31 && bdf.function <= 7);
                assert!(plain_name(&shown));
            }
        }
        1 => {
            if let Ok(services) = text.parse::<Services>() {
                assert_eq!(services.to_string().parse::<Services>().unwrap(), services);
                let cfg = services.to_cfg_string();
                assert_eq!(Services::parse_list(&cfg).unwrap(), services);
            }
        }
        2 => {
            if let Ok(mode) = VfioAccess::parse_mode(text) {
                assert!(mode <= 0o777);
                assert_eq!(VfioAccess::parse_mode(&format!("{mode:o}")).unwrap(), mode);
            }
        }
        3 => {
            if let Ok(driver) = text.parse::<VfDriver>() {
                let shown = driver.to_string();
                assert_eq!(shown.parse::<VfDriver>().unwrap(), driver);
                assert!(plain_name(&shown), "{shown:?}");
            }
        }
        4 => {
            // Kubernetes' IsExtendedResourceName, read from its source once more: "requests."
            // and the name must make a qualified name (DNS-1123 subdomain of at most 253, "/",
            // a name of at most 63), and no kubernetes.io domain.
            if kubevirt::validate_resource_name(text).is_ok() {
                let (domain, name) = text.split_once('/').unwrap();
                let label = |l: &str| {
                    !l.is_empty()
                        && l.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                };
                assert!(("requests.".len() + domain.len()) <= 253 && domain.split('.').all(label));
                let edge = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
                assert!(name.len() <= 63 && edge(name.bytes().next()) && edge(name.bytes().last()));
                assert!(
                    name.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                );
                assert!(!text.contains("kubernetes.io/") && !text.starts_with("requests."));
            }
        }
        _ => {
            if validate_alias_prefix(text).is_ok() {
                assert!(text.starts_with("ua-") && plain_name(text));
            }
        }
    }
});
