//! Training the linear models: logistic regression by AdaGrad (Duchi, Hazan
//! & Singer 2011) with L2 shrinkage applied to the weights each example
//! touches. Deterministic: examples are shuffled with a seeded generator, so
//! the same data and settings give the same model byte for byte.
//!
//! Used by `examples/train.rs` (run through `train/train.sh`); kept in the
//! library so its tests run with everything else.

use crate::features::{FeatureVec, Featurizer};
use crate::model::{LinearModel, sigmoid};
use crate::normalize::normalize;

/// One labelled text, featurised.
#[derive(Debug, Clone)]
pub struct Example {
    /// The features.
    pub features: FeatureVec,
    /// Positive?
    pub positive: bool,
    /// Weight of this example in the loss (class balance, label confidence).
    pub weight: f32,
}

impl Example {
    /// Normalise and featurise `text` for a model of this kind.
    pub fn new(
        featurizer: Featurizer,
        bits: u8,
        text: &str,
        positive: bool,
        weight: f32,
    ) -> Example {
        let mut features = FeatureVec::default();
        crate::features::featurize(featurizer, &normalize(text), bits, &mut features);
        Example {
            features,
            positive,
            weight,
        }
    }
}

/// Training settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Passes over the data.
    pub epochs: usize,
    /// AdaGrad's base learning rate.
    pub learning_rate: f32,
    /// L2 penalty per update.
    pub l2: f32,
    /// Shuffle seed.
    pub seed: u64,
    /// Scale features by their naive-Bayes log-count ratio first (NBSVM,
    /// Wang & Manning 2012); the ratios are folded into the saved weights.
    pub naive_bayes: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            epochs: 2,
            learning_rate: 0.2,
            l2: 1e-6,
            seed: 20261201,
            naive_bayes: true,
        }
    }
}

/// Fit a model. Class weights are rebalanced so positives and negatives carry
/// equal total weight: a text with no evidence then scores near zero (neutral).
pub fn fit(
    featurizer: Featurizer,
    bits: u8,
    examples: &mut [Example],
    settings: Settings,
) -> LinearModel {
    let (pos, neg) = examples.iter().fold((0.0f64, 0.0f64), |(p, n), e| {
        if e.positive {
            (p + f64::from(e.weight), n)
        } else {
            (p, n + f64::from(e.weight))
        }
    });
    let total = pos + neg;
    let (wp, wn) = if pos > 0.0 && neg > 0.0 {
        ((total / (2.0 * pos)) as f32, (total / (2.0 * neg)) as f32)
    } else {
        (1.0, 1.0)
    };
    let ratios = if settings.naive_bayes {
        log_count_ratios(bits, examples)
    } else {
        vec![1.0; 1 << bits]
    };
    let mut model = LinearModel::zeros(featurizer, bits);
    let mut squares = vec![1e-8f32; 1 << bits];
    let mut bias_square = 1e-8f32;
    let mut rng = settings.seed | 1;
    for _ in 0..settings.epochs {
        shuffle(examples, &mut rng);
        for example in examples.iter() {
            let logit = model.bias
                + example
                    .features
                    .idx
                    .iter()
                    .zip(&example.features.val)
                    .map(|(i, v)| model.weights[*i as usize] * ratios[*i as usize] * v)
                    .sum::<f32>();
            let p = sigmoid(logit);
            let y = if example.positive { 1.0 } else { 0.0 };
            let w = example.weight * if example.positive { wp } else { wn };
            let g = (p - y) * w;
            for (i, v) in example.features.idx.iter().zip(&example.features.val) {
                let i = *i as usize;
                let gi = g * v * ratios[i] + settings.l2 * model.weights[i];
                squares[i] += gi * gi;
                model.weights[i] -= settings.learning_rate * gi / squares[i].sqrt();
            }
            bias_square += g * g;
            model.bias -= settings.learning_rate * g / bias_square.sqrt();
        }
    }
    for (w, r) in model.weights.iter_mut().zip(&ratios) {
        *w *= r;
    }
    model
}

/// Naive-Bayes log-count ratios r = log((p/‖p‖₁)/(q/‖q‖₁)) over binarised
/// features with add-one smoothing, p from positive and q from negative texts.
/// Features whose value is not a presence indicator (the lexicon sums) keep 1.
fn log_count_ratios(bits: u8, examples: &[Example]) -> Vec<f32> {
    let mut p = vec![1.0f64; 1 << bits];
    let mut q = vec![1.0f64; 1 << bits];
    for e in examples {
        let counts = if e.positive { &mut p } else { &mut q };
        for i in &e.features.idx {
            counts[*i as usize] += 1.0;
        }
    }
    let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
    let mut ratios: Vec<f32> = p
        .iter()
        .zip(&q)
        .map(|(a, b)| ((a / sp) / (b / sq)).ln() as f32)
        .collect();
    for i in crate::features::real_valued_indices(bits) {
        ratios[i as usize] = 1.0;
    }
    ratios
}

/// Fisher–Yates with xorshift64*.
fn shuffle<T>(items: &mut [T], state: &mut u64) {
    for i in (1..items.len()).rev() {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        items.swap(i, (r % (i as u64 + 1)) as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_separable_toy_set_deterministically() {
        let texts = [
            ("非常好，很满意", true),
            ("质量很好", true),
            ("服务热情，好评", true),
            ("太差了，很失望", false),
            ("质量差，不满意", false),
            ("物流慢，差评", false),
        ];
        let make = || {
            texts
                .iter()
                .map(|(t, p)| Example::new(Featurizer::Chinese, 12, t, *p, 1.0))
                .collect::<Vec<_>>()
        };
        let settings = Settings {
            epochs: 30,
            ..Settings::default()
        };
        let model = fit(Featurizer::Chinese, 12, &mut make(), settings);
        let again = fit(Featurizer::Chinese, 12, &mut make(), settings);
        assert_eq!(model, again);
        let mut f = FeatureVec::default();
        model.features(&normalize("很好，满意"), &mut f);
        assert!(model.logit_of(&f) > 0.5);
        model.features(&normalize("很差，失望"), &mut f);
        assert!(model.logit_of(&f) < -0.5);
    }
}
