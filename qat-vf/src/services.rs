//! QAT services (`qat/cfg_services`) as a set, and what each generation allows.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;
use crate::pci::QatFamily;

bitflags::bitflags! {
    /// A set of QAT services. Parsed order-insensitively, because newer kernels read
    /// `cfg_services` back in their own order and older ones echo what was written.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct Services: u8 {
        /// Asymmetric crypto (RSA, ECDSA, DH).
        const ASYM = 1;
        /// Symmetric crypto (ciphers, hashes, AEAD).
        const SYM = 1 << 1;
        /// Compression and decompression.
        const DC = 1 << 2;
        /// Chained compression (gen4+; not combinable with another service on gen4).
        const DCC = 1 << 3;
        /// Decompression only (gen6).
        const DECOMP = 1 << 4;
    }
}

/// Names in the kernel's canonical order (drivers/crypto/intel/qat adf_cfg_services.c).
const NAMES: [(Services, &str); 5] = [
    (Services::ASYM, "asym"),
    (Services::SYM, "sym"),
    (Services::DC, "dc"),
    (Services::DCC, "dcc"),
    (Services::DECOMP, "decomp"),
];

impl Services {
    /// Names of the services in the kernel's canonical order.
    pub fn names(self) -> Vec<&'static str> {
        NAMES
            .iter()
            .filter(|(s, _)| self.contains(*s))
            .map(|(_, n)| *n)
            .collect()
    }

    /// The string written to `cfg_services`: names joined by `;`.
    pub fn to_cfg_string(self) -> String {
        self.names().join(";")
    }

    /// Parses a list separated by `;` or `,` (the kernel's and the command line's spelling).
    /// A duplicate name is an error, as it is for newer kernels.
    pub fn parse_list(text: &str) -> Result<Self, Error> {
        let mut set = Services::empty();
        for name in text.trim().split([';', ',']).map(str::trim) {
            let service = NAMES
                .iter()
                .find(|(_, n)| *n == name)
                .map(|(s, _)| *s)
                .ok_or_else(|| Error::ParseService(name.to_owned()))?;
            if set.contains(service) {
                return Err(Error::DuplicateService(name.to_owned()));
            }
            set |= service;
        }
        Ok(set)
    }

    /// Checks the combination against what the family's kernel driver accepts, and says why not.
    pub fn check_allowed(self, family: &QatFamily) -> Result<(), String> {
        if !family.has_cfg_services() {
            return Err(format!(
                "{} (gen{}) has no configurable services",
                family.name, family.generation
            ));
        }
        let count = self.bits().count_ones();
        if count == 0 {
            return Err("at least one service is needed".into());
        }
        match family.generation {
            4 => {
                if self.contains(Services::DECOMP) {
                    return Err(format!("{} does not offer decomp (gen6 only)", family.name));
                }
                if count > 2 {
                    return Err(format!("{} allows at most two services", family.name));
                }
                if count == 2 && self.contains(Services::DCC) {
                    return Err(format!("{} allows dcc only on its own", family.name));
                }
            }
            _ => {
                if count > 3 {
                    return Err(format!("{} allows at most three services", family.name));
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

impl FromStr for Services {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Services::parse_list(s)
    }
}

impl Serialize for Services {
    /// A list of names, e.g. `["sym", "dc"]`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}

impl<'de> Deserialize<'de> for Services {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        Services::parse_list(&names.join(";")).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_is_order_insensitive_and_strict() {
        let a: Services = "sym;asym".parse().unwrap();
        let b: Services = "asym;sym".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_cfg_string(), "asym;sym");
        assert_eq!(
            "dc,sym".parse::<Services>().unwrap().to_cfg_string(),
            "sym;dc"
        );
        assert!("sym;sym".parse::<Services>().is_err());
        assert!("cy".parse::<Services>().is_err());
        assert!("".parse::<Services>().is_err());
        assert!("sym;".parse::<Services>().is_err());
    }

    #[test]
    fn generation_rules() {
        let gen4 = QatFamily::by_name("4xxx").unwrap();
        let gen6 = QatFamily::by_name("6xxx").unwrap();
        let gen2 = QatFamily::by_name("c62x").unwrap();
        let ok = |s: &str, f| Services::parse_list(s).unwrap().check_allowed(f).is_ok();
        assert!(ok("sym;dc", gen4));
        assert!(ok("dcc", gen4));
        assert!(!ok("dcc;sym", gen4));
        assert!(!ok("sym;asym;dc", gen4));
        assert!(!ok("decomp", gen4));
        assert!(ok("sym;asym;decomp", gen6));
        assert!(!ok("sym;asym;dc;decomp", gen6));
        assert!(!ok("sym", gen2));
    }

    #[test]
    fn json_is_a_list_of_names() {
        let s = Services::SYM | Services::DC;
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"["sym","dc"]"#);
        assert_eq!(serde_json::from_str::<Services>(&json).unwrap(), s);
    }
}
