//! The native command line: a thin shell over the library (clap for arguments, indicatif for
//! progress). Every command takes `--mnist DIR` and `--backend NAME`.

mod eval;
mod fetch;
mod pages;
mod reproduce;
mod train;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::module::Module;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::backend::Backend;
use crate::data::Mnist;
use crate::model::{Cnn, ModelCard};

/// Default MNIST directory: git-ignored, filled by `advdrop fetch-mnist`.
pub const DEFAULT_MNIST_DIR: &str = "data/mnist";
/// The shipped weights, by their path in the repository (how reports name them).
pub const SHIPPED_WEIGHTS: &str = "www/model/advdrop-cnn.safetensors";
/// The shipped weights and their model card, built into the binary, so an installed `advdrop`
/// needs no checkout beside it.
const SHIPPED_BYTES: &[u8] = include_bytes!("../../www/model/advdrop-cnn.safetensors");
const SHIPPED_CARD: &str = include_str!("../../www/model/advdrop-cnn.json");

#[derive(Parser, Debug)]
#[command(
    name = "advdrop",
    version,
    about = "Test-time dropout against adversarial examples on MNIST (Wang et al. 2019), reproduced with burn"
)]
pub struct Cli {
    /// Directory holding the four MNIST files (.gz or raw).
    #[arg(long, global = true, env = "ADVDROP_MNIST", default_value = DEFAULT_MNIST_DIR)]
    pub mnist: PathBuf,
    /// Compute backend: flex (CPU), ndarray (CPU) or wgpu (Vulkan/Metal GPU).
    #[arg(long, global = true, env = "ADVDROP_BACKEND", default_value = "flex")]
    pub backend: Backend,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Download MNIST from a public mirror (or copy it from --from) and check its md5s.
    FetchMnist(fetch::FetchArgs),
    /// Train the paper's CNN (Adam, FC dropout 0.5), checkpointing every epoch.
    Train(train::TrainArgs),
    /// Table 1: accuracy of every dropout scheme on the training and test images.
    Eval(eval::EvalArgs),
    /// The paper's protocol: Tables 2–5, Figures 2–3 and the conclusions' verdicts.
    Reproduce(reproduce::ReproduceArgs),
    /// Rewrite the documentation's results (README's headline table, docs/results.md's
    /// Tables 2–5) from the committed runs' reports.
    Pages(pages::PagesArgs),
}

/// Runs the command line; `main` only maps errors to an exit code.
pub fn main() -> Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        Command::FetchMnist(args) => fetch::run(&cli, args),
        Command::Train(args) => train::run(&cli, args),
        Command::Eval(args) => eval::run(&cli, args),
        Command::Reproduce(args) => reproduce::run(&cli, args),
        Command::Pages(args) => pages::run(args),
    }
}

/// The model card beside a weight file: same name, `.json`.
pub fn card_path(weights: &Path) -> PathBuf {
    weights.with_extension("json")
}

pub(crate) fn load_mnist(dir: &Path) -> Result<Mnist> {
    Mnist::load(dir).with_context(|| format!("loading MNIST from {}", dir.display()))
}

/// Weights as loaded: the model, its card when it has one, the file's sha256 and how reports
/// name it.
pub(crate) struct Loaded {
    pub model: Cnn,
    pub card: Option<ModelCard>,
    pub sha256: String,
    pub name: String,
}

/// Loads `--weights` (or, without it, the shipped weights built into the binary), checking
/// them against the card beside them when there is one (the shipped weights always have one).
/// The parameters are frozen: the CLI evaluates and attacks, and attacks differentiate with
/// respect to the input only — a backward pass would otherwise compute every weight's
/// gradient too (a third of a gradient call's time).
pub(crate) fn load_model(weights: Option<&Path>, device: &burn::tensor::Device) -> Result<Loaded> {
    let Some(weights) = weights else {
        let card: ModelCard =
            serde_json::from_str(SHIPPED_CARD).context("the built-in model card")?;
        let model = Cnn::from_verified_safetensors(SHIPPED_BYTES, &card.weights_sha256, device)
            .context("loading the built-in shipped weights")?;
        return Ok(Loaded {
            model: model.no_grad(),
            sha256: card.weights_sha256.clone(),
            card: Some(card),
            name: SHIPPED_WEIGHTS.into(),
        });
    };
    let bytes =
        std::fs::read(weights).with_context(|| format!("reading weights {}", weights.display()))?;
    let card_file = card_path(weights);
    let card: Option<ModelCard> = if card_file.is_file() {
        let text = std::fs::read_to_string(&card_file)
            .with_context(|| format!("reading {}", card_file.display()))?;
        Some(
            serde_json::from_str(&text)
                .with_context(|| format!("{}: not a valid model card", card_file.display()))?,
        )
    } else {
        None
    };
    let model = match &card {
        Some(card) => Cnn::from_verified_safetensors(&bytes, &card.weights_sha256, device),
        None => Cnn::from_safetensors(&bytes, device),
    }
    .with_context(|| format!("loading weights {}", weights.display()))?;
    Ok(Loaded {
        model: model.no_grad(),
        card,
        sha256: crate::model::weights::sha256_hex(&bytes),
        name: weights.display().to_string(),
    })
}

/// Says on stderr which weights a command runs on.
pub(crate) fn describe(loaded: &Loaded) {
    match &loaded.card {
        Some(card) => eprintln!(
            "weights {} (sha256 verified against its model card; trained {} epochs, test accuracy {:.2} %)",
            loaded.name,
            card.epochs_trained,
            card.accuracy.test * 100.0
        ),
        None => eprintln!(
            "weights {} (no model card beside it: hash not checked)",
            loaded.name
        ),
    }
}

/// A progress bar in the house style, drawn on stderr (stdout stays clean for `--json`).
pub(crate) fn bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}
