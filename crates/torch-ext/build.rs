//! Compiles src/shim.cpp against the libtorch that torch-sys links (its lib folder comes as
//! DEP_TCH_LIBTORCH_LIB), with the same C++ flags torch-sys uses for its own C++.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/shim.cpp");
    println!("cargo:rerun-if-changed=src/dropout.cpp");
    println!("cargo:rerun-if-changed=src/linear.cpp");
    println!("cargo:rerun-if-changed=src/shim_error.h");
    println!("cargo:rerun-if-changed=src/c10d.cpp");
    println!("cargo:rerun-if-env-changed=GLOO_INCLUDE_DIR");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let Some(lib) = std::env::var_os("DEP_TCH_LIBTORCH_LIB") else {
        panic!("torch-sys did not report its libtorch folder (DEP_TCH_LIBTORCH_LIB)");
    };
    // This crate's own test binary runs against that libtorch too.
    println!(
        "cargo:rustc-link-arg=-Wl,-rpath,{}",
        PathBuf::from(&lib).display()
    );
    let root = PathBuf::from(lib)
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let include = root.join("include");
    let gloo = gloo_include();
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_owned());
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .include(&gloo)
        .flag("-DGLOG_USE_GLOG_EXPORT")
        // ProcessGroupGloo.hpp declares its class only with this defined.
        .flag("-DUSE_C10D_GLOO")
        .file("src/shim.cpp")
        .file("src/dropout.cpp")
        .file("src/linear.cpp")
        .file("src/c10d.cpp")
        .compile("torch_ext_shim");
}

/// Gloo's own headers (the torch wheel leaves them out): `GLOO_INCLUDE_DIR`, which
/// `.cargo/config.toml` points at the copy `cargo xtask setup` installs, or a system install.
fn gloo_include() -> PathBuf {
    let candidates = std::env::var_os("GLOO_INCLUDE_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            PathBuf::from("/usr/include"),
            PathBuf::from("/usr/local/include"),
        ]);
    for dir in candidates {
        if dir.join("gloo/algorithm.h").is_file() {
            return dir;
        }
    }
    panic!(
        "Gloo's headers were not found (GLOO_INCLUDE_DIR={:?}, /usr/include/gloo): run \
         `cargo xtask setup`, which installs them into .gloo/include, or install Debian's \
         libgloo-dev",
        std::env::var_os("GLOO_INCLUDE_DIR")
    );
}
