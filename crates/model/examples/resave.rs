//! Loads a model folder and saves it again through this crate, or saves a tiny random model of
//! any architecture made in code, to check that Python sentence-transformers loads what we
//! write. `--tiny` also writes this crate's embeddings of the lines of `TEXTS` (one sentence a
//! line) to `OUT_DIR.npy` (float32 `[n, dim]`), for the Python side to compare with.
//!
//! Usage: resave IN_DIR OUT_DIR
//!        resave --tiny VOCAB_TXT OUT_DIR                          (BERT)
//!        resave --tiny MODEL_TYPE VOCAB_TXT OUT_DIR TEXTS

use model::{
    BertConfig, DistilBertConfig, EncodeOptions, EncoderConfig, ModernBertConfig, MpnetConfig,
    PoolingMode, Qwen3Config, RobertaConfig, SentenceTokenizer, SentenceTransformer,
};

fn tiny(model_type: &str, vocab: &str) -> Result<SentenceTransformer, Box<dyn std::error::Error>> {
    let tokenizer = SentenceTokenizer::from_vocab(vocab.as_ref(), true, 128)?;
    let n = tokenizer.vocab_size() as i64;
    let config: EncoderConfig = match model_type {
        "bert" => BertConfig::tiny(n).into(),
        "roberta" => RobertaConfig::tiny(n).into(),
        "mpnet" => MpnetConfig::tiny(n).into(),
        "distilbert" => DistilBertConfig::tiny(n).into(),
        "modernbert" => ModernBertConfig::tiny(n).into(),
        "qwen3" => Qwen3Config::tiny(n).into(),
        other => return Err(format!("no tiny config for model_type {other:?}").into()),
    };
    tch::manual_seed(0);
    Ok(SentenceTransformer::from_config(
        config,
        tokenizer,
        vec![PoolingMode::Mean],
        true,
        tch::Device::Cpu,
    )?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = match &args[..] {
        [flag, vocab, out] if flag == "--tiny" => {
            tiny("bert", vocab)?.save(out.as_ref())?;
            out
        }
        [flag, model_type, vocab, out, texts] if flag == "--tiny" => {
            let model = tiny(model_type, vocab)?;
            model.save(out.as_ref())?;
            let text = std::fs::read_to_string(texts)?;
            let lines: Vec<&str> = text.lines().collect();
            let m = model.encode(&lines, &EncodeOptions::default())?;
            data::write_npy_f32(format!("{out}.npy"), &m.data, m.rows, m.dim)?;
            out
        }
        [input, out] => {
            SentenceTransformer::load(input.as_ref(), tch::Device::Cpu)?.save(out.as_ref())?;
            out
        }
        _ => {
            return Err(
                "usage: resave IN_DIR OUT_DIR | resave --tiny VOCAB_TXT OUT_DIR | \
                        resave --tiny MODEL_TYPE VOCAB_TXT OUT_DIR TEXTS"
                    .into(),
            )
        }
    };
    println!("saved {out}");
    Ok(())
}
