//! Training the paper's network: the first 50,000 training images, Adam, dropout 0.5 on the FC
//! hidden layer, per-epoch validation on the last 10,000.
//!
//! A run is a pure function of its [`TrainConfig`]: epoch `e` shuffles with stream `2e` and
//! draws masks from stream `2e + 1` of the seed, so a run resumed from the checkpoint of epoch
//! `e` continues exactly as the uninterrupted run would have. Checkpoints (model, optimiser
//! state, history) are written after every epoch under temporary names and renamed into place,
//! so an interruption loses at most the epoch in progress and never corrupts the last one.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::data::{Mnist, Split};
use crate::eval::{self, ReadError};
use crate::model::{Cnn, DropoutScheme, MaskRng, TrainConfig};

/// One finished epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    pub epoch: usize,
    pub mean_loss: f64,
    /// Accuracy on the training batches as they were seen, with training dropout on.
    pub train_accuracy: f64,
    pub validation_accuracy: f64,
    pub learning_rate: f64,
    pub wall_time_s: f64,
}

/// What the training loop reports while it runs (the CLI draws a progress bar from it).
#[derive(Clone, Debug)]
pub enum TrainEvent {
    EpochStart {
        epoch: usize,
        batches: usize,
    },
    Batch {
        batch: usize,
        loss: f64,
        accuracy: f64,
    },
    Validating,
    EpochEnd(EpochStats),
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: String, message: String },
    #[error(
        "checkpoint in {dir} was made with a different configuration ({found}); use another --checkpoint-dir or the same settings"
    )]
    ConfigMismatch { dir: String, found: String },
    #[error(
        "{dir} holds a checkpoint: pass --resume to continue it, or choose another --checkpoint-dir (or delete it) to start over"
    )]
    CheckpointExists { dir: String },
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// The checkpoint's bookkeeping, beside the model and optimiser records.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct TrainState {
    config: TrainConfig,
    history: Vec<EpochStats>,
}

/// Learning rate of epoch `epoch` (0-based): exponential decay from the configured rate.
pub fn learning_rate(config: &TrainConfig, epoch: usize) -> f64 {
    config.learning_rate * config.lr_decay.powi(epoch as i32)
}

/// Files of a checkpoint directory.
struct CheckpointFiles {
    model: PathBuf,
    optimizer: PathBuf,
    state: PathBuf,
}

impl CheckpointFiles {
    fn in_dir(dir: &Path) -> Self {
        Self {
            model: dir.join("model.bpk"),
            optimizer: dir.join("optimizer.bpk"),
            state: dir.join("state.json"),
        }
    }
}

fn checkpoint_err(path: &Path, message: impl ToString) -> TrainError {
    TrainError::Checkpoint {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// A training run in progress: the model on an autodiff device, its optimiser and history.
pub struct Training {
    config: TrainConfig,
    device: Device,
    model: Cnn,
    optimizer: ModuleOptimizer,
    history: Vec<EpochStats>,
}

impl Training {
    /// Starts a run, or, when `checkpoint_dir` holds a checkpoint of the same configuration and
    /// `resume` is set, continues it after its last finished epoch. A checkpoint found without
    /// `resume` is an error rather than something to overwrite.
    pub fn start(
        config: TrainConfig,
        device: &Device,
        checkpoint_dir: Option<&Path>,
        resume: bool,
    ) -> Result<Self, TrainError> {
        if config.batch_size == 0 || config.epochs == 0 {
            return Err(TrainError::Config(
                "epochs and batch size must be positive".into(),
            ));
        }
        let ad_device = device.clone().autodiff();
        let optimizer = AdamConfig::new().init();
        let fresh = || Training {
            config: config.clone(),
            device: ad_device.clone(),
            model: Cnn::new(&ad_device),
            optimizer: optimizer.clone(),
            history: Vec::new(),
        };
        let existing = checkpoint_dir
            .map(CheckpointFiles::in_dir)
            .filter(|files| files.state.is_file());
        let (Some(dir), Some(files)) = (checkpoint_dir, existing) else {
            ad_device.seed(config.seed);
            return Ok(fresh());
        };
        if !resume {
            // Starting over would overwrite finished epochs at the end of the first one.
            return Err(TrainError::CheckpointExists {
                dir: dir.display().to_string(),
            });
        }
        let text =
            std::fs::read_to_string(&files.state).map_err(|e| checkpoint_err(&files.state, e))?;
        let state: TrainState =
            serde_json::from_str(&text).map_err(|e| checkpoint_err(&files.state, e))?;
        let same_run = TrainConfig {
            epochs: config.epochs,
            ..state.config.clone()
        } == config;
        if !same_run {
            return Err(TrainError::ConfigMismatch {
                dir: dir.display().to_string(),
                found: serde_json::to_string(&state.config).unwrap_or_default(),
            });
        }
        let model = Cnn::new(&ad_device)
            .try_load_file(&files.model)
            .map_err(|e| checkpoint_err(&files.model, e))?;
        let optimizer = optimizer
            .load(&files.optimizer)
            .map_err(|e| checkpoint_err(&files.optimizer, e))?;
        Ok(Training {
            config,
            device: ad_device,
            model,
            optimizer,
            history: state.history,
        })
    }

    /// Epochs already finished (non-zero after a resume).
    pub fn epochs_done(&self) -> usize {
        self.history.len()
    }

    pub fn history(&self) -> &[EpochStats] {
        &self.history
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The network for inference (autodiff stripped).
    pub fn model(&self) -> Cnn {
        self.model.valid()
    }

    /// Trains one epoch on `train`, validates on `validation`, and returns the epoch's figures.
    pub fn run_epoch(
        &mut self,
        train: &Split,
        validation: &Split,
        on_event: &mut impl FnMut(TrainEvent),
    ) -> Result<EpochStats, TrainError> {
        let started = Instant::now();
        let epoch = self.history.len();
        let cfg = &self.config;
        let lr = learning_rate(cfg, epoch);
        let scheme = DropoutScheme::new(0.0, 0.0, cfg.fc_dropout)
            .map_err(|e| TrainError::Config(e.to_string()))?;
        let order = shuffled(
            train.len(),
            &mut MaskRng::stream(cfg.seed, 2 * epoch as u64),
        );
        let mut masks = MaskRng::stream(cfg.seed, 2 * epoch as u64 + 1);
        let loss_fn = CrossEntropyLossConfig::new().init(&self.device);
        let batches = order.len().div_ceil(cfg.batch_size);
        on_event(TrainEvent::EpochStart { epoch, batches });
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0usize, 0usize);
        for (b, chunk) in order.chunks(cfg.batch_size).enumerate() {
            let images = train.images_tensor(chunk, &self.device);
            let labels: Vec<i64> = train.labels_at(chunk).iter().map(|&l| l as i64).collect();
            let targets = Tensor::<1, Int>::from_data(
                TensorData::new(labels.clone(), [labels.len()]),
                &self.device,
            );
            let logits = self.model.forward(images, &scheme, &mut masks);
            let predicted = logits.clone().argmax(1);
            let loss = loss_fn.forward(logits, targets);
            let grads = GradientsParams::from_grads(loss.backward(), &self.model);
            self.model = self.optimizer.step(lr, self.model.clone(), grads);
            let loss_value = pollster::block_on(eval::recognition::read_floats(loss))?[0] as f64;
            let hits = pollster::block_on(eval::recognition::read_ints(predicted))?
                .iter()
                .zip(&labels)
                .filter(|(p, l)| p == l)
                .count();
            loss_sum += loss_value * chunk.len() as f64;
            correct += hits;
            seen += chunk.len();
            on_event(TrainEvent::Batch {
                batch: b + 1,
                loss: loss_value,
                accuracy: hits as f64 / chunk.len() as f64,
            });
        }
        on_event(TrainEvent::Validating);
        let inference = self.model.valid();
        let cpu = self.device.clone().without_autodiff();
        let validation_accuracy = pollster::block_on(eval::accuracy(
            &inference,
            validation,
            &DropoutScheme::NONE,
            &mut MaskRng::seed(0),
            &cpu,
            |_, _| {},
        ))?;
        let stats = EpochStats {
            epoch: epoch + 1,
            mean_loss: loss_sum / seen as f64,
            train_accuracy: correct as f64 / seen as f64,
            validation_accuracy,
            learning_rate: lr,
            wall_time_s: started.elapsed().as_secs_f64(),
        };
        self.history.push(stats.clone());
        on_event(TrainEvent::EpochEnd(stats.clone()));
        Ok(stats)
    }

    /// Writes the checkpoint of the epochs finished so far into `dir`, atomically per file.
    pub fn save_checkpoint(&self, dir: &Path) -> Result<(), TrainError> {
        std::fs::create_dir_all(dir).map_err(|e| checkpoint_err(dir, e))?;
        let files = CheckpointFiles::in_dir(dir);
        let tmp = |p: &Path| p.with_extension("partial");
        self.model
            .clone()
            .save_file(tmp(&files.model))
            .map_err(|e| checkpoint_err(&files.model, e))?;
        self.optimizer
            .save(tmp(&files.optimizer))
            .map_err(|e| checkpoint_err(&files.optimizer, e))?;
        let state = TrainState {
            config: self.config.clone(),
            history: self.history.clone(),
        };
        let json = serde_json::to_string_pretty(&state).expect("state serialises");
        std::fs::write(tmp(&files.state), json).map_err(|e| checkpoint_err(&files.state, e))?;
        // The state file goes last: it is what declares the checkpoint complete.
        for path in [&files.model, &files.optimizer, &files.state] {
            std::fs::rename(tmp(path), path).map_err(|e| checkpoint_err(path, e))?;
        }
        Ok(())
    }
}

/// Trains until `config.epochs` are done, checkpointing after each epoch when `checkpoint_dir`
/// is given. Returns the run (its model and history).
pub fn train(
    config: TrainConfig,
    mnist: &Mnist,
    device: &Device,
    checkpoint_dir: Option<&Path>,
    resume: bool,
    mut on_event: impl FnMut(TrainEvent),
) -> Result<Training, TrainError> {
    let mut run = Training::start(config, device, checkpoint_dir, resume)?;
    let (train, validation) = (mnist.train(), mnist.validation());
    while run.epochs_done() < run.config().epochs {
        run.run_epoch(&train, &validation, &mut on_event)?;
        if let Some(dir) = checkpoint_dir {
            run.save_checkpoint(dir)?;
        }
    }
    Ok(run)
}

/// A Fisher–Yates permutation of `0..n` drawn from `rng`.
fn shuffled(n: usize, rng: &mut MaskRng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}
