//! The protocol: seeded runs repeat exactly, a resumed run equals an uninterrupted one, the
//! report's verdicts follow the numbers, and the CLI refuses to mix runs.
// Native only: `wasm-pack test` builds every test target for wasm32; tests/web.rs is the wasm one.
#![cfg(not(target_family = "wasm"))]

mod common;

use std::ops::ControlFlow;
use std::process::Command;
use std::time::Duration;

use advdrop::attack::{AttackKind, DeepFool, Distances, Fgsm, Mode, Victim};
use advdrop::eval::Recognition;
use advdrop::experiment::protocol::{
    self, AttackCell, CellId, Crew, Goal, ProtocolConfig, Sample, Streams, ThreadCrew,
};
use advdrop::experiment::report::{Report, RunInfo, Verdict};
use advdrop::experiment::run::{self, Step};
use advdrop::model::DropoutScheme;
use burn::module::Module;
use burn::tensor::Device;

fn zero() -> Duration {
    Duration::ZERO
}

fn config() -> ProtocolConfig {
    ProtocolConfig {
        samples: 4,
        seed: 11,
        // A short FGSM sweep (50 ε) and DeepFool: reproducibility and resumption are tested
        // here, not the attacks, and the run is repeated several times.
        attacks: vec![
            AttackKind::Fgsm(Fgsm {
                steps: 50,
                ..Fgsm::default()
            }),
            AttackKind::DeepFool(DeepFool::default()),
        ],
        schemes: vec![DropoutScheme::NONE, DropoutScheme::ALL],
        goals: vec![Goal::Targeted, Goal::Top3],
        votes: 3,
        batch: 2,
        mode: Mode::Paper,
        outputs: advdrop::attack::Outputs::Logits,
        streams: Streams::Image,
        // Every batch of two in two parts of one image.
        part: 1,
    }
}

/// Runs the cells of `config` from `cells` (fresh where missing) through the library's run
/// steps, as the CLI and the page drive them; `stop_after` steps per cell at most (then the
/// caller resumes).
fn run_cells(
    config: &ProtocolConfig,
    cells: Vec<AttackCell>,
    stop_after: Option<u64>,
) -> Vec<AttackCell> {
    run_cells_with(config, cells, stop_after, None)
}

/// [`run_cells`] with a crew that attacks the parts of splittable batches.
fn run_cells_with(
    config: &ProtocolConfig,
    cells: Vec<AttackCell>,
    stop_after: Option<u64>,
    crew: Option<&dyn Crew>,
) -> Vec<AttackCell> {
    let device = Device::flex().autodiff();
    let model = common::shipped_model(&device);
    let plain = model.valid();
    let plain_device = Device::flex();
    let victim = Victim {
        model: &model,
        inference: &plain,
        scheme: DropoutScheme::NONE,
        device: &device,
        mode: Mode::Paper,
        outputs: advdrop::attack::Outputs::Logits,
    };
    let test = &common::mnist().test;
    let candidates: Vec<usize> = pollster::block_on(protocol::candidates(
        &plain,
        &test.slice(0..60),
        &plain_device,
    ))
    .unwrap();
    // The cells so far, in a store as a front end keeps them; each cell runs through the
    // library's `run_cell`, stopped by its progress hook after `stop_after` steps.
    let mut store = run::MemoryStore::default();
    for (id, cell) in config.cells().iter().zip(cells) {
        store.cells.insert(id.key(), cell);
    }
    let runner = run::Runner {
        victim,
        plain: &plain,
        plain_device: &plain_device,
        test,
        candidates: &candidates,
        config,
        clock: &zero,
        crew,
    };
    for id in config.cells() {
        let mut steps = 0;
        pollster::block_on(runner.run_cell(&id, &mut store, |_, _| {
            steps += 1;
            if stop_after.is_some_and(|n| steps > n) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }))
        .unwrap();
    }
    config
        .cells()
        .iter()
        .map(|id| {
            store
                .cells
                .remove(&id.key())
                .unwrap_or_else(|| AttackCell::new(id))
        })
        .collect()
}

/// What a checkpoint keeps: the JSON half and the binary half, round-tripped.
fn checkpoint(cells: &[AttackCell]) -> Vec<AttackCell> {
    cells
        .iter()
        .map(|c| {
            let mut back: AttackCell =
                serde_json::from_str(&serde_json::to_string(c).unwrap()).unwrap();
            protocol::adversarials_from_bytes(&mut back, &protocol::adversarials_to_bytes(c))
                .unwrap();
            back
        })
        .collect()
}

#[test]
fn a_seed_reproduces_a_run_and_a_resumed_run_equals_an_uninterrupted_one() {
    let config = config();
    let whole = run_cells(&config, Vec::new(), None);
    assert_eq!(
        whole.len(),
        6,
        "2 targeted FGSM cells, 2 top-3 FGSM, 2 top-3 DeepFool: DeepFool has no targeted cells"
    );
    for cell in &whole {
        assert!(cell.finished);
        assert_eq!(
            cell.samples.len(),
            config.samples,
            "{} {}",
            cell.attack,
            cell.scheme
        );
        assert_eq!(cell.recognition.len(), 2);
        for s in cell.samples.iter().filter(|_| cell.goal == Goal::Targeted) {
            assert_ne!(s.target, Some(s.label));
            assert_eq!(
                s.target,
                Some(protocol::target_for(config.seed, s.index, s.label))
            );
        }
    }
    assert_eq!(
        run_cells(&config, Vec::new(), None),
        whole,
        "same seed, same run"
    );

    // A part of the run (one goal, one attack), as a second process would run it into its own
    // directory: its cells are the full run's, so the two can be merged.
    let part = ProtocolConfig {
        attacks: vec![AttackKind::DeepFool(DeepFool::default())],
        goals: vec![Goal::Top3],
        ..config.clone()
    };
    let part_cells = run_cells(&part, Vec::new(), None);
    assert_eq!(part_cells.len(), 2);
    for cell in &part_cells {
        let same = whole
            .iter()
            .find(|c| c.goal == cell.goal && c.attack == cell.attack && c.scheme == cell.scheme)
            .expect("the full run has the cell");
        assert_eq!(cell, same, "{} {}", cell.attack, cell.scheme);
    }

    let mut partial = run_cells(&config, Vec::new(), Some(1));
    assert!(
        partial.iter().any(|c| !c.finished),
        "the first pass must stop early"
    );
    while partial
        .iter()
        // 60 bounds the pool: a cell whose pool ran out is finished by its next step.
        .any(|c| Step::of(&config, c, 60) != Step::Done)
    {
        partial = run_cells(&config, checkpoint(&partial), Some(1));
    }
    assert_eq!(
        partial, whole,
        "resumed batch by batch, through checkpoints"
    );

    let other = ProtocolConfig { seed: 12, ..config };
    assert_ne!(
        run_cells(&other, Vec::new(), None),
        whole,
        "another seed, another run"
    );
}

#[test]
fn a_run_in_parts_is_the_same_on_one_thread_or_several() {
    let config = config();
    let whole = run_cells(&config, Vec::new(), None);
    let device = Device::flex().autodiff();
    // The CLI's crew: two threads, each taking the next part (so the order varies run to run).
    let models = vec![
        common::shipped_model(&device),
        common::shipped_model(&device),
    ];
    let crew = ThreadCrew::new(models, &device).unwrap();
    assert_eq!(
        run_cells_with(&config, Vec::new(), None, Some(&crew)),
        whole,
        "the parts of every batch attacked at once, on two threads"
    );

    // The part size is part of the run (kernels round differently at other widths); under
    // batch streams an image's masks depend on its batch, so batches are attacked whole.
    let wider = ProtocolConfig {
        part: 2,
        ..config.clone()
    };
    assert!(config.shares_cells_with(&wider).is_err());
    let shared = ProtocolConfig {
        streams: Streams::Batch,
        ..config.clone()
    };
    assert_eq!(shared.part_size(), None);
    let test = &common::mnist().test;
    let id = &shared.cells()[0];
    let candidates: Vec<usize> = (0..10).collect();
    let fresh = AttackCell::new(id);
    assert_eq!(
        protocol::next_batch(test, &candidates, &shared, id, &fresh)
            .parts()
            .len(),
        1
    );
    let parts = protocol::next_batch(test, &candidates, &config, id, &fresh).parts();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[1].indices, vec![1]);
    // And the streams are other streams: the stochastic cells differ.
    let unsplit = run_cells_with(&shared, Vec::new(), None, Some(&crew));
    assert_eq!(unsplit, run_cells(&shared, Vec::new(), None));
    assert!(
        unsplit
            .iter()
            .zip(&whole)
            .any(|(a, b)| a.scheme != "none" && a.samples != b.samples)
    );
}

#[test]
fn a_torn_checkpoint_keeps_what_its_json_vouches_for() {
    let id = CellId {
        goal: Goal::Top3,
        attack: AttackKind::DeepFool(DeepFool::default()),
        scheme: DropoutScheme::NONE,
    };
    let mut cell = AttackCell::new(&id);
    cell.samples.push(sample(3, 0.1));
    cell.adversarials = vec![0.25; 784];
    let mut longer = protocol::adversarials_to_bytes(&cell);
    longer.extend(vec![0u8; 784 * 4]); // a batch whose JSON never landed
    let mut back = cell.clone();
    back.adversarials.clear();
    protocol::adversarials_from_bytes(&mut back, &longer).unwrap();
    assert_eq!(back, cell);
    let err = protocol::adversarials_from_bytes(&mut back, &longer[..100]).unwrap_err();
    assert!(err.contains("expected 3136"), "{err}");
}

fn sample(index: usize, mad: f32) -> Sample {
    Sample {
        index,
        label: 1,
        target: None,
        first_pass: false,
        distances: Distances {
            mad,
            ..Default::default()
        },
        queries: 1,
        extra: 0,
    }
}

/// A cell with `n` samples of the given MAD, recognised as the true label `recognised` times.
fn synthetic(goal: Goal, attack: &str, scheme: &str, mad: f32) -> AttackCell {
    let kind: AttackKind = attack.parse().unwrap();
    let id = CellId {
        goal,
        attack: kind,
        scheme: scheme.parse().unwrap(),
    };
    let mut cell = AttackCell::new(&id);
    cell.samples = (0..10).map(|i| sample(i, mad / 255.0)).collect();
    cell.adversarials = vec![0.0; 10 * 784];
    cell.attempted = 10;
    cell.finished = true;
    cell.attack_seconds = 2.0;
    cell.recognition_seconds = 1.0;
    cell.recognition.insert(
        scheme.into(),
        Recognition {
            images: 10,
            single_pass: 3,
            vote: 2,
            passes: 5,
            true_class_rate: 0.3,
        },
    );
    cell
}

/// The paper-like story of `verdicts_follow_the_numbers`, each cell's 10 MADs spread ± `spread`
/// around its mean.
fn spread_report(spread: f32, schemes_mad: [f32; 5]) -> Report {
    let schemes = ["none", "input", "feature", "fc", "all"];
    let mut cells = Vec::new();
    for goal in Goal::ALL {
        for attack in ["lbfgs", "fgsm", "jsma"] {
            for (k, s) in schemes.iter().enumerate() {
                let mad = match (goal, attack) {
                    (Goal::Targeted, "jsma") => 10.0,
                    (Goal::Top3, "jsma") => 70.0 - 10.0 * k as f32,
                    _ => schemes_mad[k],
                };
                let mut cell = synthetic(goal, attack, s, mad);
                for (i, sample) in cell.samples.iter_mut().enumerate() {
                    let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
                    sample.distances.mad = (mad + sign * spread) / 255.0;
                }
                cells.push(cell);
            }
        }
    }
    let info = RunInfo {
        weights: "w".into(),
        weights_sha256: None,
        backend: "flex".into(),
        test_images_correct: 10,
    };
    Report::build(&ProtocolConfig::paper(10, 0), info, &cells, None)
}

#[test]
fn verdicts_need_intervals_clear_of_their_thresholds() {
    let story = [10.0, 11.0, 12.0, 14.0, 20.0];
    let expect = |report: &Report, k: usize, want: Verdict| {
        let c = &report.conclusions[k];
        assert_eq!(c.verdict, want, "conclusion {}: {}", k + 1, c.evidence);
    };
    // Tight cells: the paper's story is decided as before.
    let tight = spread_report(0.1, story);
    expect(&tight, 1, Verdict::Confirmed);
    expect(&tight, 2, Verdict::Confirmed);
    // Same means, 10 adversarials spread ± 8: the order of fc, feature and input is within
    // the noise, so conclusion 2 cannot be judged, and the words say so.
    let noisy = spread_report(8.0, story);
    expect(&noisy, 1, Verdict::TooFewToJudge);
    let words = &noisy.conclusions[1].verdict_words;
    assert_eq!(words, "too few adversarials to judge");
    let evidence = &noisy.conclusions[0].evidence;
    assert!(evidence.contains("× ["), "{evidence}");
    assert!(noisy.markdown().contains("*too few adversarials to judge*"));
    // L-BFGS and FGSM flat, top-3 JSMA shrinking most under fc: with tight intervals the order
    // input > feature > fc is clear, so conclusion 2 is refuted, not left open.
    let flat = spread_report(0.1, [10.0; 5]);
    expect(&flat, 1, Verdict::Refuted);
}

#[test]
fn verdicts_follow_the_numbers() {
    let schemes = ["none", "input", "feature", "fc", "all"];
    // `unfinished` names the one cell still running, if any (a snapshot of a run in progress).
    let build_with = |mad: &dyn Fn(Goal, &str, usize) -> f32, unfinished: Option<(Goal, &str)>| {
        let mut cells = Vec::new();
        for goal in Goal::ALL {
            for attack in ["lbfgs", "fgsm", "jsma"] {
                for (k, s) in schemes.iter().enumerate() {
                    let mut cell = synthetic(goal, attack, s, mad(goal, attack, k));
                    cell.finished = unfinished != Some((goal, attack)) || k == 0;
                    cells.push(cell);
                }
            }
        }
        let config = ProtocolConfig::paper(10, 0);
        let info = RunInfo {
            weights: "w".into(),
            weights_sha256: None,
            backend: "flex".into(),
            test_images_correct: 10,
        };
        Report::build(&config, info, &cells, None)
    };
    let build = |mad: &dyn Fn(Goal, &str, usize) -> f32| build_with(mad, None);
    // The paper's story: MAD grows with dropout, fc > feature > input; JSMA targeted flat,
    // JSMA top-3 shrinking.
    let paper_like_mad = |goal: Goal, attack: &str, k: usize| match (goal, attack) {
        (Goal::Targeted, "jsma") => 10.0,
        (Goal::Top3, "jsma") => 70.0 - 10.0 * k as f32,
        _ => [10.0, 11.0, 12.0, 14.0, 20.0][k],
    };
    let paper_like = build(&paper_like_mad);
    let verdicts: Vec<Verdict> = paper_like.conclusions.iter().map(|c| c.verdict).collect();
    // No Table 1 given: conclusion 1 cannot weigh the accuracy cost, so it is only partly
    // confirmed however large the MADs.
    assert_eq!(
        verdicts[0],
        Verdict::PartlyConfirmed,
        "{:?}",
        paper_like.conclusions[0]
    );
    assert_eq!(
        verdicts[1],
        Verdict::Confirmed,
        "{:?}",
        paper_like.conclusions[1]
    );
    assert_eq!(
        verdicts[2],
        Verdict::Confirmed,
        "{:?}",
        paper_like.conclusions[2]
    );
    // A run in progress: top-3 JSMA's dropout cells have only their first batches, so the
    // check that needs them is not decided on them.
    let in_progress = build_with(&paper_like_mad, Some((Goal::Top3, "jsma")));
    assert_eq!(
        in_progress.conclusions[2].verdict,
        Verdict::Undecided,
        "{:?}",
        in_progress.conclusions[2]
    );
    let input_first = build(&|_, _, k| [10.0, 15.0, 12.0, 11.0, 20.0][k]);
    assert_eq!(input_first.conclusions[1].verdict, Verdict::Refuted);
    let flat = build(&|_, _, _| 10.0);
    assert_eq!(flat.conclusions[0].verdict, Verdict::Refuted);
    assert_eq!(
        flat.conclusions[2].verdict,
        Verdict::PartlyConfirmed,
        "only 'JSMA flat' holds"
    );
    let md = paper_like.markdown();
    assert!(
        md.contains("11.29") && md.contains("Table 5"),
        "paper figures beside ours"
    );
    assert_eq!(paper_like.csv().lines().count(), 1 + 30);
    assert!(
        md.contains("| top3 | jsma | 5 | 50 | 10 | 5.00 | 5 |"),
        "time per attack sums its cells"
    );
    assert!(
        md.contains("| all |  | 30 | 300 | 60 | 5.00 | 30 |\n\nTotal: 0.0 h"),
        "{md}"
    );
}

/// `advdrop --mnist <the test data> reproduce`, arguments to follow.
fn reproduce() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_advdrop"));
    command.args([
        "--mnist",
        common::mnist_dir().to_str().unwrap(),
        "reproduce",
    ]);
    command
}

#[test]
fn the_cli_resumes_and_refuses_to_mix_runs() {
    let out = std::env::temp_dir().join(format!("advdrop-reproduce-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = |extra: &[&str]| {
        reproduce()
            .args([
                "--samples",
                "2",
                "--attacks",
                "deepfool",
                "--schemes",
                "none;fc",
                "--goals",
                "top3",
                "--votes",
                "3",
                "--out",
            ])
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    // Two cells at once on two threads; the resumed and split runs below take one at a time
    // and must report the same numbers.
    let first = run(&["--jobs", "2"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let report = std::fs::read_to_string(out.join("report.json")).unwrap();
    assert!(out.join("figure3-top3.png").is_file());
    let again = run(&[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("pass --resume"));
    // Drop one finished cell: --resume redoes exactly it and reports the same numbers.
    std::fs::remove_file(out.join("cells/top3-deepfool-fc.json")).unwrap();
    let resumed = run(&["--resume", "--jobs", "1"]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let strip = |s: &str| -> serde_json::Value {
        let mut v: serde_json::Value = serde_json::from_str(s).unwrap();
        for cell in v["cells"].as_array_mut().unwrap() {
            for key in ["attack_seconds", "images_per_second", "recognition_seconds"] {
                cell[key] = serde_json::Value::Null;
            }
        }
        v
    };
    assert_eq!(
        strip(&std::fs::read_to_string(out.join("report.json")).unwrap()),
        strip(&report)
    );
    // --cells attacks only the cells it names (another process takes the rest), and an
    // unknown key is refused before anything runs; the rest done later, the report is the same.
    for cell in ["top3-deepfool-none", "top3-deepfool-fc"] {
        std::fs::remove_file(out.join(format!("cells/{cell}.json"))).unwrap();
    }
    let unknown = run(&["--resume", "--cells", "top3-deepfool-input"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not a cell of this run"));
    assert!(!out.join("cells/top3-deepfool-fc.json").exists());
    let one = run(&["--resume", "--cells", "top3-deepfool-fc"]);
    assert!(
        one.status.success(),
        "{}",
        String::from_utf8_lossy(&one.stderr)
    );
    assert!(out.join("cells/top3-deepfool-fc.json").is_file());
    assert!(!out.join("cells/top3-deepfool-none.json").exists());
    let rest = run(&["--resume", "--cells", "top3-deepfool-none"]);
    assert!(rest.status.success());
    assert_eq!(
        strip(&std::fs::read_to_string(out.join("report.json")).unwrap()),
        strip(&report)
    );
    let other = reproduce()
        .args(["--samples", "3", "--resume", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&other.stderr).contains("another configuration"));
    // A run of the other mask streams: the refusal says which streams continue it.
    let streams = run(&["--resume", "--streams", "batch"]);
    assert!(!streams.status.success());
    let stderr = String::from_utf8_lossy(&streams.stderr);
    assert!(stderr.contains("made with --streams image"), "{stderr}");
    // Other weights (one weight changed, no model card) may not continue the run: a cell would
    // mix two models.
    let mut bytes = std::fs::read(common::shipped_weights_path()).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    let changed = out.with_extension("safetensors");
    std::fs::write(&changed, &bytes).unwrap();
    let mixed = run(&["--resume", "--weights", changed.to_str().unwrap()]);
    assert!(!mixed.status.success());
    let stderr = String::from_utf8_lossy(&mixed.stderr);
    assert!(stderr.contains("it attacked other weights"), "{stderr}");
    std::fs::remove_file(&changed).unwrap();

    // A run of more attacks takes the DeepFool cells from this one instead of redoing them
    // (--report-only: nothing else is attacked), and a run with other samples is refused.
    let wider = out.with_extension("wider");
    let _ = std::fs::remove_dir_all(&wider);
    let merge = |samples: &str| {
        reproduce()
            .args(["--samples", samples, "--attacks", "fgsm,deepfool"])
            .args(["--schemes", "none;fc", "--goals", "top3", "--votes", "3"])
            .args(["--resume", "--report-only", "--merge"])
            .arg(&out)
            .arg("--out")
            .arg(&wider)
            .output()
            .unwrap()
    };
    let merged = merge("2");
    let stderr = String::from_utf8_lossy(&merged.stderr);
    assert!(merged.status.success(), "{stderr}");
    assert!(stderr.contains("merged 2 finished cells"), "{stderr}");
    for cell in ["top3-deepfool-none", "top3-deepfool-fc"] {
        for ext in ["json", "f32"] {
            let file = format!("cells/{cell}.{ext}");
            assert_eq!(
                std::fs::read(wider.join(&file)).unwrap(),
                std::fs::read(out.join(&file)).unwrap(),
                "{file}"
            );
        }
    }
    assert!(!wider.join("cells/top3-fgsm-none.json").exists());
    std::fs::remove_dir_all(&wider).unwrap();
    let refused = merge("3");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("differ in samples"));
    let _ = std::fs::remove_dir_all(&wider);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_attacker_mode_is_part_of_a_run() {
    let paper = ProtocolConfig {
        samples: 2,
        attacks: vec![AttackKind::DeepFool(DeepFool::default())],
        schemes: vec![DropoutScheme::ALL],
        goals: vec![Goal::Top3],
        ..config()
    };
    let eot = ProtocolConfig {
        mode: Mode::Eot { samples: 3 },
        ..paper.clone()
    };
    // A paper run's configuration reads as before modes existed (resuming older runs).
    let json = serde_json::to_string(&paper).unwrap();
    assert!(!json.contains("mode"), "{json}");
    let json = serde_json::to_string(&eot).unwrap();
    assert!(json.contains(r#""mode":"eot:3""#), "{json}");
    assert_eq!(serde_json::from_str::<ProtocolConfig>(&json).unwrap(), eot);

    let by_paper = run_cells(&paper, Vec::new(), None);
    let by_eot = run_cells(&eot, Vec::new(), None);
    assert_eq!(by_eot[0].samples.len(), 2);
    for s in &by_eot[0].samples {
        assert_eq!(
            s.queries % 3,
            0,
            "an EOT query is three passes: {}",
            s.queries
        );
    }
    assert_ne!(by_eot, by_paper);
}
