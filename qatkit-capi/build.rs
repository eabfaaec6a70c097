//! The shared library's soname, so programs link against ABI 0 whatever the file's full name.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libqatkit.so.{major}");
}
