//! `advdrop eval`: Table 1 for a weight file, beside the paper's figures.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::{Cli, bar};
use crate::experiment::{self, DEFAULT_REPEATS, Table1Config};
use crate::model::DropoutScheme;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Stochastic passes per dropout scheme (mean ± 95 % CI over them).
    #[arg(long, default_value_t = DEFAULT_REPEATS)]
    pub repeats: usize,
    /// Schemes to evaluate: presets (none, input, feature, fc, all) or rates "in,feat,fc",
    /// separated by ';'.
    #[arg(
        long,
        value_delimiter = ';',
        default_value = "none;input;feature;fc;all"
    )]
    pub schemes: Vec<DropoutScheme>,
    /// Seed of the dropout masks.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Evaluate only the first N training and N test images (quick looks; the paper uses all).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Weight file (default: the shipped weights, checked against their model card).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Directory for table1.json and table1.csv.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Print the table as one JSON document on stdout instead of markdown.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &EvalArgs) -> Result<()> {
    let mnist = super::load_mnist(&cli.mnist)?;
    let device = cli.backend.device();
    let loaded = super::load_model(args.weights.as_deref(), &device)?;
    super::describe(&loaded);
    let model = loaded.model;
    let (mut train, mut test) = (mnist.train(), mnist.test.clone());
    if let Some(n) = args.limit {
        train = train.slice(0..n.min(train.len()));
        test = test.slice(0..n.min(test.len()));
    }
    let passes: usize = args
        .schemes
        .iter()
        .map(|s| {
            if s.is_deterministic() {
                1
            } else {
                args.repeats.max(1)
            }
        })
        .sum();
    let total = (passes * (train.len() + test.len())) as u64;
    let progress = bar(
        total,
        "{prefix:>24} [{bar:30}] {percent}% ({elapsed}, ETA {eta})",
    );
    let mut finished_before = 0u64;
    let mut last = (String::new(), "", 0usize);
    let table = pollster::block_on(experiment::table1(
        &model,
        &train,
        &test,
        &Table1Config {
            schemes: args.schemes.clone(),
            repeats: args.repeats,
            seed: args.seed,
        },
        &device,
        |p| {
            let key = (p.scheme.to_string(), p.split, p.pass);
            if key != last {
                if !last.0.is_empty() {
                    finished_before = progress.position();
                }
                progress.set_prefix(format!(
                    "{} {} {}/{}",
                    p.scheme,
                    p.split,
                    p.pass + 1,
                    p.passes
                ));
                last = key;
            }
            progress.set_position(finished_before + p.images_done as u64);
        },
    ))?
    .of_weights(&loaded.sha256);
    progress.finish_and_clear();

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let json = serde_json::to_string_pretty(&table)?;
    std::fs::write(args.out.join("table1.json"), &json)?;
    std::fs::write(args.out.join("table1.csv"), table.csv())?;
    if args.json {
        println!("{json}");
    } else {
        println!("{}", table.markdown());
        eprintln!(
            "wrote {} and {}",
            args.out.join("table1.json").display(),
            args.out.join("table1.csv").display()
        );
    }
    Ok(())
}
