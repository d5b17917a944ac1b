//! The page's entry points (wasm only): a thin `wasm_bindgen` shell over the same library calls
//! the CLI makes, so the page and `advdrop reproduce` give the same numbers for the same seed
//! and backend.
//!
//! The module runs inside a Web Worker (`www/worker.js`). Every method that computes returns a
//! `Promise`, and every read from the device inside is async, because a blocking read on
//! WebGPU panics in the browser. Long work is cut into steps — one batch of one protocol cell,
//! one recognition scheme — and `runCell` stores each step in IndexedDB (through the worker's
//! store functions), posts progress and honours a cancel between steps.
//!
//! Values cross to JS as JSON text (serde_json here, the browser's `JSON.parse` there; maps as
//! plain objects, so results export as JSON unchanged), and a cell's pixels as a
//! `Float32Array`. serde-wasm-bindgen, which the design first named, makes one JS call per
//! number: measured in headless Chromium, storing a cell of two adversarials took 0.75 s and
//! reading the reference report 3.7 s, against under 20 ms each as JSON text.

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::rc::Rc;
use std::time::Duration;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::attack::{
    Attack, AttackKind, AttackOutcome, Criterion, Metric, Mode, Oracle, Outputs, PIXELS, Tracker,
    Victim, run_attack,
};
use crate::backend::read_floats;
use crate::data::{SIDE, Split};
use crate::eval::{self, MeanCi};
use crate::experiment::protocol::{self, AttackCell, CellId, Goal, ProtocolConfig, Streams};
use crate::experiment::report::{Report, RunInfo};
use crate::experiment::run::{self, Step};
use crate::experiment::table1::{self, Table1Cell, Table1Progress};
use crate::experiment::{estimate, paper};
use crate::model::weights::sha256_hex;
use crate::model::{Cnn, DropoutScheme, MaskRng};

thread_local! {
    /// burn's WebGPU runtime can be initialised once per page (burn #1282): later labs reuse it.
    static WEBGPU: RefCell<Option<(Device, String)>> = const { RefCell::new(None) };
}

/// Weights on the two devices the attacks need (see [`Victim`]).
struct Weights {
    grad: Cnn,
    plain: Cnn,
    sha256: String,
    name: String,
}

impl Weights {
    /// These weights as an attack queries them: `grad` on `grad_device` (the lab's device with
    /// autodiff), `plain` for predictions.
    fn victim<'a>(
        &'a self,
        scheme: DropoutScheme,
        grad_device: &'a Device,
        mode: Mode,
        outputs: Outputs,
    ) -> Victim<'a> {
        Victim {
            model: &self.grad,
            inference: &self.plain,
            scheme,
            device: grad_device,
            mode,
            outputs,
        }
    }

    /// A run's steps over these weights: attacked as `victim` (from [`Weights::victim`]),
    /// recognised by the plain network on `device`, timed by the page's clock.
    fn runner<'a>(
        &'a self,
        victim: Victim<'a>,
        device: &'a Device,
        test: &'a Split,
        candidates: &'a [usize],
        config: &'a ProtocolConfig,
    ) -> run::Runner<'a> {
        run::Runner {
            victim,
            plain: &self.plain,
            plain_device: device,
            test,
            candidates,
            config,
            clock: &clock,
            crew: None,
        }
    }
}

struct State {
    /// The plain device (no autodiff).
    device: Device,
    backend: &'static str,
    adapter: String,
    weights: RefCell<Option<Rc<Weights>>>,
    test: RefCell<Option<Rc<Split>>>,
    /// [`Split::sha256`] of the test set, part of a run's identity.
    test_sha256: RefCell<Option<String>>,
}

/// One lab: a device, the loaded weights and the MNIST test set.
#[wasm_bindgen]
pub struct Lab {
    state: Rc<State>,
}

fn js_err(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}

/// Values cross to JS as JSON text, parsed by the browser in one call. serde-wasm-bindgen built
/// the same values one JS call per number — about 0.5 ms each in the page's module, so storing a
/// cell of two adversarials (1,568 pixels) took 0.75 s; JSON text takes well under 1 ms.
fn to_js(value: &impl Serialize) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(value).map_err(js_err)?;
    js_sys::JSON::parse(&text)
}

fn from_js<T: for<'de> Deserialize<'de>>(value: JsValue) -> Result<T, JsValue> {
    let text = if value.is_undefined() {
        "null".to_string()
    } else {
        js_sys::JSON::stringify(&value)?
            .as_string()
            .unwrap_or_else(|| "null".into())
    };
    serde_json::from_str(&text).map_err(js_err)
}

/// Bounds on [`Lab::benchmark`]'s arguments: far past where a CPU's or GPU's throughput levels
/// off, yet small enough that one call cannot exhaust a worker's memory (a gradient at batch
/// 1,024 keeps ~0.35 GB of activations) or run for hours.
const MAX_BENCHMARK_BATCH: usize = 1024;
const MAX_BENCHMARK_REPS: usize = 10_000;

/// Milliseconds since the page started, as a clock for the protocol's wall times
/// (`std::time::Instant` does not exist on wasm32-unknown-unknown).
fn clock() -> Duration {
    Duration::from_secs_f64(js_sys::Date::now() / 1000.0)
}

/// Makes a lab on `backend`: `"webgpu"` (burn's wgpu backend on the browser's WebGPU adapter)
/// or `"cpu"` (burn's flex backend, single-threaded in the page). Rejects with a clear message
/// when WebGPU has no adapter, so the page can fall back to the CPU.
#[wasm_bindgen(js_name = createLab)]
pub fn create_lab(backend: String) -> js_sys::Promise {
    console_error_panic_hook::set_once();
    future_to_promise(async move {
        let (device, backend, adapter) = match backend.as_str() {
            "webgpu" => {
                let existing = WEBGPU.with(|w| w.borrow().clone());
                let (device, adapter) = match existing {
                    Some(found) => found,
                    None => {
                        let (device, setup) = Device::wgpu_options()
                            .init_with_setup_async()
                            .await
                            .map_err(|e| js_err(format!("WebGPU is not available: {e}")))?;
                        let info = setup.adapter.get_info();
                        let adapter = format!("{} ({:?})", info.name, info.backend);
                        WEBGPU.with(|w| *w.borrow_mut() = Some((device.clone(), adapter.clone())));
                        (device, adapter)
                    }
                };
                (device, "webgpu", adapter)
            }
            "cpu" => (
                Device::flex(),
                "cpu",
                "burn flex (wasm32, one thread)".into(),
            ),
            other => return Err(js_err(format!("unknown backend '{other}': webgpu or cpu"))),
        };
        let lab = Lab {
            state: Rc::new(State {
                device,
                backend,
                adapter,
                weights: RefCell::new(None),
                test: RefCell::new(None),
                test_sha256: RefCell::new(None),
            }),
        };
        Ok(lab.into())
    })
}

/// A protocol configuration as the page sends it: names, not types.
#[derive(Deserialize)]
struct WebConfig {
    samples: usize,
    seed: u64,
    attacks: Vec<String>,
    schemes: Vec<String>,
    goals: Vec<String>,
    votes: usize,
    /// Images attacked together; the CLI's default when absent, so the page and
    /// `advdrop reproduce` draw the same streams.
    #[serde(default = "default_batch")]
    batch: usize,
    /// `paper` (the default), `fixed-mask`, `eot` or `eot:K`.
    #[serde(default)]
    mode: Mode,
    /// `image` (the default, as `advdrop reproduce`) or `batch`.
    #[serde(default = "default_streams")]
    streams: Streams,
    /// Images per part of a batch (per-image streams); the CLI's default when absent.
    #[serde(default = "default_part")]
    part: usize,
}

fn default_part() -> usize {
    protocol::DEFAULT_PART
}

fn default_streams() -> Streams {
    Streams::Image
}

fn default_batch() -> usize {
    protocol::DEFAULT_BATCH
}

impl WebConfig {
    fn parse(value: JsValue) -> Result<ProtocolConfig, JsValue> {
        let c: WebConfig = from_js(value)?;
        let require = |names: &[String], what: &str| -> Result<(), JsValue> {
            if names.is_empty() {
                return Err(js_err(format!("choose at least one {what}")));
            }
            Ok(())
        };
        require(&c.attacks, "attack")?;
        require(&c.schemes, "scheme")?;
        require(&c.goals, "goal")?;
        if c.samples == 0 {
            return Err(js_err("N must be at least 1"));
        }
        Ok(ProtocolConfig {
            samples: c.samples,
            seed: c.seed,
            attacks: c
                .attacks
                .iter()
                .map(|a| a.parse::<AttackKind>().map_err(js_err))
                .collect::<Result<_, _>>()?,
            schemes: c
                .schemes
                .iter()
                .map(|s| s.parse::<DropoutScheme>().map_err(js_err))
                .collect::<Result<_, _>>()?,
            goals: c
                .goals
                .iter()
                .map(|g| g.parse::<Goal>().map_err(js_err))
                .collect::<Result<_, _>>()?,
            votes: c.votes.max(1),
            batch: c.batch.max(1),
            mode: c.mode,
            outputs: Outputs::Logits,
            streams: c.streams,
            part: c.streams.part(c.part),
        })
    }
}

/// A cell as the page names it.
#[derive(Serialize, Deserialize)]
struct WebCell {
    key: String,
    goal: String,
    attack: String,
    scheme: String,
}

impl WebCell {
    fn of(id: &CellId) -> Self {
        Self {
            key: id.key(),
            goal: id.goal.to_string(),
            attack: id.attack.name().into(),
            scheme: id.scheme.to_string(),
        }
    }

    fn id(&self, config: &ProtocolConfig) -> Result<CellId, JsValue> {
        config
            .cells()
            .into_iter()
            .find(|c| c.key() == self.key)
            .ok_or_else(|| js_err(format!("cell {} is not in this configuration", self.key)))
    }
}

/// A cell's checkpoint as it crosses to JS and into IndexedDB: the JSON half (this) and the
/// pixels (`adversarials`, a `Float32Array` beside it).
#[derive(Serialize, Deserialize)]
struct StoredCell {
    cell: AttackCell,
    /// What the cell needs next (`attack`, `recognise`, `done`), as the library's run decides
    /// it: the page never judges a cell itself. Absent in cells stored before it existed.
    #[serde(default)]
    next: Option<Step>,
}

impl StoredCell {
    /// The pixels cross as a `Float32Array` (one copy), beside the JSON half; cells stored as a
    /// plain array of numbers (before) read back as well.
    fn from_js(value: JsValue, id: &CellId) -> Result<AttackCell, JsValue> {
        if value.is_null() || value.is_undefined() {
            return Ok(AttackCell::new(id));
        }
        let key = JsValue::from_str("adversarials");
        let pixels = js_sys::Reflect::get(&value, &key)?;
        let adversarials = if pixels.is_undefined() || pixels.is_null() {
            Vec::new()
        } else {
            js_sys::Float32Array::new(&pixels).to_vec()
        };
        let rest = js_sys::Object::assign(&js_sys::Object::new(), value.unchecked_ref());
        js_sys::Reflect::delete_property(&rest, &key)?;
        let stored: StoredCell = from_js(rest.into())?;
        let mut cell = stored.cell;
        if cell.samples.len() * PIXELS != adversarials.len() {
            return Err(js_err(format!(
                "stored cell {} is damaged: {} pixels for {} samples",
                id.key(),
                adversarials.len(),
                cell.samples.len()
            )));
        }
        cell.adversarials = adversarials;
        Ok(cell)
    }

    fn to_js(cell: AttackCell, next: Step) -> Result<JsValue, JsValue> {
        let mut cell = cell;
        let adversarials = std::mem::take(&mut cell.adversarials);
        let value = to_js(&StoredCell {
            cell,
            next: Some(next),
        })?;
        js_sys::Reflect::set(
            &value,
            &JsValue::from_str("adversarials"),
            &js_sys::Float32Array::from(&adversarials[..]),
        )?;
        Ok(value)
    }
}

/// The page's store of cells (IndexedDB, behind two JS functions).
struct JsStore {
    store: JsValue,
    load: js_sys::Function,
    save: js_sys::Function,
}

impl JsStore {
    fn new(store: JsValue) -> Result<Self, JsValue> {
        let method = |name: &str| -> Result<js_sys::Function, JsValue> {
            js_sys::Reflect::get(&store, &JsValue::from_str(name))?
                .dyn_into()
                .map_err(|_| js_err(format!("the cell store has no {name}() method")))
        };
        Ok(Self {
            load: method("load")?,
            save: method("save")?,
            store,
        })
    }
}

/// What a JS store's promise rejected with, as text.
fn js_text(e: JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{e:?}"))
}

impl run::CellStore for JsStore {
    type Error = String;
    async fn load(&mut self, id: &CellId) -> Result<Option<AttackCell>, String> {
        let promise = self
            .load
            .call1(&self.store, &JsValue::from_str(&id.key()))
            .map_err(js_text)?;
        let value = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&promise))
            .await
            .map_err(js_text)?;
        if value.is_null() || value.is_undefined() {
            return Ok(None);
        }
        StoredCell::from_js(value, id).map(Some).map_err(js_text)
    }
    async fn save(&mut self, id: &CellId, cell: &AttackCell, next: Step) -> Result<(), String> {
        let stored = StoredCell::to_js(cell.clone(), next).map_err(js_text)?;
        let promise = self
            .save
            .call2(&self.store, &JsValue::from_str(&id.key()), &stored)
            .map_err(js_text)?;
        wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&promise))
            .await
            .map_err(js_text)?;
        Ok(())
    }
}

/// What the lab's attack panel asks for.
#[derive(Deserialize)]
struct AttackRequest {
    attack: String,
    /// `targeted` or `top3` (or `misclassification`).
    goal: String,
    /// One target per image for `targeted`.
    #[serde(default)]
    targets: Vec<u8>,
    scheme: String,
    seed: u64,
    /// `paper` (the default), `fixed-mask`, `eot` or `eot:K`.
    #[serde(default)]
    mode: Mode,
    /// The class each image counts as (its true label, or the deterministic prediction of a
    /// drawn digit).
    labels: Vec<u8>,
}

#[derive(Serialize)]
struct AttackReply {
    #[serde(flatten)]
    outcome: AttackOutcome,
    seconds: f64,
}

#[derive(Serialize)]
struct Histogram {
    scheme: String,
    counts: [u32; crate::model::CLASSES],
}

#[derive(Serialize)]
struct Table1Entry {
    scheme: String,
    test: MeanCi,
    paper_test: Option<f64>,
}

#[derive(Serialize)]
struct ProgressEvent<'a> {
    scheme: &'a str,
    pass: usize,
    passes: usize,
    images_done: usize,
    images: usize,
}

/// What [`Lab::benchmark`] measured.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BenchmarkReply {
    /// Wall time of the timed calls (the warm-up call excluded).
    seconds: f64,
    /// Images through the network in the timed calls: batch × reps.
    images: usize,
    img_per_sec: f64,
    /// What the warm-up call read back — logits (`batch × 10`) or input gradients
    /// (`batch × 784`) — so another implementation of the network can be checked against it.
    values: Vec<f32>,
}

/// Runs `call` once to warm up (WebGPU compiles its shaders on the first call), then `reps`
/// times on the clock. Returns what the warm-up call gave and the seconds the reps took.
async fn time_calls(
    reps: usize,
    mut call: impl AsyncFnMut() -> Result<Vec<f32>, JsValue>,
) -> Result<(Vec<f32>, f64), JsValue> {
    let values = call().await?;
    let started = clock();
    for _ in 0..reps {
        call().await?;
    }
    Ok((values, (clock() - started).as_secs_f64()))
}

#[derive(Serialize)]
struct ReportReply {
    report: Report,
    markdown: String,
    csv: String,
}

impl Lab {
    fn weights(&self) -> Result<Rc<Weights>, JsValue> {
        self.state
            .weights
            .borrow()
            .clone()
            .ok_or_else(|| js_err("no weights loaded yet"))
    }

    fn test(&self) -> Result<Rc<Split>, JsValue> {
        self.state
            .test
            .borrow()
            .clone()
            .ok_or_else(|| js_err("no MNIST test set loaded yet"))
    }
}

#[wasm_bindgen]
impl Lab {
    /// `webgpu` or `cpu`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.state.backend.into()
    }

    /// The adapter's name and API (WebGPU), or a description of the CPU backend.
    #[wasm_bindgen(getter)]
    pub fn adapter(&self) -> String {
        self.state.adapter.clone()
    }

    /// Loads safetensors weights (the shipped f16 file, or a user's own). With
    /// `expected_sha256`, refuses bytes whose hash differs. Returns the hash.
    #[wasm_bindgen(js_name = loadWeights)]
    pub fn load_weights(
        &self,
        bytes: &[u8],
        name: String,
        expected_sha256: Option<String>,
    ) -> Result<String, JsValue> {
        let grad_device = self.state.device.clone().autodiff();
        // Built on the target device and loaded there: moving an autodiff model between
        // devices records a transfer whose backward pass would read back synchronously.
        // The attacks differentiate with respect to the input only; parameters left requiring
        // gradients would make every backward pass compute theirs too.
        let grad = match &expected_sha256 {
            Some(sha) => Cnn::from_verified_safetensors(bytes, sha, &grad_device),
            None => Cnn::from_safetensors(bytes, &grad_device),
        }
        .map_err(js_err)?
        .no_grad();
        let plain = grad.valid();
        let sha256 = sha256_hex(bytes);
        *self.state.weights.borrow_mut() = Some(Rc::new(Weights {
            grad,
            plain,
            sha256: sha256.clone(),
            name,
        }));
        Ok(sha256)
    }

    /// Loads the MNIST test split from its two IDX files (raw or gzip). Returns its size.
    #[wasm_bindgen(js_name = loadTestSet)]
    pub fn load_test_set(&self, images: &[u8], labels: &[u8]) -> Result<usize, JsValue> {
        let split = Split::from_idx_bytes(
            "t10k-images-idx3-ubyte",
            images,
            "t10k-labels-idx1-ubyte",
            labels,
        )
        .map_err(js_err)?;
        let n = split.len();
        *self.state.test_sha256.borrow_mut() = Some(split.sha256());
        *self.state.test.borrow_mut() = Some(Rc::new(split));
        Ok(n)
    }

    /// The key a run of `config` is stored under: the library's [`run::RunId::key`] of the
    /// configuration, the loaded weights and the loaded test set, so a run never mixes two
    /// models, two data sets or two configurations.
    #[wasm_bindgen(js_name = runKey)]
    pub fn run_key(&self, config: JsValue) -> Result<String, JsValue> {
        let config = WebConfig::parse(config)?;
        let weights = self.weights()?;
        let data = self.state.test_sha256.borrow().clone();
        let data = data.ok_or_else(|| js_err("no MNIST test set loaded yet"))?;
        let id = run::RunId {
            weights_sha256: weights.sha256.clone(),
            data_sha256: data,
        };
        Ok(id.key(&config))
    }

    /// Pixels (0–255) of test image `index`, for the gallery.
    #[wasm_bindgen(js_name = testImage)]
    pub fn test_image(&self, index: usize) -> Result<Vec<u8>, JsValue> {
        let test = self.test()?;
        if index >= test.len() {
            return Err(js_err(format!("test image {index} of {}", test.len())));
        }
        Ok(test.image(index).to_vec())
    }

    /// True label of test image `index`.
    #[wasm_bindgen(js_name = testLabel)]
    pub fn test_label(&self, index: usize) -> Result<u8, JsValue> {
        let test = self.test()?;
        test.labels()
            .get(index)
            .copied()
            .ok_or_else(|| js_err(format!("test image {index} of {}", test.len())))
    }

    /// How one image (784 pixels in [0, 1]) is classified under each of `schemes` over
    /// `passes` stochastic passes: `[{scheme, counts[10]}]`.
    pub fn classify(
        &self,
        image: Vec<f32>,
        schemes: Vec<String>,
        passes: usize,
        seed: u64,
    ) -> js_sys::Promise {
        let lab = self.state.clone();
        let weights = self.weights();
        future_to_promise(async move {
            let weights = weights?;
            if image.len() != PIXELS {
                return Err(js_err(format!(
                    "{} pixels (expected {PIXELS})",
                    image.len()
                )));
            }
            let mut out = Vec::new();
            for (k, name) in schemes.iter().enumerate() {
                let scheme: DropoutScheme = name.parse().map_err(js_err)?;
                let mut rng = MaskRng::stream(seed, k as u64);
                let counts = eval::class_histogram(
                    &weights.plain,
                    &image,
                    &scheme,
                    passes,
                    &mut rng,
                    &lab.device,
                )
                .await
                .map_err(js_err)?;
                out.push(Histogram {
                    scheme: name.clone(),
                    counts,
                });
            }
            to_js(&out)
        })
    }

    /// Runs one attack on a batch: `images` are `labels.len() × 784` pixels in [0, 1];
    /// `request` is `{attack, goal, targets?, scheme, seed, labels}`. Resolves to the outcome
    /// (adversarials, success, first_pass, distances, queries) and the wall time.
    pub fn attack(&self, images: Vec<f32>, request: JsValue) -> js_sys::Promise {
        let lab = self.state.clone();
        let weights = self.weights();
        future_to_promise(async move {
            let weights = weights?;
            let request: AttackRequest = from_js(request)?;
            let kind: AttackKind = request.attack.parse().map_err(js_err)?;
            let scheme: DropoutScheme = request.scheme.parse().map_err(js_err)?;
            let criterion = match request.goal.as_str() {
                "targeted" => Criterion::TargetClass(request.targets.clone()),
                "top3" => Criterion::TopKMisclassification(3),
                "misclassification" => Criterion::Misclassification,
                other => return Err(js_err(format!("unknown goal '{other}'"))),
            };
            let grad_device = lab.device.clone().autodiff();
            let victim = weights.victim(scheme, &grad_device, request.mode, Outputs::Logits);
            let mut rng = MaskRng::seed(request.seed);
            let started = clock();
            let outcome = run_attack(
                &kind,
                victim,
                &images,
                &request.labels,
                criterion,
                Metric::Mse,
                &mut rng,
            )
            .await
            .map_err(js_err)?;
            let seconds = (clock() - started).as_secs_f64();
            to_js(&AttackReply { outcome, seconds })
        })
    }

    /// Times the loaded network on this lab's backend: `reps` calls after one warm-up call, each
    /// on the first `batch` MNIST test digits, sent from the host and read back, so the time is
    /// what a caller waits for. `kind` is `forward` (the inference network's logits under
    /// `scheme`) or `gradient` (the input gradient of each digit's cross-entropy at its label on
    /// the autodiff network, taken through the [`Oracle`] as the attacks take it). Resolves to
    /// `{seconds, images, imgPerSec, values}` (`values`: what the warm-up call read back).
    pub fn benchmark(
        &self,
        kind: String,
        batch: usize,
        reps: usize,
        scheme: String,
    ) -> js_sys::Promise {
        let lab = self.state.clone();
        let (weights, test) = (self.weights(), self.test());
        future_to_promise(async move {
            let (weights, test) = (weights?, test?);
            let gradient = match kind.as_str() {
                "forward" => false,
                "gradient" => true,
                other => {
                    return Err(js_err(format!(
                        "unknown benchmark '{other}': forward or gradient"
                    )));
                }
            };
            if !(1..=MAX_BENCHMARK_BATCH).contains(&batch) {
                return Err(js_err(format!(
                    "batch {batch} is outside 1–{MAX_BENCHMARK_BATCH}"
                )));
            }
            if !(1..=MAX_BENCHMARK_REPS).contains(&reps) {
                return Err(js_err(format!(
                    "reps {reps} is outside 1–{MAX_BENCHMARK_REPS}"
                )));
            }
            if batch > test.len() {
                return Err(js_err(format!(
                    "batch {batch} needs more digits than the test set's {}",
                    test.len()
                )));
            }
            let scheme: DropoutScheme = scheme.parse().map_err(js_err)?;
            let ids: Vec<usize> = (0..batch).collect();
            let labels = test.labels_at(&ids);
            let pixels = read_floats(test.images_tensor(&ids, &lab.device))
                .await
                .map_err(js_err)?;
            let mut rng = MaskRng::seed(0);
            let (values, seconds) = if gradient {
                let grad_device = lab.device.clone().autodiff();
                let victim = weights.victim(scheme, &grad_device, Mode::default(), Outputs::Logits);
                let tracker = Tracker::new(pixels.clone(), Metric::Mse);
                let mut oracle = Oracle::new(
                    victim,
                    (&mut rng).into(),
                    Criterion::Misclassification,
                    labels.clone(),
                    tracker,
                );
                time_calls(reps, async || {
                    oracle
                        .gradient(&ids, &pixels, &labels)
                        .await
                        .map_err(js_err)
                })
                .await?
            } else {
                time_calls(reps, async || {
                    let data = TensorData::new(pixels.clone(), [batch, 1, SIDE, SIDE]);
                    let x = Tensor::<4>::from_data(data, &lab.device);
                    read_floats(weights.plain.forward(x, &scheme, &mut rng))
                        .await
                        .map_err(js_err)
                })
                .await?
            };
            let images = batch * reps;
            to_js(&BenchmarkReply {
                seconds,
                images,
                img_per_sec: images as f64 / seconds,
                values,
            })
        })
    }

    /// The cells of a protocol configuration, in run order: `[{key, goal, attack, scheme}]`.
    pub fn cells(&self, config: JsValue) -> Result<JsValue, JsValue> {
        let config = WebConfig::parse(config)?;
        to_js(&config.cells().iter().map(WebCell::of).collect::<Vec<_>>())
    }

    /// The test images the deterministic network classifies correctly among the first
    /// `run::screened_images(N)`: the pool every cell of the run draws from. A prefix of the
    /// CLI's pool, so the same seed attacks the same images in the same order.
    pub fn candidates(&self, config: JsValue) -> js_sys::Promise {
        let lab = self.state.clone();
        let (weights, test) = (self.weights(), self.test());
        let config = WebConfig::parse(config);
        future_to_promise(async move {
            let (weights, test, config) = (weights?, test?, config?);
            let limit = run::screened_images(config.samples);
            let part = test.slice(0..limit.min(test.len()));
            let pool = protocol::candidates(&weights.plain, &part, &lab.device)
                .await
                .map_err(js_err)?;
            to_js(&pool)
        })
    }

    /// Runs one cell of a protocol run to done through the library's `run::Runner::run_cell`, keeping
    /// it in `store` — `{load(key) → Promise<stored | null>, save(key, stored) → Promise}`,
    /// where `stored` is `{cell, adversarials, next}` — after every step. `on_step(stored)`
    /// hears the cell before the first step and after each; returning `true` stops there (a
    /// cancel: what is finished is stored). Resolves to the step the cell needs next (`done`
    /// unless stopped).
    #[wasm_bindgen(js_name = runCell)]
    pub fn run_cell(
        &self,
        config: JsValue,
        cell: JsValue,
        candidates: Vec<u32>,
        store: JsValue,
        on_step: js_sys::Function,
    ) -> js_sys::Promise {
        let lab = self.state.clone();
        let (weights, test) = (self.weights(), self.test());
        future_to_promise(async move {
            let (weights, test) = (weights?, test?);
            let config = WebConfig::parse(config)?;
            let id = from_js::<WebCell>(cell)?.id(&config)?;
            let mut store = JsStore::new(store)?;
            let candidates: Vec<usize> = candidates.into_iter().map(|c| c as usize).collect();
            let grad_device = lab.device.clone().autodiff();
            let victim = weights.victim(id.scheme, &grad_device, config.mode, config.outputs);
            let mut hook_error = None;
            let runner = weights.runner(victim, &lab.device, &test, &candidates, &config);
            let next = runner
                .run_cell(&id, &mut store, |cell, next| {
                    let stop = StoredCell::to_js(cell.clone(), next)
                        .and_then(|stored| on_step.call1(&JsValue::NULL, &stored));
                    match stop {
                        Ok(v) if v.is_truthy() => ControlFlow::Break(()),
                        Ok(_) => ControlFlow::Continue(()),
                        Err(e) => {
                            hook_error = Some(e);
                            ControlFlow::Break(())
                        }
                    }
                })
                .await
                .map_err(js_err)?;
            if let Some(e) = hook_error {
                return Err(e);
            }
            to_js(&next)
        })
    }

    /// Times a run of `config` on this lab before it starts (the library's
    /// `estimate::probe` and `probe_recognition`): each (goal, attack) of the run attacks the
    /// first `estimate::PROBE_IMAGES` digits of `candidates` once, then one recognition pass is
    /// timed. `on_probe({done, total, goal, attack})` hears each before it starts; returning
    /// `true` stops (the promise rejects with "cancelled"). Resolves to the `Timing` that
    /// [`estimate_run`] takes.
    #[wasm_bindgen(js_name = timeRun)]
    pub fn time_run(
        &self,
        config: JsValue,
        candidates: Vec<u32>,
        on_probe: js_sys::Function,
    ) -> js_sys::Promise {
        let lab = self.state.clone();
        let (weights, test) = (self.weights(), self.test());
        future_to_promise(async move {
            let (weights, test) = (weights?, test?);
            let config = WebConfig::parse(config)?;
            let candidates: Vec<usize> = candidates.into_iter().map(|c| c as usize).collect();
            if candidates.is_empty() {
                return Err(js_err(
                    "the pool is empty: no test digit to time the attacks on",
                ));
            }
            let scheme = estimate::probe_scheme(&config);
            let grad_device = lab.device.clone().autodiff();
            let victim = weights.victim(scheme, &grad_device, config.mode, config.outputs);
            let runner = weights.runner(victim, &lab.device, &test, &candidates, &config);
            let mut pairs: Vec<(Goal, AttackKind)> = Vec::new();
            for id in config.cells() {
                if !pairs.iter().any(|(g, a)| *g == id.goal && *a == id.attack) {
                    pairs.push((id.goal, id.attack));
                }
            }
            let mut probes = Vec::new();
            for (done, (goal, attack)) in pairs.iter().enumerate() {
                let note = to_js(&serde_json::json!({
                    "done": done, "total": pairs.len(), "goal": goal.name(), "attack": attack.name(),
                }))?;
                if on_probe.call1(&JsValue::NULL, &note)?.is_truthy() {
                    return Err(js_err("cancelled"));
                }
                probes.push(
                    estimate::probe(&runner, *goal, attack, estimate::PROBE_IMAGES)
                        .await
                        .map_err(js_err)?,
                );
            }
            let seconds_per_pass = estimate::probe_recognition(&runner, estimate::PROBE_IMAGES)
                .await
                .map_err(js_err)?;
            to_js(&estimate::Timing {
                probes,
                seconds_per_pass,
            })
        })
    }

    /// Tables 2–5 and the verdicts from the cells so far (`[{cell, adversarials}]` or bare
    /// cells): `{report, markdown, csv}`.
    pub fn report(&self, config: JsValue, cells: JsValue, pool: usize) -> Result<JsValue, JsValue> {
        let config = WebConfig::parse(config)?;
        let stored: Vec<StoredCellRef> = from_js(cells)?;
        let cells: Vec<AttackCell> = stored.into_iter().map(|s| s.cell).collect();
        let weights = self.weights()?;
        let info = RunInfo {
            weights: weights.name.clone(),
            weights_sha256: Some(weights.sha256.clone()),
            backend: format!("{} — {}", self.state.backend, self.state.adapter),
            test_images_correct: pool,
        };
        let report = Report::build(&config, info, &cells, None);
        to_js(&ReportReply {
            markdown: report.markdown(),
            csv: report.csv(),
            report,
        })
    }

    /// Table 1 on the first `limit` test images: accuracy per scheme over `repeats` passes,
    /// beside the paper's. `on_progress` gets `{scheme, pass, passes, images_done, images}`.
    pub fn table1(
        &self,
        schemes: Vec<String>,
        limit: usize,
        repeats: usize,
        seed: u64,
        on_progress: js_sys::Function,
    ) -> js_sys::Promise {
        let lab = self.state.clone();
        let (weights, test) = (self.weights(), self.test());
        future_to_promise(async move {
            let (weights, test) = (weights?, test?);
            let part = test.slice(0..limit.min(test.len()));
            let mut rows = Vec::new();
            let mut report = |p: Table1Progress<'_>| {
                let event = ProgressEvent {
                    scheme: p.scheme,
                    pass: p.pass,
                    passes: p.passes,
                    images_done: p.images_done,
                    images: p.images,
                };
                if let Ok(v) = to_js(&event) {
                    let _ = on_progress.call1(&JsValue::NULL, &v);
                }
            };
            for (k, name) in schemes.iter().enumerate() {
                let scheme: DropoutScheme = name.parse().map_err(js_err)?;
                let at = Table1Cell {
                    scheme_index: k,
                    split: table1::TEST,
                    seed,
                    repeats,
                };
                let test = table1::scheme_accuracy(
                    &weights.plain,
                    &part,
                    &scheme,
                    at,
                    &lab.device,
                    &mut report,
                )
                .await
                .map_err(js_err)?;
                rows.push(Table1Entry {
                    scheme: name.clone(),
                    test,
                    paper_test: scheme.preset_name().and_then(paper::table1).map(|p| p.1),
                });
            }
            to_js(&rows)
        })
    }
}

/// The JSON half of a stored cell, for reports (the pixels are not needed).
#[derive(Deserialize)]
struct StoredCellRef {
    cell: AttackCell,
}

/// How long a run of `config` takes on `workers` workers, from a `timing` ([`Lab::time_run`]) and
/// the reference run's report when it attacked the same weights (else `null`), and the largest
/// N that finishes within the library's budget (five minutes): the library's `estimate`.
#[wasm_bindgen(js_name = estimateRun)]
pub fn estimate_run(
    config: JsValue,
    timing: JsValue,
    reference: JsValue,
    workers: usize,
) -> Result<JsValue, JsValue> {
    let config = WebConfig::parse(config)?;
    let timing: estimate::Timing = from_js(timing)?;
    let reference: Option<Report> = if reference.is_null() || reference.is_undefined() {
        None
    } else {
        Some(from_js(reference)?)
    };
    if !(1..=64).contains(&workers) {
        return Err(js_err(format!("workers {workers} is outside 1–64")));
    }
    to_js(&estimate::estimate(
        &config,
        &timing,
        reference.as_ref(),
        workers,
        estimate::BUDGET_SECONDS,
    ))
}

/// What the page offers — attacks (with their defaults and sources), goals, schemes, attacker
/// modes — from the library's catalogue: the page builds its menus and About text from it.
#[wasm_bindgen(js_name = catalogue)]
pub fn catalogue_js() -> Result<JsValue, JsValue> {
    to_js(&crate::experiment::catalogue::catalogue())
}

/// The paper's numbers for the page's charts: MAD (Tables 2, 4) and cross recognition
/// (Tables 3, 5), keyed `goal/attack/scheme` and `goal/attack/test/generating`.
#[wasm_bindgen(js_name = paperNumbers)]
pub fn paper_numbers() -> Result<JsValue, JsValue> {
    let schemes: Vec<&str> = DropoutScheme::PRESETS.iter().map(|(n, _)| *n).collect();
    let mut mad = std::collections::BTreeMap::new();
    let mut cross = std::collections::BTreeMap::new();
    let mut table1 = std::collections::BTreeMap::new();
    for goal in Goal::ALL {
        for attack in AttackKind::paper() {
            for s in &schemes {
                if let Some(v) = paper::mad(goal.name(), attack.name(), s) {
                    mad.insert(format!("{goal}/{}/{s}", attack.name()), v);
                }
                for t in &schemes {
                    if let Some(v) = paper::cross_recognition(goal.name(), attack.name(), t, s) {
                        cross.insert(format!("{goal}/{}/{t}/{s}", attack.name()), v);
                    }
                }
            }
        }
    }
    for s in &schemes {
        if let Some((train, test)) = paper::table1(s) {
            table1.insert(s.to_string(), [train, test]);
        }
    }
    to_js(&serde_json::json!({ "mad": mad, "cross": cross, "table1": table1 }))
}
