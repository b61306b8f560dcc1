//! Compiles the C++ shim against the libtorch that torch-sys links (its lib folder comes as
//! DEP_TCH_LIBTORCH_LIB), with the same C++ flags torch-sys uses for its own C++. With the
//! `nccl` feature it also compiles ProcessGroupNCCL's binding, against the CUDA and NCCL
//! headers of the CUDA torch install `cargo xtask setup --cuda` links, and links
//! libtorch_cuda.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/shim.cpp");
    println!("cargo:rerun-if-changed=src/dropout.cpp");
    println!("cargo:rerun-if-changed=src/linear.cpp");
    println!("cargo:rerun-if-changed=src/shim_error.h");
    println!("cargo:rerun-if-changed=src/c10d.cpp");
    println!("cargo:rerun-if-changed=src/c10d_nccl.cpp");
    println!("cargo:rerun-if-changed=src/c10d_handles.h");
    println!("cargo:rerun-if-env-changed=CUDA_INCLUDE_DIR");
    println!("cargo:rerun-if-env-changed=NCCL_INCLUDE_DIR");
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
    let mut build = cc::Build::new();
    if std::env::var_os("CARGO_FEATURE_NCCL").is_some() {
        for dir in cuda_includes(&root) {
            build.include(dir);
        }
        build
            .flag("-DUSE_C10D_NCCL")
            .flag("-DUSE_CUDA")
            .file("src/c10d_nccl.cpp");
        println!("cargo:rustc-link-lib=dylib=torch_cuda");
        println!("cargo:rustc-link-lib=dylib=c10_cuda");
    }
    build
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

/// The CUDA runtime's and NCCL's headers for ProcessGroupNCCL.hpp: `CUDA_INCLUDE_DIR` and
/// `NCCL_INCLUDE_DIR`, else the `nvidia/…/include` folders the pip CUDA wheels install beside
/// the linked torch, else the CUDA toolkit's.
fn cuda_includes(torch_root: &std::path::Path) -> Vec<PathBuf> {
    let site = std::fs::canonicalize(torch_root)
        .ok()
        .and_then(|t| t.parent().map(PathBuf::from));
    let mut found = Vec::new();
    // The CUDA headers must be whole: cuda_runtime.h includes crt/host_config.h (the
    // nvidia-cuda-crt wheel, not a torch dependency) and cuda_fp16.h nv/target (CCCL).
    for (var, headers, wheel_dirs) in [
        (
            "CUDA_INCLUDE_DIR",
            &["cuda_runtime_api.h", "crt/host_config.h", "nv/target"][..],
            &["nvidia/cu13/include", "nvidia/cuda_runtime/include"][..],
        ),
        (
            "NCCL_INCLUDE_DIR",
            &["nccl.h"][..],
            &["nvidia/nccl/include"][..],
        ),
    ] {
        let candidates = std::env::var_os(var)
            .map(PathBuf::from)
            .into_iter()
            .chain([PathBuf::from("/usr/local/cuda/include")])
            .chain(
                wheel_dirs
                    .iter()
                    .filter_map(|d| site.as_ref().map(|s| s.join(d))),
            )
            .chain([PathBuf::from("/usr/include")]);
        match candidates
            .into_iter()
            .find(|dir| headers.iter().all(|h| dir.join(h).exists()))
        {
            Some(dir) => found.push(dir),
            None => panic!(
                "the nccl feature needs {}: set {var} to a folder with them (a CUDA \
                 toolkit's include/), or `pip install nvidia-cuda-crt nvidia-cuda-cccl` (the \
                 CUDA major of your torch) into the torch install `cargo xtask setup --cuda` \
                 links",
                headers.join(", ")
            ),
        }
    }
    found
}
