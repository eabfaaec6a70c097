//! Finds QATzip and qatlib with pkg-config and generates their bindings with bindgen, for the
//! features that are on. With no feature on, it does nothing and the crate links nothing.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(any(feature = "qatzip", feature = "qatlib"))]
    generate::run();
}

#[cfg(any(feature = "qatzip", feature = "qatlib"))]
mod generate {
    use std::env;
    use std::path::PathBuf;

    /// An install prefix to search first (e.g. /opt/qat), before pkg-config's own paths.
    const PREFIX_VAR: &str = "QAT_SYS_PREFIX";
    /// 1.3.0 added the deflate-ext session (zlib format) and the end-of-stream query that
    /// qat-crypto relies on.
    #[cfg(feature = "qatzip")]
    const QATZIP_MIN: &str = "1.3.0";
    #[cfg(feature = "qatlib")]
    const QATLIB_MIN: &str = "24.02.0";

    pub(super) fn run() {
        for var in [
            PREFIX_VAR,
            "PKG_CONFIG_PATH",
            "PKG_CONFIG_LIBDIR",
            "PKG_CONFIG_SYSROOT_DIR",
            "LIBCLANG_PATH",
        ] {
            println!("cargo:rerun-if-env-changed={var}");
        }
        if let Some(prefix) = env::var_os(PREFIX_VAR) {
            let mut path = PathBuf::from(&prefix)
                .join("lib/pkgconfig")
                .into_os_string();
            if let Some(old) = env::var_os("PKG_CONFIG_PATH") {
                path.push(":");
                path.push(old);
            }
            // SAFETY: a build script runs on one thread, so nothing reads the environment while
            // it changes; pkg-config reads PKG_CONFIG_PATH.
            unsafe { env::set_var("PKG_CONFIG_PATH", path) };
        }
        let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
        #[cfg(feature = "qatzip")]
        bind(
            "qatzip",
            QATZIP_MIN,
            "QATzip (Fedora/RHEL: qatzip-devel; Ubuntu 24.04+/Debian 13: libqatzip-dev), or set QAT_SYS_PREFIX to its install prefix",
            "#include <qatzip.h>\n",
            &["qz.*", "Qz.*", "QZ_.*", "PinMem_.*"],
            &out.join("qatzip.rs"),
        );
        #[cfg(feature = "qatlib")]
        bind(
            "qatlib",
            QATLIB_MIN,
            "qatlib (Fedora/RHEL: qatlib-devel; Ubuntu 24.04+/Debian 13: libqat-dev), or set QAT_SYS_PREFIX to its install prefix",
            "#include <qat/cpa.h>\n#include <qat/cpa_dc.h>\n#include <qat/cpa_cy_sym.h>\n#include <qat/cpa_cy_im.h>\n#include <qat/cpa_cy_rsa.h>\n#include <qat/cpa_cy_ecdsa.h>\n#include <qat/cpa_cy_ec.h>\n#include <qat/icp_sal_user.h>\n#include <qat/icp_sal_poll.h>\n#include <qat/qae_mem.h>\n",
            &["cpa.*", "Cpa.*", "CPA_.*", "icp_sal_.*", "qae.*"],
            &out.join("qatlib.rs"),
        );
    }

    fn bind(name: &str, min: &str, install: &str, header: &str, allow: &[&str], dest: &PathBuf) {
        let library = pkg_config::Config::new().atleast_version(min).probe(name).unwrap_or_else(|e| {
            panic!(
                "\n\nqat-sys: feature `{name}` is on, but {name} >= {min} was not found by pkg-config.\n\
                 Install {install}.\npkg-config said: {e}\n\n"
            )
        });
        // Let qat-sys's own tests and examples find the shared library without LD_LIBRARY_PATH.
        for dir in &library.link_paths {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
        }
        let mut builder = bindgen::Builder::default()
            .header_contents(&format!("{name}_wrapper.h"), header)
            // QZ_OK is 0 and the errors are negative: constants must be signed to compare.
            .default_macro_constant_type(bindgen::MacroTypeVariation::Signed)
            // Many CPA enums start at 1: a zeroed struct must not hold an invalid Rust enum.
            .default_enum_style(bindgen::EnumVariation::Consts)
            // Enum constants keep their C names (they are global in C too).
            .prepend_enum_name(false)
            .layout_tests(true)
            // Generated unsafe fns wrap their unsafe operations (unsafe_op_in_unsafe_fn).
            .wrap_unsafe_ops(true)
            .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
        for pattern in allow {
            builder = builder
                .allowlist_function(pattern)
                .allowlist_type(pattern)
                .allowlist_var(pattern);
        }
        for dir in &library.include_paths {
            builder = builder.clang_arg(format!("-I{}", dir.display()));
        }
        let bindings = builder.generate().unwrap_or_else(|e| {
            panic!("qat-sys: bindgen failed on {name}'s headers (libclang-dev installed?): {e}")
        });
        bindings
            .write_to_file(dest)
            .unwrap_or_else(|e| panic!("qat-sys: cannot write {}: {e}", dest.display()));
        println!(
            "cargo:{name}_include={}",
            library
                .include_paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        );
    }
}
