//! The best adversarial seen so far, per image (Foolbox 0.8's `Adversarial` object).
//!
//! Every checked model call reports its candidates here; among those the criterion judges
//! adversarial, the one closest to the original wins. An attack therefore never returns
//! something worse than a point it has already seen, whatever its own final answer is.

use super::distance::{Metric, PIXELS};

/// Per-image best adversarials of one batch.
#[derive(Clone, Debug)]
pub struct Tracker {
    metric: Metric,
    originals: Vec<f32>,
    best: Vec<Option<(f32, Vec<f32>)>>,
    first_pass: Vec<bool>,
}

impl Tracker {
    /// `originals`: `n × 784` pixels in [0, 1].
    pub fn new(originals: Vec<f32>, metric: Metric) -> Self {
        let n = originals.len() / PIXELS;
        Self {
            metric,
            originals,
            best: vec![None; n],
            first_pass: vec![false; n],
        }
    }

    pub fn len(&self) -> usize {
        self.best.len()
    }

    pub fn is_empty(&self) -> bool {
        self.best.is_empty()
    }

    pub fn original(&self, i: usize) -> &[f32] {
        &self.originals[i * PIXELS..(i + 1) * PIXELS]
    }

    /// Offers `candidate` for image `i`, judged adversarial by the caller; keeps it when it is
    /// closer than the best so far. Returns whether it was kept.
    pub fn offer(&mut self, i: usize, candidate: &[f32]) -> bool {
        let d = self.metric.of(candidate, self.original(i));
        match &self.best[i] {
            Some((best, _)) if *best <= d => false,
            _ => {
                self.best[i] = Some((d, candidate.to_vec()));
                true
            }
        }
    }

    /// Records that the very first prediction of the original was already adversarial.
    pub fn mark_first_pass(&mut self, i: usize) {
        self.first_pass[i] = true;
        let original = self.original(i).to_vec();
        self.best[i] = Some((0.0, original));
    }

    pub fn first_pass(&self, i: usize) -> bool {
        self.first_pass[i]
    }

    pub fn found(&self, i: usize) -> bool {
        self.best[i].is_some()
    }

    /// The best distance so far under the tracking metric.
    pub fn best_distance(&self, i: usize) -> Option<f32> {
        self.best[i].as_ref().map(|(d, _)| *d)
    }

    /// The best adversarial, or the original where none was found.
    pub fn best_or_original(&self, i: usize) -> &[f32] {
        match &self.best[i] {
            Some((_, x)) => x,
            None => self.original(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_smallest_distance() {
        let mut t = Tracker::new(vec![0.0; PIXELS], Metric::Mse);
        let far = vec![0.5; PIXELS];
        let near = vec![0.1; PIXELS];
        assert!(t.offer(0, &far));
        assert!(t.offer(0, &near));
        assert!(!t.offer(0, &far));
        assert_eq!(t.best_or_original(0), &near[..]);
        assert!((t.best_distance(0).unwrap() - 0.01).abs() < 1e-6);
    }
}
