//! Loads a model folder and saves it again through this crate (or saves a tiny random BERT
//! with `--tiny`), to check that Python sentence-transformers loads what we write.
//!
//! Usage: resave IN_DIR OUT_DIR | resave --tiny VOCAB_TXT OUT_DIR

use model::{BertConfig, PoolingMode, SentenceTokenizer, SentenceTransformer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (model, out) = match &args[..] {
        [flag, vocab, out] if flag == "--tiny" => {
            let tokenizer = SentenceTokenizer::from_vocab(vocab.as_ref(), true, 128)?;
            tch::manual_seed(0);
            let config = BertConfig::tiny(tokenizer.vocab_size() as i64);
            let model = SentenceTransformer::from_config(
                &config,
                tokenizer,
                vec![PoolingMode::Mean],
                true,
                tch::Device::Cpu,
            )?;
            (model, out)
        }
        [input, out] => (
            SentenceTransformer::load(input.as_ref(), tch::Device::Cpu)?,
            out,
        ),
        _ => return Err("usage: resave IN_DIR OUT_DIR | resave --tiny VOCAB_TXT OUT_DIR".into()),
    };
    model.save(out.as_ref())?;
    println!("saved {out}");
    Ok(())
}
