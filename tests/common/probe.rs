//! A stand-in attack that only looks: it queries the originals through the oracle and records
//! what came back, so tests can check what an attacker mode makes the oracle answer.

use std::cell::RefCell;

use advdrop::attack::{Attack, AttackError, Checked, Oracle};
use advdrop::model::CLASSES;

/// What one checked call with a gradient returned.
pub struct Seen {
    pub checked: Vec<Checked>,
    pub gradient: Vec<f32>,
    pub first_logits: Vec<[f32; CLASSES]>,
}

/// Not an attack: queries every active image's original `calls` times (prediction and
/// gradient of CE for its label) and records what the oracle answered.
pub struct Probe {
    calls: usize,
    pub seen: RefCell<Vec<Seen>>,
}

impl Probe {
    pub fn new(calls: usize) -> Self {
        Self {
            calls,
            seen: RefCell::new(Vec::new()),
        }
    }
}

impl Attack for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }

    async fn run(&self, oracle: &mut Oracle<'_>, active: Vec<usize>) -> Result<(), AttackError> {
        let points = oracle.gather_originals(&active);
        let labels: Vec<u8> = active.iter().map(|&i| oracle.label(i)).collect();
        for _ in 0..self.calls {
            let (checked, gradient) = oracle
                .predict_and_gradient(&active, &points, &labels)
                .await?;
            let first_logits = active.iter().map(|&i| *oracle.first_logits(i)).collect();
            self.seen.borrow_mut().push(Seen {
                checked,
                gradient,
                first_logits,
            });
        }
        Ok(())
    }
}
