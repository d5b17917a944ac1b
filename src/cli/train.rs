//! `advdrop train`: trains, checkpoints every epoch, then writes the weights and their model card.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use super::{Cli, bar, card_path};
use crate::data::Split;
use crate::eval;
use crate::model::card::{ARCHITECTURE, Accuracies};
use crate::model::{Cnn, DropoutScheme, MaskRng, ModelCard, PARAMETERS, Precision, TrainConfig};
use crate::train::{TrainEvent, train};

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Epochs over the 50,000 training images (the paper trained 40).
    #[arg(long, default_value_t = 12)]
    pub epochs: usize,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Adam's learning rate for the first epoch.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Multiplies the learning rate after every epoch.
    #[arg(long, default_value_t = 0.75)]
    pub lr_decay: f64,
    /// Seed of initialisation, shuffling and dropout masks (7 made the shipped weights).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Training-time dropout on the FC hidden layer.
    #[arg(long, default_value_t = 0.5)]
    pub fc_dropout: f32,
    /// Where per-epoch checkpoints go.
    #[arg(long, default_value = "checkpoints/train")]
    pub checkpoint_dir: PathBuf,
    /// Continue from the last finished epoch in --checkpoint-dir.
    #[arg(long)]
    pub resume: bool,
    /// Weight file to write (its model card goes beside it, as .json). Default:
    /// `advdrop-cnn.safetensors` in --checkpoint-dir (never the shipped weights).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Storage precision of the weight file.
    #[arg(long, value_enum, default_value = "f16")]
    pub precision: PrecisionArg,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum PrecisionArg {
    F16,
    F32,
}

pub fn run(cli: &Cli, args: &TrainArgs) -> Result<()> {
    let mnist = super::load_mnist(&cli.mnist)?;
    let device = cli.backend.device();
    let config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        learning_rate: args.lr,
        lr_decay: args.lr_decay,
        seed: args.seed,
        fc_dropout: args.fc_dropout,
    };
    let started = Instant::now();
    let progress = bar(
        0,
        "epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}, ETA {eta})",
    );
    let run = train(
        config.clone(),
        &mnist,
        &device,
        Some(&args.checkpoint_dir),
        args.resume,
        |event| match event {
            TrainEvent::EpochStart { epoch, batches } => {
                progress.reset();
                progress.set_length(batches as u64);
                progress.set_prefix(format!("{}/{}", epoch + 1, config.epochs));
            }
            TrainEvent::Batch {
                batch,
                loss,
                accuracy,
            } => {
                progress.set_position(batch as u64);
                if batch % 10 == 0 {
                    progress.set_message(format!("loss {loss:.4} acc {:.1}%", accuracy * 100.0));
                }
            }
            TrainEvent::Validating => progress.set_message("validating"),
            // Printed through the bar so it stays above it, and also when stderr is no terminal.
            TrainEvent::EpochEnd(s) => progress.suspend(|| {
                eprintln!(
                    "epoch {:>2}: loss {:.4}  train {:.2}%  validation {:.2}%  lr {:.2e}  {:.0}s",
                    s.epoch,
                    s.mean_loss,
                    s.train_accuracy * 100.0,
                    s.validation_accuracy * 100.0,
                    s.learning_rate,
                    s.wall_time_s
                )
            }),
        },
    )?;
    progress.finish_and_clear();
    let history_time: f64 = run.history().iter().map(|s| s.wall_time_s).sum();
    eprintln!(
        "trained {} epochs ({:.0}s in this process, {:.0}s over all sessions)",
        run.epochs_done(),
        started.elapsed().as_secs_f64(),
        history_time
    );

    let precision = match args.precision {
        PrecisionArg::F16 => Precision::F16,
        PrecisionArg::F32 => Precision::F32,
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.checkpoint_dir.join("advdrop-cnn.safetensors"));
    let bytes = run
        .model()
        .to_safetensors(precision, HashMap::from([("format".into(), "pt".into())]))?;
    // Accuracy is measured on the weights as stored, so a half-precision loss would show.
    let stored = Cnn::from_safetensors(&bytes, &device)?;
    let accuracy = Accuracies {
        train: accuracy_of(&stored, &mnist.train(), &device)?,
        validation: accuracy_of(&stored, &mnist.validation(), &device)?,
        test: accuracy_of(&stored, &mnist.test, &device)?,
    };
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    let card = ModelCard {
        architecture: ARCHITECTURE.into(),
        parameters: PARAMETERS,
        weights_file: out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        weights_sha256: crate::model::weights::sha256_hex(&bytes),
        precision,
        training_command: training_command(),
        config,
        epochs_trained: run.epochs_done(),
        training_wall_time_s: history_time,
        training_backend: cli.backend.to_string(),
        accuracy,
        crate_version: env!("CARGO_PKG_VERSION").into(),
        burn_version: "0.22.1".into(),
    };
    let card_file = card_path(&out);
    std::fs::write(&card_file, serde_json::to_string_pretty(&card)? + "\n")
        .with_context(|| format!("writing {}", card_file.display()))?;
    eprintln!(
        "wrote {} and {}: train {:.2}%, validation {:.2}%, test {:.2}% (scheme none)",
        out.display(),
        card_file.display(),
        card.accuracy.train * 100.0,
        card.accuracy.validation * 100.0,
        card.accuracy.test * 100.0
    );
    Ok(())
}

fn accuracy_of(model: &Cnn, split: &Split, device: &burn::tensor::Device) -> Result<f64> {
    Ok(pollster::block_on(eval::accuracy(
        model,
        split,
        &DropoutScheme::NONE,
        &mut MaskRng::seed(0),
        device,
        |_, _| {},
    ))?)
}

/// The command as typed, for the model card (program name normalised to `advdrop`; `--mnist`,
/// a path on the machine that trained, left out).
fn training_command() -> String {
    let mut words = vec!["advdrop".to_string()];
    let mut args = std::env::args().skip(1);
    while let Some(word) = args.next() {
        if word == "--mnist" {
            args.next();
        } else if !word.starts_with("--mnist=") {
            words.push(word);
        }
    }
    words.join(" ")
}
