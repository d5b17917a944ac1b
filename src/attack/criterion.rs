//! What counts as adversarial (Foolbox's criteria, as the paper used them).
//!
//! Ties between logits are resolved against the attacker: an image is adversarial only when
//! the logits say so strictly. That keeps `TopKMisclassification(1)` and `Misclassification`
//! the same criterion, and makes a success mean the same thing on every backend.

use serde::{Deserialize, Serialize};

use crate::model::CLASSES;

/// The goal of an attack, for a whole batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Criterion {
    /// `argmax(logits) = target`, one target per image of the batch.
    TargetClass(Vec<u8>),
    /// The true label is not among the `k` largest logits (the paper's top-3 goal is `k = 3`).
    TopKMisclassification(usize),
    /// `argmax(logits) ≠ label`.
    Misclassification,
}

impl Criterion {
    /// Whether `logits` of image `i` (true label `label`) satisfy the criterion.
    pub fn is_adversarial(&self, i: usize, label: u8, logits: &[f32]) -> bool {
        debug_assert_eq!(logits.len(), CLASSES);
        match self {
            Self::TargetClass(targets) => {
                let t = targets[i] as usize;
                logits
                    .iter()
                    .enumerate()
                    .all(|(c, &z)| c == t || z < logits[t])
            }
            Self::TopKMisclassification(k) => above(label, logits) >= *k,
            Self::Misclassification => above(label, logits) >= 1,
        }
    }

    /// The target class of image `i`, for targeted criteria.
    pub fn target(&self, i: usize) -> Option<u8> {
        match self {
            Self::TargetClass(targets) => Some(targets[i]),
            _ => None,
        }
    }

    /// Short name for reports: `targeted`, `top3`, `misclassification`.
    pub fn goal_name(&self) -> String {
        match self {
            Self::TargetClass(_) => "targeted".into(),
            Self::TopKMisclassification(k) => format!("top{k}"),
            Self::Misclassification => "misclassification".into(),
        }
    }
}

/// How many classes score strictly above `label`.
fn above(label: u8, logits: &[f32]) -> usize {
    let z = logits[label as usize];
    logits.iter().filter(|&&other| other > z).count()
}

/// Classes sorted by decreasing logit (ties: lower class first, as a stable sort gives).
pub fn ranked(logits: &[f32]) -> Vec<u8> {
    let mut classes: Vec<u8> = (0..logits.len() as u8).collect();
    classes.sort_by(|&a, &b| logits[b as usize].total_cmp(&logits[a as usize]));
    classes
}

#[cfg(test)]
mod tests {
    use super::*;

    const Z: [f32; 10] = [0.0, 5.0, 4.0, 3.0, 2.0, 1.0, -1.0, -2.0, -3.0, -4.0];

    #[test]
    fn top_k_counts_strictly_larger_logits() {
        let top3 = Criterion::TopKMisclassification(3);
        assert!(!top3.is_adversarial(0, 3, &Z)); // 3rd largest: still in the top 3
        assert!(top3.is_adversarial(0, 4, &Z)); // 4th
        let mut tied = Z;
        tied[4] = 3.0; // ties with class 3 for 3rd place: ties favour the label
        assert!(!top3.is_adversarial(0, 4, &tied));
    }

    #[test]
    fn top_1_is_misclassification() {
        let top1 = Criterion::TopKMisclassification(1);
        let mis = Criterion::Misclassification;
        let mut tied = Z;
        tied[2] = 5.0;
        for z in [Z, tied] {
            for label in 0..10 {
                assert_eq!(
                    top1.is_adversarial(0, label, &z),
                    mis.is_adversarial(0, label, &z)
                );
            }
        }
        assert!(!mis.is_adversarial(0, 2, &tied)); // a tie for first is not a misclassification
    }

    #[test]
    fn target_class_needs_a_strict_maximum() {
        let c = Criterion::TargetClass(vec![2, 1]);
        assert!(!c.is_adversarial(0, 0, &Z));
        assert!(c.is_adversarial(1, 0, &Z));
        let mut tied = Z;
        tied[2] = 5.0;
        assert!(!c.is_adversarial(1, 0, &tied));
        assert_eq!(ranked(&Z)[..3], [1, 2, 3]);
    }
}
