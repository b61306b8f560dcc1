//! Any bytes in place of one file of a valid model folder (the first byte picks which, see
//! `model_fuzz::FILES`): `SentenceTransformer::load` must return `Ok` or `Err`, never panic
//! or abort.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use model::tch::Device;
use model::SentenceTransformer;
use model_fuzz::{write_base_folder, FILES};

/// The folder and each file's valid bytes, made once: after every input the replaced file gets
/// its bytes back, which is a fresh copy of the folder at a fraction of the cost.
struct Base {
    folder: PathBuf,
    originals: Vec<Vec<u8>>,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("model-fuzz-")
            .tempdir()
            .expect("temp dir")
            .keep();
        let folder = write_base_folder(&dir).expect("a valid tiny model folder");
        let originals = FILES
            .iter()
            .map(|name| std::fs::read(folder.join(name)).expect("base file"))
            .collect();
        Base { folder, originals }
    })
}

fuzz_target!(
    init: {
        // libfuzzer-sys aborts on every panic, even one that is caught. The model crate
        // catches the tokenizers crate's panics on malformed tokenizer.json files and returns
        // an error; a panic that escapes load still aborts in libfuzzer-sys' wrapper.
        std::panic::set_hook(Box::new(|info| eprintln!("panic: {info}")));
        // One thread: libtorch's pool only adds scheduling noise to tiny loads.
        model::tch::set_num_threads(1);
        base();
    },
    |bytes: &[u8]| {
    let Some((&pick, content)) = bytes.split_first() else {
        return;
    };
    let base = base();
    let index = usize::from(pick) % FILES.len();
    let path = base.folder.join(FILES[index]);
    std::fs::write(&path, content).expect("write input");
    let _ = SentenceTransformer::load(&base.folder, Device::Cpu);
    std::fs::write(&path, &base.originals[index]).expect("restore file");
    }
);
