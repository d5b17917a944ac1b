//! A protocol run: what makes it one run (the weights it attacks and the test images it draws
//! from, its configuration kept beside it; resuming or merging checks them, so a run never mixes
//! two models or two data sets in one cell), and its steps: what a cell needs next, and taking
//! that step. Front ends only drive steps and persist cells.

use std::ops::ControlFlow;
use std::time::Duration;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::protocol::{self, AttackCell, CellId, Crew, ProtocolConfig};
use crate::attack::{AttackError, Victim};
use crate::data::Split;
use crate::model::Cnn;

/// The identity of a run beyond its configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunId {
    /// sha256 of the weight file attacked.
    pub weights_sha256: String,
    /// [`Split::sha256`] of the test split the pool is drawn from.
    pub data_sha256: String,
}

impl RunId {
    pub fn new(weights_sha256: &str, test: &Split) -> Self {
        Self {
            weights_sha256: weights_sha256.into(),
            data_sha256: test.sha256(),
        }
    }

    /// The key a run of `config` on these weights and data is stored under where there is no
    /// directory to keep `config.json` and `run.json` in (the page's IndexedDB): the first 24
    /// hex digits of the sha256 of the configuration and this identity, as JSON. Runs differ in
    /// their key exactly when one of them differs.
    pub fn key(&self, config: &ProtocolConfig) -> String {
        use sha2::{Digest, Sha256};
        let text = serde_json::to_string(&(config, self)).expect("a configuration serialises");
        Sha256::digest(text.as_bytes())
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether a run recorded as `stored` may go on (or be merged) as this one: the same
    /// weights and the same data, or the reason why not.
    pub fn continues(&self, stored: &RunId) -> Result<(), String> {
        if self.weights_sha256 != stored.weights_sha256 {
            return Err(format!(
                "it attacked other weights (sha256 {}…, these are {}…)",
                &stored.weights_sha256[..stored.weights_sha256.len().min(12)],
                &self.weights_sha256[..self.weights_sha256.len().min(12)]
            ));
        }
        if self.data_sha256 != stored.data_sha256 {
            return Err("it drew from other MNIST test images".into());
        }
        Ok(())
    }
}

/// How many test images a run whose cells need `samples` adversarials each screens for its
/// pool, where screening costs (the page): enough that even targeted FGSM (≈ 20 % success)
/// fills N. The pool is then a prefix of the full test set's, so such a run attacks the same
/// images in the same order as one that screens them all (the CLI).
pub fn screened_images(samples: usize) -> usize {
    (100 + 40 * samples).min(10_000)
}

/// What a cell of a run needs next. The one place that says when a cell is done: the CLI, the
/// page's workers and the tests all ask here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// Attack one more batch of the pool.
    Attack,
    /// Recognise the adversarials under one more test scheme.
    Recognise,
    /// Every adversarial found and recognised under every scheme.
    Done,
}

impl Step {
    /// The next step of `cell`, which draws from a pool of `pool` images: attacking until it
    /// has `config.samples` adversarials or the pool runs out, then recognising.
    pub fn of(config: &ProtocolConfig, cell: &AttackCell, pool: usize) -> Step {
        if !cell.attacked_enough(config, pool) {
            Step::Attack
        } else if cell.recognition.len() < config.schemes.len() {
            Step::Recognise
        } else {
            Step::Done
        }
    }
}

/// What every step of a run's cells needs: the network as the attacker queries it, the plain
/// network that recognises, the test images and the run's pool of them, the configuration and a
/// clock for the wall times. Front ends build one and drive cells through it.
#[derive(Clone, Copy)]
pub struct Runner<'a> {
    pub victim: Victim<'a>,
    pub plain: &'a Cnn,
    pub plain_device: &'a Device,
    pub test: &'a Split,
    /// The pool: indices into `test` of the images cells draw from, in order.
    pub candidates: &'a [usize],
    pub config: &'a ProtocolConfig,
    pub clock: &'a dyn Fn() -> Duration,
    /// Threads that attack the parts of a splittable batch at once (the CLI's `--jobs`);
    /// `None` attacks every batch through `victim` alone.
    pub crew: Option<&'a dyn Crew>,
}

impl Runner<'_> {
    /// What `cell` needs next in this run.
    pub fn next(&self, cell: &AttackCell) -> Step {
        Step::of(self.config, cell, self.candidates.len())
    }

    /// Takes the next step of one cell (one batch of attacks, or one scheme's recognition) and
    /// says which step follows. A cell stopped between steps resumes exactly where it stopped.
    pub async fn advance(&self, id: &CellId, cell: &mut AttackCell) -> Result<Step, AttackError> {
        let (config, clock) = (self.config, self.clock);
        match self.next(cell) {
            Step::Attack => {
                protocol::attack_cell(
                    self.victim,
                    self.crew,
                    self.test,
                    self.candidates,
                    config,
                    id,
                    cell,
                    clock,
                    |_| ControlFlow::Break(()),
                )
                .await?
            }
            Step::Recognise => {
                // The pool ran out before N adversarials: the cell is finished with what it has.
                cell.finished = true;
                protocol::recognise_cell(
                    self.plain,
                    self.plain_device,
                    config,
                    id,
                    cell,
                    clock,
                    |_| ControlFlow::Break(()),
                )
                .await?
            }
            Step::Done => {}
        }
        Ok(self.next(cell))
    }

    /// Runs one cell from where `store` has it to done, saving it after every step. `on_step`
    /// hears the cell and the step it needs next, before the first step and after each; `Break`
    /// stops there (a cancel: everything finished is stored, and the next call resumes).
    /// Returns the step the cell needs next (`Done` unless stopped).
    pub async fn run_cell<S: CellStore>(
        &self,
        id: &CellId,
        store: &mut S,
        mut on_step: impl FnMut(&AttackCell, Step) -> ControlFlow<()>,
    ) -> Result<Step, RunError<S::Error>> {
        let stored = |error| RunError::Store {
            cell: id.key(),
            error,
        };
        let mut cell = store
            .load(id)
            .await
            .map_err(stored)?
            .unwrap_or_else(|| AttackCell::new(id));
        let mut next = self.next(&cell);
        while next != Step::Done && on_step(&cell, next).is_continue() {
            next = self
                .advance(id, &mut cell)
                .await
                .map_err(|source| RunError::Attack {
                    cell: id.key(),
                    source,
                })?;
            store.save(id, &cell, next).await.map_err(stored)?;
        }
        if next == Step::Done {
            let _ = on_step(&cell, next);
        }
        Ok(next)
    }
}

/// Where a run keeps its cells between steps: the CLI on files (atomic writes), the page in
/// IndexedDB, the tests in memory. A cell never saved loads as `None`. Front ends implement
/// this and [`Runner::run_cell`] does the rest: they hold no rule of a run.
#[allow(async_fn_in_trait)] // used generically, never as `dyn`
pub trait CellStore {
    type Error: std::fmt::Display;
    async fn load(&mut self, id: &CellId) -> Result<Option<AttackCell>, Self::Error>;
    /// Keeps `cell` as it stands after a step; `next` is the step it needs next.
    async fn save(&mut self, id: &CellId, cell: &AttackCell, next: Step)
    -> Result<(), Self::Error>;
}

/// Why [`Runner::run_cell`] stopped short.
#[derive(Debug, thiserror::Error)]
pub enum RunError<E: std::fmt::Display> {
    #[error("cell {cell}: {source}")]
    Attack { cell: String, source: AttackError },
    #[error("cell {cell}: storing it: {error}")]
    Store { cell: String, error: E },
}

/// A [`CellStore`] in memory (tests, and runs nobody needs to resume).
#[derive(Default)]
pub struct MemoryStore {
    pub cells: std::collections::BTreeMap<String, AttackCell>,
}

impl CellStore for MemoryStore {
    type Error = std::convert::Infallible;
    async fn load(&mut self, id: &CellId) -> Result<Option<AttackCell>, Self::Error> {
        Ok(self.cells.get(&id.key()).cloned())
    }
    async fn save(&mut self, id: &CellId, cell: &AttackCell, _: Step) -> Result<(), Self::Error> {
        self.cells.insert(id.key(), cell.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_key_changes_with_the_configuration_the_weights_and_the_data() {
        let config = ProtocolConfig::paper(20, 0);
        let id = RunId {
            weights_sha256: "aa".into(),
            data_sha256: "bb".into(),
        };
        let key = id.key(&config);
        assert_eq!(key.len(), 24);
        assert_eq!(key, id.clone().key(&config.clone()));
        let other_weights = RunId {
            weights_sha256: "ab".into(),
            ..id.clone()
        };
        let other_data = RunId {
            data_sha256: "bc".into(),
            ..id.clone()
        };
        let other_seed = ProtocolConfig::paper(20, 1);
        let other_streams = ProtocolConfig {
            streams: protocol::Streams::Batch,
            part: 0,
            ..config.clone()
        };
        for other in [
            other_weights.key(&config),
            other_data.key(&config),
            id.key(&other_seed),
            id.key(&other_streams),
        ] {
            assert_ne!(other, key);
        }
    }
}
