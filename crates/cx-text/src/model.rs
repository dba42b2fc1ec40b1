//! A linear sentiment model over hashed features, and its file format.
//!
//! The model is logistic regression: `logit = bias + Σ wᵢ·xᵢ`,
//! `P(positive) = 1/(1 + e^−logit)`. The file is small and versioned:
//!
//! ```text
//! "CXTM" · version u8 (1) · featurizer u8 (0 Chinese, 1 English) · bits u8 · 0u8
//! · bias f32 · scale f32 · 2^bits weights as i16 (weight = i16 · scale), all little-endian
//! ```
//!
//! Weights are quantised to 16 bits (a Chinese table of 2^20 weights is 2 MiB);
//! the largest weight maps to ±32,767, and the error this adds to a logit is
//! far below a thousandth for any text (checked in the tests).

use crate::TextError;
use crate::features::{FeatureVec, Featurizer, featurize};

const MAGIC: &[u8; 4] = b"CXTM";
const VERSION: u8 = 1;
const HEADER: usize = 16;

/// A trained linear model.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearModel {
    /// How texts become features for this model.
    pub featurizer: Featurizer,
    /// log2 of the weight table's size.
    pub bits: u8,
    /// The intercept.
    pub bias: f32,
    /// The weight table, `2^bits` long.
    pub weights: Vec<f32>,
}

impl LinearModel {
    /// A model with all weights zero.
    pub fn zeros(featurizer: Featurizer, bits: u8) -> LinearModel {
        LinearModel {
            featurizer,
            bits,
            bias: 0.0,
            weights: vec![0.0; 1 << bits],
        }
    }

    /// The features of a normalised text, for this model.
    pub fn features(&self, text: &str, out: &mut FeatureVec) {
        out.clear();
        featurize(self.featurizer, text, self.bits, out);
    }

    /// The logit of a feature vector.
    pub fn logit_of(&self, features: &FeatureVec) -> f32 {
        let mut sum = self.bias;
        for (i, v) in features.idx.iter().zip(&features.val) {
            sum += self.weights[*i as usize] * v;
        }
        sum
    }

    /// Serialise (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let max = self.weights.iter().fold(0.0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 {
            max / f32::from(i16::MAX)
        } else {
            1.0
        };
        let mut out = Vec::with_capacity(HEADER + 2 * self.weights.len());
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(match self.featurizer {
            Featurizer::Chinese => 0,
            Featurizer::English => 1,
        });
        out.push(self.bits);
        out.push(0);
        out.extend_from_slice(&self.bias.to_le_bytes());
        out.extend_from_slice(&scale.to_le_bytes());
        for w in &self.weights {
            let q = (w / scale)
                .round()
                .clamp(-f32::from(i16::MAX), f32::from(i16::MAX)) as i16;
            out.extend_from_slice(&q.to_le_bytes());
        }
        out
    }

    /// Read a model written by `to_bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<LinearModel, TextError> {
        let bad = |why: &str| TextError::Model(why.to_owned());
        if bytes.len() < HEADER || &bytes[..4] != MAGIC {
            return Err(bad("not a cxscore text model (no CXTM header)"));
        }
        if bytes[4] != VERSION {
            return Err(bad(&format!(
                "model version {} (this build reads {VERSION})",
                bytes[4]
            )));
        }
        let featurizer = match bytes[5] {
            0 => Featurizer::Chinese,
            1 => Featurizer::English,
            other => return Err(bad(&format!("unknown featurizer {other}"))),
        };
        let bits = bytes[6];
        if !(8..=24).contains(&bits) {
            return Err(bad(&format!("table size 2^{bits} out of range")));
        }
        let f32_at = |at: usize| {
            f32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let bias = f32_at(8);
        let scale = f32_at(12);
        let body = &bytes[HEADER..];
        if body.len() != 2 << bits {
            return Err(bad(&format!(
                "expected {} weight bytes, found {}",
                2usize << bits,
                body.len()
            )));
        }
        let weights = body
            .chunks_exact(2)
            .map(|q| f32::from(i16::from_le_bytes([q[0], q[1]])) * scale)
            .collect();
        Ok(LinearModel {
            featurizer,
            bits,
            bias,
            weights,
        })
    }
}

/// The logistic function.
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_logits() {
        let mut model = LinearModel::zeros(Featurizer::Chinese, 10);
        model.bias = 0.25;
        for (i, w) in model.weights.iter_mut().enumerate() {
            *w = ((i * 7919) % 2001) as f32 / 1000.0 - 1.0;
        }
        let back = LinearModel::from_bytes(&model.to_bytes()).expect("reads back");
        assert_eq!(back.bits, 10);
        assert_eq!(back.bias, 0.25);
        let mut f = FeatureVec::default();
        model.features("这个产品质量很好，但是物流太慢了", &mut f);
        let (a, b) = (model.logit_of(&f), back.logit_of(&f));
        assert!((a - b).abs() < 1e-3, "{a} vs {b}");
    }

    #[test]
    fn rejects_what_is_not_a_model() {
        assert!(LinearModel::from_bytes(b"hello").is_err());
        let mut bytes = LinearModel::zeros(Featurizer::English, 8).to_bytes();
        bytes.pop();
        let err = LinearModel::from_bytes(&bytes).expect_err("truncated");
        assert!(err.to_string().contains("weight bytes"), "{err}");
    }
}
