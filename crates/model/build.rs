//! Executables that link libtorch (tests, benches, examples, and train-cli, which shares this
//! script) need it at run time: give them an rpath to the libtorch torch-sys linked
//! (`links = "tch"` exports its lib dir). With a CUDA libtorch, force a NEEDED entry for
//! libtorch_cuda: nothing references its symbols directly, so `--as-needed` would drop it and
//! CUDA would silently be unavailable.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        if std::path::Path::new(&lib).join("libtorch_cuda.so").exists() {
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
        }
    }
}
