//! Resemblyzer's GE2E speaker encoder in candle: 3-layer LSTM (40 -> 256), the last layer's
//! final hidden state -> Linear 256 -> ReLU -> L2 normalisation, per 160-frame partial.

use candle_core::{Device, Tensor};
use candle_nn::rnn::{LSTMConfig, RNN};
use candle_nn::{LSTM, Linear, Module, VarBuilder};

use crate::error::Result;
use crate::models::ModelStore;
use crate::template::ModelId;
use crate::voice::features::N_MELS;

pub const WEIGHTS_FILE: &str = "resemblyzer_ge2e.safetensors";
pub const EMBEDDING_DIM: usize = 256;
pub const PARTIAL_FRAMES: usize = 160;
const HIDDEN: usize = 256;

pub fn model_id() -> ModelId {
    ModelId::new("resemblyzer-ge2e", 1)
}

pub struct SpeakerEncoder {
    layers: Vec<LSTM>,
    linear: Linear,
    device: Device,
}

impl SpeakerEncoder {
    pub fn new(vb: VarBuilder, device: Device) -> Result<Self> {
        let mut layers = Vec::with_capacity(3);
        for layer_idx in 0..3 {
            let cfg = LSTMConfig {
                layer_idx,
                ..Default::default()
            };
            let input = if layer_idx == 0 { N_MELS } else { HIDDEN };
            layers.push(candle_nn::lstm(input, HIDDEN, cfg, vb.pp("lstm"))?);
        }
        let linear = candle_nn::linear(HIDDEN, EMBEDDING_DIM, vb.pp("linear"))?;
        Ok(Self {
            layers,
            linear,
            device,
        })
    }

    pub fn load(store: &ModelStore) -> Result<Self> {
        Self::new(store.var_builder(WEIGHTS_FILE)?, Device::Cpu)
    }

    /// L2-normalised embeddings of partials, each PARTIAL_FRAMES x N_MELS.
    pub fn embed_partials(&self, partials: &[Vec<[f32; N_MELS]>]) -> Result<Vec<Vec<f32>>> {
        if partials.is_empty() {
            return Ok(Vec::new());
        }
        let frames = partials[0].len();
        let data: Vec<f32> = partials
            .iter()
            .flat_map(|p| p.iter().flat_map(|f| f.iter().copied()))
            .collect();
        let mut x = Tensor::from_vec(data, (partials.len(), frames, N_MELS), &self.device)?;
        let mut last_h = None;
        for layer in &self.layers {
            let states = layer.seq(&x)?;
            last_h = states.last().map(|s| s.h().clone());
            x = layer.states_to_tensor(&states)?;
        }
        let h = last_h.ok_or_else(|| candle_core::Error::Msg("empty sequence".into()))?;
        let e = self.linear.forward(&h)?.relu()?;
        let norm = e.sqr()?.sum_keepdim(1)?.sqrt()?;
        Ok(e.broadcast_div(&norm)?.to_vec2::<f32>()?)
    }
}
