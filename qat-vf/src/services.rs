//! QAT services (`qat/cfg_services`) as a set. What each generation allows is in its row of the
//! family table ([`QatFamily::check_services`](crate::pci::QatFamily::check_services)).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A service list that did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidServices {
    /// A service name is not one the kernel knows.
    #[error("unknown service {0:?} (known: sym, asym, dc, dcc, decomp)")]
    Unknown(String),
    /// A service is listed twice.
    #[error("service {0:?} is listed twice")]
    Duplicate(String),
}

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
    pub fn parse_list(text: &str) -> Result<Self, InvalidServices> {
        let mut set = Services::empty();
        for name in text.trim().split([';', ',']).map(str::trim) {
            let service = NAMES
                .iter()
                .find(|(_, n)| *n == name)
                .map(|(s, _)| *s)
                .ok_or_else(|| InvalidServices::Unknown(name.to_owned()))?;
            if set.contains(service) {
                return Err(InvalidServices::Duplicate(name.to_owned()));
            }
            set |= service;
        }
        Ok(set)
    }
}

impl fmt::Display for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

impl FromStr for Services {
    type Err = InvalidServices;
    fn from_str(s: &str) -> Result<Self, InvalidServices> {
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
    fn json_is_a_list_of_names() {
        let s = Services::SYM | Services::DC;
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"["sym","dc"]"#);
        assert_eq!(serde_json::from_str::<Services>(&json).unwrap(), s);
    }
}
