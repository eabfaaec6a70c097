//! qatkit's elements inserted into any domain document. Invariants: no panic; only well-formed
//! documents are accepted, and the output is well-formed; running again changes nothing; taking
//! qatkit's elements out again gives the input with its own taken out (every other byte kept);
//! the output holds exactly the VFs asked for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qat_vf::Bdf;
use qat_vf::domain::{self, Allocated, DomainInfo, HostdevOptions};

/// Up to 31 VFs over two PFs, and the options, from one byte each.
fn request(vfs: u8, options: u8) -> (Vec<Allocated>, HostdevOptions) {
    let pf = |bus| Bdf::new(0, bus, 0, 0).unwrap();
    let vfs = (0..vfs % 32)
        .map(|i| {
            let (pf, bus) = if i % 2 == 0 {
                (pf(0x6b), 0x6b)
            } else {
                (pf(0x70), 0x70)
            };
            let n = i / 2 + 1;
            Allocated {
                vf: Bdf::new(0, bus, n / 8, n % 8).unwrap(),
                pf,
                numa_node: None,
            }
        })
        .collect();
    let opts = HostdevOptions {
        managed: options & 1 != 0,
        model: (options & 2 != 0).then(|| "qat_vfio_pci".to_owned()),
        rom_bar_off: options & 4 != 0,
        alias_prefix: if options & 8 != 0 { "ua-q" } else { "ua-qat-" }.to_owned(),
    };
    (vfs, opts)
}

fn well_formed(xml: &str) -> bool {
    roxmltree::Document::parse(xml.strip_prefix('\u{feff}').unwrap_or(xml)).is_ok()
}

/// `<devices/>` is opened up to take elements, so compare with it opened.
fn devices_opened(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(at) = rest.find("<devices>") {
        let after = &rest[at + "<devices>".len()..];
        let inner = after.len() - after.trim_start().len();
        out.push_str(&rest[..at]);
        if after[inner..].starts_with("</devices>") {
            out.push_str("<devices/>");
            rest = &after[inner + "</devices>".len()..];
        } else {
            out.push_str("<devices>");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fuzz_target!(|data: &[u8]| {
    let [vfs, options, document @ ..] = data else {
        return;
    };
    let Ok(xml) = std::str::from_utf8(document) else {
        return;
    };
    let (vfs, opts) = request(*vfs, *options);
    let Ok(out) = domain::insert(xml, &vfs, &opts) else {
        return;
    };
    assert!(well_formed(xml), "a malformed document was accepted");
    assert!(well_formed(&out), "malformed output:\n{out}");
    let again = domain::insert(&out, &vfs, &opts).expect("qatkit's own output is refused");
    assert_eq!(again, out, "not idempotent");
    let without_out = domain::insert(&out, &[], &opts).expect("taking out");
    let without_in = domain::insert(xml, &[], &opts).expect("taking out of the input");
    assert_eq!(
        devices_opened(&without_out),
        devices_opened(&without_in),
        "bytes outside qatkit's elements changed"
    );
    let before = DomainInfo::parse(xml, &opts.alias_prefix).expect("parsed once");
    let after = DomainInfo::parse(&out, &opts.alias_prefix).expect("output parses");
    let mut own = after.own_sources.clone();
    own.sort_unstable();
    let mut asked: Vec<Bdf> = vfs.iter().map(|a| a.vf).collect();
    asked.sort_unstable();
    assert_eq!(own, asked, "the output holds other VFs than asked for");
    assert_eq!(after.other_sources, before.other_sources);
});
