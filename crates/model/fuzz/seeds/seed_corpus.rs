//! Writes one input per file of `model_fuzz::FILES` into the corpus folder given as argument:
//! the file's index as the first byte, then its valid bytes from the base folder, so the fuzzer
//! starts from files that load.

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let corpus = std::env::args()
        .nth(1)
        .ok_or("usage: seed_corpus <corpus dir>")?;
    let corpus = Path::new(&corpus);
    std::fs::create_dir_all(corpus)?;
    let scratch = tempfile::tempdir()?;
    let folder = model_fuzz::write_base_folder(scratch.path())?;
    for (index, name) in model_fuzz::FILES.iter().enumerate() {
        let mut input = vec![u8::try_from(index)?];
        input.extend(std::fs::read(folder.join(name))?);
        let seed = corpus.join(format!("{index:02}-{}", name.replace('/', "-")));
        std::fs::write(seed, input)?;
    }
    Ok(())
}
