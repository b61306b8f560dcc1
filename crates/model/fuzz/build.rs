//! The fuzz binaries link libtorch: give them an rpath to the libtorch torch-sys linked, as
//! `crates/model/build.rs` does for the model crate's own executables (`DEP_TCH_LIBTORCH_LIB`
//! reaches only crates that depend on torch-sys, hence the direct dependency).
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}
