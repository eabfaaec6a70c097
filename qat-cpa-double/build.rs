//! With feature `qatlib`: compiles the C double (`c/*.c`) against the real qatlib headers that
//! qat-sys found (`DEP_QAT_QATLIB_INCLUDE`), and links it whole-archive so that its definitions
//! land in every executable that links this crate, ahead of libqat's and libusdm's. Without the
//! feature it does nothing.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=c");
    if std::env::var_os("CARGO_FEATURE_QATLIB").is_some() {
        double::build();
    }
}

mod double {
    use std::env;
    use std::path::{Path, PathBuf};

    /// The archive's name: `libqat_cpa_double.a`.
    const LIB: &str = "qat_cpa_double";

    pub(super) fn build() {
        println!("cargo:rerun-if-env-changed=DEP_QAT_QATLIB_INCLUDE");
        let includes = env::var("DEP_QAT_QATLIB_INCLUDE").unwrap_or_else(|_| {
            panic!(
                "qat-cpa-double: feature `qatlib` is on but qat-sys exported no qatlib include \
                 directory (DEP_QAT_QATLIB_INCLUDE); qat-sys's `qatlib` feature must be on"
            )
        });
        let mut build = cc::Build::new();
        let mut found = false;
        for dir in includes.split(':').filter(|d| !d.is_empty()) {
            let dir = Path::new(dir);
            // The double includes <qat/cpa.h>: the directory above `qat/` must be on the path,
            // whichever of the two a .pc file names.
            if dir.join("qat/cpa.h").is_file() {
                build.include(dir);
                found = true;
            } else if dir.join("cpa.h").is_file() && dir.ends_with("qat") {
                build.include(
                    dir.parent()
                        .expect("a directory ending in qat has a parent"),
                );
                found = true;
            } else {
                build.include(dir);
            }
        }
        assert!(
            found,
            "qat-cpa-double: no qat/cpa.h under qatlib's include directories {includes:?}"
        );
        let mut sources: Vec<PathBuf> = std::fs::read_dir("c")
            .expect("qat-cpa-double: c/ is readable")
            .map(|e| e.expect("qat-cpa-double: c/ lists").path())
            .filter(|p| p.extension().is_some_and(|x| x == "c"))
            .collect();
        sources.sort();
        for source in &sources {
            println!("cargo:rerun-if-changed={}", source.display());
        }
        build
            .files(&sources)
            .include("c")
            .flag("-std=gnu11")
            .warnings(true)
            .extra_warnings(true)
            .warnings_into_errors(true)
            .flag("-pthread")
            // The link line below is ours: whole-archive, so no definition is left out because
            // nothing in Rust references it, and the double's symbols win over libqat.so's.
            .cargo_metadata(false)
            .compile(LIB);
        let out = env::var("OUT_DIR").expect("cargo sets OUT_DIR");
        println!("cargo:rustc-link-search=native={out}");
        println!("cargo:rustc-link-lib=static:+whole-archive={LIB}");
        println!("cargo:rustc-link-lib=crypto");
        println!("cargo:rustc-link-lib=pthread");
    }
}
