//! `advdrop reproduce`: the paper's protocol (Tables 2–5, Figures 2–3) with per-batch
//! checkpoints, so an interrupted run resumes where it stopped.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::module::Module;
use clap::Args;

use indicatif::MultiProgress;

use super::{Cli, bar};
use crate::attack::{AttackKind, Mode, Outputs, Victim};
use crate::experiment::protocol::{
    self, AttackCell, CellId, DEFAULT_BATCH, DEFAULT_PART, DEFAULT_VOTES, Goal, ProtocolConfig,
    Streams,
};
use crate::experiment::report::{Report, RunInfo};
use crate::experiment::run::{self, RunId, Step};
use crate::experiment::{Table1, figures};
use crate::model::DropoutScheme;

#[derive(Args, Debug)]
pub struct ReproduceArgs {
    /// Successful adversarials per cell (the paper: 1000).
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// Seed of targets and dropout masks.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "lbfgs,fgsm,jsma,deepfool",
        help = crate::experiment::catalogue::attacks_help()
    )]
    pub attacks: Vec<AttackKind>,
    /// Generating (and test) schemes, ';'-separated presets or rates "in,feat,fc".
    #[arg(
        long,
        value_delimiter = ';',
        default_value = "none;input;feature;fc;all"
    )]
    pub schemes: Vec<DropoutScheme>,
    /// Goals, comma-separated: targeted, top3.
    #[arg(long, value_delimiter = ',', default_value = "targeted,top3")]
    pub goals: Vec<Goal>,
    /// Passes per image for the majority-vote recognition.
    #[arg(long, default_value_t = DEFAULT_VOTES)]
    pub votes: usize,
    /// Images attacked together.
    #[arg(long, default_value_t = DEFAULT_BATCH)]
    pub batch: usize,
    /// How the attacker queries the dropout network: paper (fresh masks, one pass decides),
    /// fixed-mask (one frozen mask per image: a sanity check), eot or eot:K (logits averaged
    /// over K passes per call, K = 10 by default: the adaptive attack).
    #[arg(long, default_value = "paper")]
    pub mode: Mode,
    /// What the attacks see as the network's logits: logits, or clipped-log-probs —
    /// log(clip(softmax, 1e-7, 1 − 1e-7)) with the gradients of Keras's cross-entropy on it,
    /// as Foolbox 0.8's Keras wrapper gave them in its default probabilities mode.
    #[arg(long, default_value = "logits")]
    pub outputs: Outputs,
    /// Output directory (default: results/reproduce-n<samples>-s<seed>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in --out: finished cells and batches are kept.
    #[arg(long)]
    pub resume: bool,
    /// Weight file (default: the shipped weights, checked against their model card).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Write the report from the checkpoints in --out as they stand (finished and unfinished
    /// cells) without attacking anything: a look at a run that is still going.
    #[arg(long, requires = "resume")]
    pub report_only: bool,
    /// First copy into --out the finished cells of another run of the same protocol that ran
    /// some of the goals or attacks (a second process, another machine): same seed, samples,
    /// schemes, votes, batch and mode. Cells finished in --out are kept.
    #[arg(long, requires = "resume", value_name = "DIR")]
    pub merge: Option<PathBuf>,
    /// Attack only these cells, comma-separated keys as in `cells/` (`top3-lbfgs-fc`): how
    /// processes or machines split a run without two of them taking the same cell. The
    /// other cells are reported as they stand in --out.
    #[arg(long, value_delimiter = ',', value_name = "KEYS")]
    pub cells: Vec<String>,
    /// Cores at work (default: all of them). Under `--streams image` the parts of each batch
    /// (`--part`) are shared out among them; under `--streams batch` whole cells run side by
    /// side, one per core. The numbers do not depend on it.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Where masks come from while attacking: `image` (one stream per image: the numbers do
    /// not depend on the batch, and `--jobs` can split a batch) or `batch` (one stream per
    /// batch, as runs made before per-image streams, `results/paper` among them, drew them).
    #[arg(long, default_value = "image")]
    pub streams: Streams,
    /// Under `--streams image`, attack each batch in parts of at most this many images (the
    /// unit `--jobs` shares out; 0: whole batches). Part of the run: burn's kernels round
    /// differently at other widths.
    #[arg(long, default_value_t = DEFAULT_PART)]
    pub part: usize,
}

pub fn run(cli: &Cli, args: &ReproduceArgs) -> Result<()> {
    let config = ProtocolConfig {
        samples: args.samples,
        seed: args.seed,
        attacks: args.attacks.clone(),
        schemes: args.schemes.clone(),
        goals: args.goals.clone(),
        votes: args.votes,
        batch: args.batch,
        mode: args.mode,
        outputs: args.outputs,
        streams: args.streams,
        part: args.streams.part(args.part),
    };
    if config.samples == 0 {
        bail!("--samples must be at least 1");
    }
    // `--jobs` is the number of cores at work: burn's kernels get a pool of that many threads
    // (the parts of a split batch, one each of their own), before anything runs on it.
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build_global();
    let keys: Vec<String> = config.cells().iter().map(CellId::key).collect();
    if let Some(unknown) = args.cells.iter().find(|k| !keys.contains(k)) {
        bail!(
            "--cells: {unknown} is not a cell of this run; its cells are {}",
            keys.join(",")
        );
    }
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "results/reproduce-n{}-s{}",
            args.samples, args.seed
        ))
    });
    let mnist = super::load_mnist(&cli.mnist)?;
    let device = cli.backend.device().autodiff();
    let loaded = super::load_model(args.weights.as_deref(), &device)?;
    super::describe(&loaded);
    let run_id = RunId::new(&loaded.sha256, &mnist.test);
    prepare_out(&out, &config, &run_id, args.resume)?;
    if let Some(from) = &args.merge {
        let merged = merge_cells(&out, &config, &run_id, from)?;
        eprintln!("merged {merged} finished cells from {}", from.display());
    }
    let plain = loaded.model.valid();
    let plain_device = device.clone().without_autodiff();
    let candidates = pollster::block_on(protocol::candidates(&plain, &mnist.test, &plain_device))?;
    eprintln!(
        "{} cells, {} correctly classified test images to draw from; checkpoints in {}",
        config.cells().len(),
        candidates.len(),
        out.display()
    );

    // The cells this process works on.
    let todo: Vec<CellId> = if args.report_only {
        Vec::new()
    } else {
        config
            .cells()
            .into_iter()
            .filter(|id| args.cells.is_empty() || args.cells.contains(&id.key()))
            .collect()
    };
    // Batches in parts (per-image streams): the cells run one after another, the parts of each
    // batch on the threads at once. Whole batches (batch streams): the cells side by side, one
    // per thread, each taking the next.
    let (split, whole) = if config.part_size().is_some() {
        (todo, Vec::new())
    } else {
        (Vec::new(), todo)
    };
    let bars = MultiProgress::new();
    let started = Instant::now();
    let crew = (jobs > 1 && !split.is_empty())
        .then(|| -> Result<protocol::ThreadCrew> {
            let models = (0..jobs)
                .map(|_| super::load_model(args.weights.as_deref(), &device).map(|l| l.model))
                .collect::<Result<_>>()?;
            protocol::ThreadCrew::new(models, &device).context("starting the --jobs threads")
        })
        .transpose()?;
    let work = |model: Option<&crate::model::Cnn>,
                queue: &std::sync::Mutex<std::vec::IntoIter<CellId>>,
                crew: Option<&dyn protocol::Crew>|
     -> Result<()> {
        // Each thread its own model: burn's autodiff graph is per thread.
        let own;
        let model = match model {
            Some(m) => m,
            None => {
                own = super::load_model(args.weights.as_deref(), &device)?.model;
                &own
            }
        };
        let plain = model.valid();
        let victim = Victim {
            model,
            inference: &plain,
            scheme: DropoutScheme::NONE,
            device: &device,
            mode: config.mode,
            outputs: config.outputs,
        };
        let clock = || started.elapsed();
        loop {
            let Some(id) = queue.lock().expect("queue").next() else {
                return Ok(());
            };
            let progress = bars.add(bar(
                config.samples as u64,
                "{prefix:>26} [{bar:30}] {pos}/{len} {msg} ({elapsed}, ETA {eta})",
            ));
            progress.set_prefix(id.key());
            let mut last = None;
            let runner = run::Runner {
                victim,
                plain: &plain,
                plain_device: &plain_device,
                test: &mnist.test,
                candidates: &candidates,
                config: &config,
                clock: &clock,
                crew,
            };
            pollster::block_on(
                runner.run_cell(&id, &mut FileStore { out: &out }, |cell, next| {
                    progress.set_position(cell.samples.len() as u64);
                    progress.set_message(match next {
                        Step::Attack => format!("ok of {} tried", cell.attempted),
                        _ => format!(
                            "recognising {}/{}",
                            cell.recognition.len(),
                            config.schemes.len()
                        ),
                    });
                    if next == Step::Done {
                        last = Some(Report::cell_line(cell));
                    }
                    ControlFlow::Continue(())
                }),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            progress.finish_and_clear();
            bars.remove(&progress);
            if let Some(line) = last {
                let _ = bars.println(line);
            }
        }
    };
    let threads = jobs.min(whole.len());
    let whole = std::sync::Mutex::new(whole.into_iter());
    if threads == 1 {
        work(Some(&loaded.model), &whole, None)?;
    } else if threads > 1 {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| scope.spawn(|| work(None, &whole, None)))
                .collect();
            handles
                .into_iter()
                .map(|t| t.join().expect("a worker thread panicked"))
                .collect::<Result<Vec<()>>>()
        })?;
    }
    if !split.is_empty() {
        let split = std::sync::Mutex::new(split.into_iter());
        let crew = crew.as_ref().map(|c| c as &dyn protocol::Crew);
        work(Some(&loaded.model), &split, crew)?;
    }
    // The report: every cell of the run as it stands in --out (finished by this process, by
    // another, or still going).
    let mut cells = Vec::new();
    for id in config.cells() {
        if let Some(cell) = load_cell(&out, &id)?
            && !cell.samples.is_empty()
        {
            cells.push(cell);
        }
    }

    let table1 = load_table1(&out, &loaded.sha256);
    let info = RunInfo {
        // The shipped weights by their path in the repository, not on this machine.
        weights: loaded.name.clone(),
        weights_sha256: Some(loaded.sha256.clone()),
        backend: cli.backend.name().into(),
        test_images_correct: candidates.len(),
    };
    let report = Report::build(&config, info, &cells, table1.as_ref());
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    std::fs::write(out.join("tables.md"), report.markdown())?;
    std::fs::write(out.join("cells.csv"), report.csv())?;
    for goal in &config.goals {
        let png = figures::figure(&mnist.test, &config, &cells, *goal);
        let name = match goal {
            Goal::Targeted => "figure2-targeted.png",
            Goal::Top3 => "figure3-top3.png",
        };
        if let Some(png) = png {
            std::fs::write(out.join(name), png)?;
        }
    }
    println!("{}", report.markdown());
    eprintln!(
        "wrote {}/{{report.json, tables.md, cells.csv, figure*.png}}",
        out.display()
    );
    Ok(())
}

/// Refuses to mix runs: an existing directory needs --resume and the same configuration.
fn prepare_out(out: &Path, config: &ProtocolConfig, run_id: &RunId, resume: bool) -> Result<()> {
    let path = out.join("config.json");
    let wanted = serde_json::to_string_pretty(config)?;
    if path.is_file() {
        if !resume {
            bail!(
                "{} already holds a run: pass --resume to continue it, or choose another --out",
                out.display()
            );
        }
        let existing = std::fs::read_to_string(&path)?;
        if let Ok(stored) = serde_json::from_str::<ProtocolConfig>(&existing)
            && stored.streams != config.streams
            && stored
                == (ProtocolConfig {
                    streams: stored.streams,
                    part: stored.part,
                    ..config.clone()
                })
        {
            bail!(
                "{} holds a run made with --streams {}; pass it to continue that run",
                out.display(),
                stored.streams.name()
            );
        }
        if existing != wanted {
            bail!(
                "{} holds a run with another configuration ({}); --resume needs the same arguments",
                out.display(),
                path.display()
            );
        }
        return check_run_id(out, run_id, "--resume");
    }
    std::fs::create_dir_all(out.join("cells"))
        .with_context(|| format!("creating {}", out.display()))?;
    write_atomically(&path, wanted.as_bytes())?;
    check_run_id(out, run_id, "--resume")
}

/// The run in `dir` must be this one (same weights, same data): `run.json` says which it is.
/// A run from before `run.json` existed is taken as this one, and the file is written.
fn check_run_id(dir: &Path, run_id: &RunId, what: &str) -> Result<()> {
    let path = dir.join("run.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let stored: RunId = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a run's identity", path.display()))?;
            run_id.continues(&stored).map_err(|why| {
                anyhow::anyhow!(
                    "{what}: the run in {} cannot continue here: {why}",
                    dir.display()
                )
            })
        }
        Err(_) => write_atomically(&path, serde_json::to_string_pretty(run_id)?.as_bytes()),
    }
}

/// Copies the finished cells of the run in `from` that this run has and has not finished.
fn merge_cells(out: &Path, config: &ProtocolConfig, run_id: &RunId, from: &Path) -> Result<usize> {
    if from.join("run.json").is_file() {
        check_run_id(from, run_id, "--merge")?;
    }
    let path = from.join("config.json");
    let other: ProtocolConfig = serde_json::from_str(
        &std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| format!("{}: not a run's configuration", path.display()))?;
    config
        .shares_cells_with(&other)
        .map_err(|why| anyhow::anyhow!("cannot merge {}: {why}", from.display()))?;
    let ours = config.cells();
    let mut merged = 0;
    for id in other.cells().iter().filter(|id| ours.contains(id)) {
        let Some(cell) = load_cell(from, id)? else {
            continue;
        };
        let done = |c: &AttackCell| c.finished && c.recognition.len() == config.schemes.len();
        if done(&cell) && !load_cell(out, id)?.is_some_and(|c| done(&c)) {
            // The files as they are (binary first, as `save_cell` writes them): a JSON
            // round trip could move a float by one ulp.
            let (from_json, from_bin) = cell_paths(from, id);
            let (json, bin) = cell_paths(out, id);
            write_atomically(&bin, &std::fs::read(from_bin)?)?;
            write_atomically(&json, &std::fs::read(from_json)?)?;
            merged += 1;
        }
    }
    Ok(merged)
}

fn cell_paths(out: &Path, id: &CellId) -> (PathBuf, PathBuf) {
    let base = out.join("cells").join(id.key());
    (base.with_extension("json"), base.with_extension("f32"))
}

/// The run's cells on files in `out/cells/`.
struct FileStore<'a> {
    out: &'a Path,
}

impl run::CellStore for FileStore<'_> {
    type Error = anyhow::Error;
    async fn load(&mut self, id: &CellId) -> Result<Option<AttackCell>> {
        load_cell(self.out, id)
    }
    async fn save(&mut self, id: &CellId, cell: &AttackCell, _: Step) -> Result<()> {
        save_cell(self.out, id, cell)
    }
}

fn load_cell(out: &Path, id: &CellId) -> Result<Option<AttackCell>> {
    let (json, bin) = cell_paths(out, id);
    if !json.is_file() {
        return Ok(None);
    }
    let mut cell: AttackCell = serde_json::from_str(&std::fs::read_to_string(&json)?)
        .with_context(|| format!("{}: not a cell checkpoint", json.display()))?;
    let bytes = std::fs::read(&bin).with_context(|| format!("reading {}", bin.display()))?;
    protocol::adversarials_from_bytes(&mut cell, &bytes)
        .map_err(|e| anyhow::anyhow!("{}: {e}", bin.display()))?;
    Ok(Some(cell))
}

/// Binary first, then the JSON that vouches for it: a crash between the two leaves the old
/// JSON, and loading keeps only the adversarials it vouches for.
fn save_cell(out: &Path, id: &CellId, cell: &AttackCell) -> Result<()> {
    let (json, bin) = cell_paths(out, id);
    write_atomically(&bin, &protocol::adversarials_to_bytes(cell))?;
    write_atomically(&json, serde_json::to_string_pretty(cell)?.as_bytes())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// Table 1 of the same weights, when `advdrop eval` has recorded it (the accuracy cost that
/// conclusion 1 weighs against robustness): `table1.json` in the run's directory, else the
/// shipped weights' table in `results/paper/` (from where the command runs). A table of other
/// weights is never taken.
fn load_table1(out: &Path, weights_sha256: &str) -> Option<Table1> {
    [
        out.join("table1.json"),
        Path::new("results/paper/table1.json").into(),
    ]
    .iter()
    .filter_map(|path| std::fs::read_to_string(path).ok())
    .filter_map(|text| serde_json::from_str::<Table1>(&text).ok())
    .find(|table| table.is_of(weights_sha256))
}
