//! Compiles src/shim.cpp against the libtorch that torch-sys links (its lib folder comes as
//! DEP_TCH_LIBTORCH_LIB), with the same C++ flags torch-sys uses for its own C++.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/shim.cpp");
    println!("cargo:rerun-if-changed=src/dropout.cpp");
    println!("cargo:rerun-if-changed=src/linear.cpp");
    println!("cargo:rerun-if-changed=src/shim_error.h");
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
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_owned());
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .flag("-DGLOG_USE_GLOG_EXPORT")
        .file("src/shim.cpp")
        .file("src/dropout.cpp")
        .file("src/linear.cpp")
        .compile("torch_ext_shim");
}
