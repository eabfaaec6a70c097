//! include/qatkit.h is what the pinned cbindgen generates from this crate, with version macros
//! from Cargo.toml. `QATKIT_BLESS=1 cargo test -p qatkit-capi --test header` rewrites it.

use std::path::PathBuf;

fn generate() -> String {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    config.after_includes = Some(format!(
        "\n#define QATKIT_VERSION_MAJOR {}\n#define QATKIT_VERSION_MINOR {}\n#define QATKIT_VERSION_PATCH {}\n#define QATKIT_VERSION \"{}\"",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION"),
    ));
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut out);
    String::from_utf8(out).expect("the header is UTF-8")
}

#[test]
fn the_committed_header_is_what_cbindgen_generates() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../include/qatkit.h");
    let generated = generate();
    if std::env::var_os("QATKIT_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/qatkit.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/qatkit.h is out of date: run QATKIT_BLESS=1 cargo test -p qatkit-capi --test header"
    );
}

#[test]
fn the_committed_headers_version_is_the_packages() {
    // The header a C program includes says which library it was written for.
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../include/qatkit.h");
    let committed = std::fs::read_to_string(&path).expect("include/qatkit.h");
    for (name, value) in [
        ("QATKIT_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("QATKIT_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("QATKIT_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH")),
        (
            "QATKIT_VERSION",
            &format!("\"{}\"", env!("CARGO_PKG_VERSION")),
        ),
    ] {
        let line = format!("#define {name} {value}\n");
        assert!(committed.contains(&line), "include/qatkit.h lacks {line:?}");
    }
}
