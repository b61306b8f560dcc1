//! AdamW with decoupled weight decay (as `torch.optim.AdamW`), written out so that its state
//! can be checkpointed and restored exactly — tch's optimizers keep theirs inside libtorch.

use std::path::Path;

use tch::{Kind, Tensor};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWSettings {
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
    pub weight_decay: f64,
}

#[derive(Debug)]
struct Parameter {
    name: String,
    value: Tensor,
    decay: bool,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
}

/// AdamW over named trainable tensors.
#[derive(Debug)]
pub struct AdamW {
    settings: AdamWSettings,
    params: Vec<Parameter>,
    /// Optimizer steps taken: drives the bias correction.
    steps: u64,
}

fn global_norm(grads: &[Tensor]) -> f64 {
    let norms: Vec<Tensor> = grads
        .iter()
        .map(|g| g.norm().to_kind(Kind::Float))
        .collect();
    if norms.is_empty() {
        return 0.0;
    }
    Tensor::stack(&norms, 0).norm().double_value(&[])
}

fn scale(grads: &[Tensor], factor: f64) {
    tch::no_grad(|| {
        for g in grads {
            let _ = g.shallow_clone().g_mul_scalar_(factor);
        }
    });
}

/// Biases and LayerNorm weights are not decayed (sentence-transformers' and BERT's convention).
pub fn decays(name: &str) -> bool {
    !(name.ends_with("bias") || name.contains("LayerNorm") || name.contains("layer_norm"))
}

impl AdamW {
    /// `params`: `(name, tensor)` pairs; only tensors that require grad are optimised. Names
    /// must be unique: they key the saved state.
    pub fn new(params: Vec<(String, Tensor)>, settings: AdamWSettings) -> Self {
        let mut params: Vec<Parameter> = params
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .map(|(name, value)| Parameter {
                decay: decays(&name),
                exp_avg: value.zeros_like().detach(),
                exp_avg_sq: value.zeros_like().detach(),
                name,
                value,
            })
            .collect();
        params.sort_by(|a, b| a.name.cmp(&b.name));
        Self {
            settings,
            params,
            steps: 0,
        }
    }

    pub fn steps(&self) -> u64 {
        self.steps
    }

    pub fn parameter_count(&self) -> usize {
        self.params.len()
    }

    /// Replaces sparse gradients (the vocabulary tables') by dense ones, so that clipping, the
    /// fused update and a distributed all-reduce see plain tensors.
    pub fn densify_gradients(&mut self) -> Result<()> {
        for p in &self.params {
            let grad = p.value.grad();
            if grad.defined() && grad.is_sparse() {
                let torch = |source| Error::Torch {
                    context: format!("densifying the gradient of {}", p.name),
                    source,
                };
                let dense = grad.f_to_dense(None, false).map_err(torch)?;
                torch_ext::set_grad(&p.value, &dense)?;
            }
        }
        Ok(())
    }

    /// The optimised tensors, in name order (the same order in every process of a run).
    pub(crate) fn parameters(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.params.iter().map(|p| (p.name.as_str(), &p.value))
    }

    /// Gradients of every parameter that has one, in name order.
    fn gradients(&self) -> Vec<Tensor> {
        self.gradients_where(|_| true)
    }

    /// Gradients of the parameters whose name `include` accepts, in name order.
    fn gradients_where(&self, include: impl Fn(&str) -> bool) -> Vec<Tensor> {
        self.params
            .iter()
            .filter(|p| include(&p.name))
            .map(|p| p.value.grad())
            .filter(|g| g.defined())
            .collect()
    }

    /// The global L2 norm of all gradients (what `clip_grad_norm_` reports).
    pub fn gradient_norm(&self) -> f64 {
        global_norm(&self.gradients())
    }

    /// Multiplies every gradient by `factor` (unscaling fp16 gradients).
    pub fn scale_gradients(&mut self, factor: f64) {
        scale(&self.gradients(), factor);
    }

    /// Clips the global gradient norm of the parameters `include` accepts to `max_norm`, as
    /// `torch.nn.utils.clip_grad_norm_` does, and returns their norm before clipping.
    ///
    /// The trainer leaves a loss's own parameters (SoftmaxLoss's classifier) out, as the
    /// Hugging Face Trainer under sentence-transformers does: it clips `model.parameters()`,
    /// and the loss is not part of the model.
    pub fn clip_gradients(&mut self, max_norm: f64, include: impl Fn(&str) -> bool) -> f64 {
        let grads = self.gradients_where(include);
        let norm = global_norm(&grads);
        if max_norm > 0.0 {
            let coef = (max_norm / (norm + 1e-6)).min(1.0);
            if coef < 1.0 {
                scale(&grads, coef);
            }
        }
        norm
    }

    /// Whether any gradient holds a NaN or an infinity (a skipped fp16 step).
    pub fn gradients_non_finite(&self) -> bool {
        self.gradients()
            .iter()
            .any(|g| g.isfinite().all().int64_value(&[]) == 0)
    }

    /// Drops every gradient (`zero_grad(set_to_none=True)`, PyTorch's default): the next
    /// backward takes its first gradient as is instead of adding it to zeros, and every step
    /// starts from the same state whether or not the run was resumed (a vocabulary table's
    /// sparse gradient is summed and densified the same way each step).
    pub fn zero_grad(&mut self) -> Result<()> {
        let none = Tensor::new();
        for p in &self.params {
            if p.value.grad().defined() {
                torch_ext::set_grad(&p.value, &none)?;
            }
        }
        Ok(())
    }

    /// One AdamW update at learning rate `lr`, as `torch.optim.AdamW(fused=True)`: decay the
    /// weights, update the moments, step along the bias-corrected ratio — one fused kernel
    /// pass per tensor (the written-out element-wise version took 0.2 s of a 1.6 s MiniLM step
    /// on 2 CPU cores). Parameters without a gradient are left alone.
    pub fn step(&mut self, lr: f64) -> Result<()> {
        self.steps += 1;
        let s = self.settings;
        let step = Tensor::from(self.steps as f32);
        for decay in [true, false] {
            let group: Vec<&Parameter> = self
                .params
                .iter()
                .filter(|p| p.decay == decay && p.value.grad().defined())
                .collect();
            if group.is_empty() {
                continue;
            }
            let list =
                |f: &dyn Fn(&Parameter) -> Tensor| group.iter().map(|p| f(p)).collect::<Vec<_>>();
            let params = list(&|p| p.value.shallow_clone());
            let grads = list(&|p| p.value.grad());
            let exp_avgs = list(&|p| p.exp_avg.shallow_clone());
            let exp_avg_sqs = list(&|p| p.exp_avg_sq.shallow_clone());
            // The kernel takes one step tensor per parameter but only reads them, and a group
            // lives on one device: copy the step there once, share it.
            let device = params.first().map_or(tch::Device::Cpu, Tensor::device);
            let step_here = step.to_device(device);
            let steps: Vec<Tensor> = group.iter().map(|_| step_here.shallow_clone()).collect();
            let tensors = torch_ext::AdamwTensors {
                params: &params,
                grads: &grads,
                exp_avgs: &exp_avgs,
                exp_avg_sqs: &exp_avg_sqs,
                steps: &steps,
            };
            let settings = torch_ext::AdamwSettings {
                lr,
                beta1: s.beta1,
                beta2: s.beta2,
                weight_decay: if decay { s.weight_decay } else { 0.0 },
                eps: s.epsilon,
            };
            tch::no_grad(|| torch_ext::fused_adamw(&tensors, settings))?;
        }
        Ok(())
    }

    /// Writes the moments (and the step count) to a safetensors file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut named: Vec<(String, Tensor)> = Vec::with_capacity(2 * self.params.len() + 1);
        for p in &self.params {
            named.push((format!("exp_avg.{}", p.name), p.exp_avg.shallow_clone()));
            named.push((
                format!("exp_avg_sq.{}", p.name),
                p.exp_avg_sq.shallow_clone(),
            ));
        }
        named.push(("steps".into(), Tensor::from_slice(&[self.steps as i64])));
        Tensor::write_safetensors(&named, path).map_err(|source| Error::Torch {
            context: format!("writing optimizer state {}", path.display()),
            source,
        })
    }

    /// Restores the state [`Self::save`] wrote; every parameter must be present with its shape.
    pub fn load(&mut self, path: &Path) -> Result<()> {
        let bad = |message: String| Error::Checkpoint {
            path: path.to_path_buf(),
            message,
        };
        let tensors = Tensor::read_safetensors(path).map_err(|source| Error::Torch {
            context: format!("reading optimizer state {}", path.display()),
            source,
        })?;
        let mut by_name: std::collections::HashMap<String, Tensor> = tensors.into_iter().collect();
        let steps = by_name
            .remove("steps")
            .ok_or_else(|| bad("no `steps` entry".into()))?;
        for p in &mut self.params {
            for (prefix, slot) in [
                ("exp_avg", &mut p.exp_avg),
                ("exp_avg_sq", &mut p.exp_avg_sq),
            ] {
                let key = format!("{prefix}.{}", p.name);
                let saved = by_name
                    .remove(&key)
                    .ok_or_else(|| bad(format!("optimizer state lacks {key}")))?;
                if saved.size() != slot.size() {
                    return Err(bad(format!(
                        "{key} has shape {:?}, the parameter {:?}",
                        saved.size(),
                        slot.size()
                    )));
                }
                tch::no_grad(|| slot.copy_(&saved));
            }
        }
        if let Some(extra) = by_name.keys().next() {
            return Err(bad(format!(
                "optimizer state has {extra}, which is not a parameter of this model and loss"
            )));
        }
        self.steps = steps.int64_value(&[0]) as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(weight_decay: f64) -> AdamWSettings {
        AdamWSettings {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            weight_decay,
        }
    }

    #[test]
    fn matches_torch_adamw_on_a_quadratic() {
        // Reference from torch 2.11: p = [1, -2], loss = sum(p^2), AdamW(lr=0.1, wd=0.01),
        // three steps -> p = [0.698911, -1.694945] (torch.optim.AdamW, torch 2.11.0).
        let p = Tensor::from_slice(&[1.0f32, -2.0]).set_requires_grad(true);
        let mut opt = AdamW::new(vec![("w".into(), p.shallow_clone())], settings(0.01));
        for _ in 0..3 {
            opt.zero_grad().unwrap();
            (&p * &p).sum(Kind::Float).backward();
            opt.step(0.1).unwrap();
        }
        let got: Vec<f32> = Vec::try_from(&p.detach()).unwrap();
        assert!((got[0] - 0.698_911).abs() < 1e-5, "{got:?}");
        assert!((got[1] + 1.694_945).abs() < 1e-5, "{got:?}");
    }

    #[test]
    fn no_decay_for_biases_and_layer_norms() {
        assert!(decays("encoder.layer.0.attention.self.query.weight"));
        assert!(!decays("encoder.layer.0.attention.self.query.bias"));
        assert!(!decays("embeddings.LayerNorm.weight"));
    }

    #[test]
    fn state_round_trips_and_clipping_bounds_the_norm() {
        let dir = tempfile::tempdir().unwrap();
        let p = Tensor::from_slice(&[3.0f32, 4.0]).set_requires_grad(true);
        let mut opt = AdamW::new(vec![("w".into(), p.shallow_clone())], settings(0.0));
        (&p * &p).sum(Kind::Float).backward();
        let before = opt.clip_gradients(1.0, |_| true);
        assert!((before - 10.0).abs() < 1e-4);
        assert!((opt.gradient_norm() - 1.0).abs() < 1e-4);
        opt.step(0.01).unwrap();
        let path = dir.path().join("opt.safetensors");
        opt.save(&path).unwrap();

        let q = Tensor::from_slice(&[3.0f32, 4.0]).set_requires_grad(true);
        let mut restored = AdamW::new(vec![("w".into(), q)], settings(0.0));
        restored.load(&path).unwrap();
        assert_eq!(restored.steps(), 1);
        assert_eq!(
            Vec::<f32>::try_from(&restored.params[0].exp_avg).unwrap(),
            Vec::<f32>::try_from(&opt.params[0].exp_avg).unwrap()
        );

        let other = Tensor::zeros([3], (Kind::Float, tch::Device::Cpu)).set_requires_grad(true);
        let mut wrong = AdamW::new(vec![("w".into(), other)], settings(0.0));
        let err = wrong.load(&path).unwrap_err().to_string();
        assert!(err.contains("exp_avg.w has shape [2]"), "{err}");
    }
}
