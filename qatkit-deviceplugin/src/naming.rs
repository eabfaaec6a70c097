//! Resource names: one per PF service set (`qat.intel.com/sym`, `qat.intel.com/sym-dc`, ...)
//! or one generic name for every VF, validated as Kubernetes validates extended resource names;
//! and the environment variable KubeVirt reads a resource's devices from.

use qat_vf::Services;
use qat_vf::domain::kubevirt::validate_resource_name;

/// The default prefix (the domain, with its `/`).
pub const DEFAULT_PREFIX: &str = "qat.intel.com/";

/// The name part for VFs whose PF has no service configuration (QAT gen2, whose VFs offer every
/// service; SR-IOV devices of other kinds), as Intel's plugin names them.
pub const GENERIC: &str = "generic";

/// How the plugin names its resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Naming {
    /// `<prefix><services>`: the services joined by `-` in the kernel's order, or `generic`.
    ByServices {
        /// A DNS subdomain followed by `/`.
        prefix: String,
    },
    /// Every VF under this one name.
    One(String),
}

impl Naming {
    /// Per services under `prefix` (a `/` is added when missing), checked by naming a resource
    /// with it.
    pub fn by_services(prefix: &str) -> Result<Self, String> {
        let prefix = if prefix.ends_with('/') {
            prefix.to_owned()
        } else {
            format!("{prefix}/")
        };
        check(&format!("{prefix}{GENERIC}"))?;
        Ok(Naming::ByServices { prefix })
    }

    /// One resource for every VF.
    pub fn one(name: &str) -> Result<Self, String> {
        check(name)?;
        Ok(Naming::One(name.to_owned()))
    }

    /// The resource of a VF whose PF runs `services`. Every service set names a valid resource
    /// (names come from the kernel's fixed list, never from the raw string); a PF whose
    /// `cfg_services` cannot be read is left out by discovery's caller, not named here.
    pub fn resource(&self, services: Option<Services>) -> String {
        match self {
            Naming::One(name) => name.clone(),
            Naming::ByServices { prefix } => match services.filter(|s| !s.is_empty()) {
                Some(services) => format!("{prefix}{}", services.names().join("-")),
                None => format!("{prefix}{GENERIC}"),
            },
        }
    }
}

fn check(name: &str) -> Result<(), String> {
    validate_resource_name(name).map_err(|e| e.to_string())
}

/// The variable KubeVirt's virt-launcher reads a resource's PCI addresses from (comma-joined):
/// `PCI_RESOURCE_` and the name in upper case with `/` and `.` made `_`, as KubeVirt's
/// `ResourceNameToEnvVar` spells it.
pub fn kubevirt_env_var(resource: &str) -> String {
    let name: String = resource
        .chars()
        .map(|c| match c {
            '/' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    format!("PCI_RESOURCE_{name}")
}

/// The socket file a resource is served on, in the plugin directory.
pub fn socket_name(resource: &str) -> String {
    let name: String = resource
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("qatkit-{name}.sock")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_set_names_a_valid_resource() {
        let naming = Naming::by_services(DEFAULT_PREFIX).unwrap();
        for bits in 0..=Services::all().bits() {
            let services = Services::from_bits_truncate(bits);
            let name = naming.resource(Some(services));
            validate_resource_name(&name).unwrap();
        }
        assert_eq!(
            naming.resource(Some(Services::SYM | Services::DC)),
            "qat.intel.com/sym-dc"
        );
        assert_eq!(
            naming.resource(Some(Services::ASYM | Services::SYM)),
            "qat.intel.com/asym-sym"
        );
        assert_eq!(naming.resource(None), "qat.intel.com/generic");
    }

    #[test]
    fn bad_prefixes_and_names_are_refused_with_the_rule() {
        assert!(Naming::by_services("Intel.com").is_err());
        assert!(Naming::by_services("kubernetes.io/").is_err());
        assert!(Naming::one("qat").is_err());
        assert!(Naming::one("qat.intel.com/sym;dc").is_err());
        assert_eq!(
            Naming::by_services("example.com").unwrap(),
            Naming::ByServices {
                prefix: "example.com/".into()
            }
        );
    }

    #[test]
    fn the_kubevirt_variable_is_spelled_as_kubevirt_derives_it() {
        assert_eq!(
            kubevirt_env_var("qat.intel.com/sym-dc"),
            "PCI_RESOURCE_QAT_INTEL_COM_SYM-DC"
        );
        assert_eq!(
            kubevirt_env_var("intel.com/qat_4xxx_vf"),
            "PCI_RESOURCE_INTEL_COM_QAT_4XXX_VF"
        );
    }
}
