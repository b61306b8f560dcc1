//! Test executables, benches and examples of this crate load libtorch at run time: give them
//! an rpath to the libtorch that torch-sys linked (`links = "tch"` exports its lib dir).
fn main() {
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}
