// The page: talks to the worker (which hosts the wasm module), draws the views.
import { PIXELS, paint, paintPerturbation, toMnist, drawingPad } from './digits.js';
import { SCHEMES, madChart, histogram, heatmap, downloadPng, download } from './charts.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const base = new URL('..', import.meta.url).href; // dist/ root, whatever the sub-path

// ---------------------------------------------------------------- worker

// The lab runs in a Web Worker (its own wasm instance), so the page never freezes. An
// experiment adds helpers: more workers on the CPU backend, each taking whole cells of the run.
let lab = null; // the lab's worker: {call, cancel, terminate}
let helpers = []; // the experiment's other workers, started when a run needs them
const listeners = new Set();
let info = null; // what 'start' answered
// The weights in use: a shipped set by its model card, or the user's own file (kept here so a
// restarted worker — cancel, backend switch — and every helper load the same weights).
let weightsChoice = { card: params.get('weights') ?? 'advdrop-cnn.json' };

const DOWNLOADS = ['weights', 'test images', 'test labels'];
function labWorker(onFailure, helper = false) {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const pending = new Map();
  let nextId = 1;
  worker.onmessage = ({ data }) => {
    if (data.type === 'progress') {
      // A helper's downloads come from the browser's cache; the status bar speaks for the lab.
      if (helper && DOWNLOADS.includes(data.what)) return;
      for (const l of listeners) l(data);
      return;
    }
    if (data.type === 'crash') { onFailure(`crashed: ${data.error}`); return; }
    const p = pending.get(data.id);
    if (!p) return;
    pending.delete(data.id);
    if (data.error) p.reject(new Error(data.error)); else p.resolve(data.result);
  };
  worker.onerror = (e) => onFailure(`failed: ${e.message}`);
  return {
    call(op, args = {}, transfer = []) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, op, ...args }, transfer);
      });
    },
    cancel() { worker.postMessage({ op: 'cancel' }); },
    terminate() {
      worker.terminate();
      for (const p of pending.values()) p.reject(new Error('cancelled'));
      pending.clear();
    },
  };
}

const call = (op, args, transfer) => lab.call(op, args, transfer);

function stopHelpers() {
  for (const h of helpers) h.terminate();
  helpers = [];
}

function spawnWorker() {
  lab?.terminate();
  stopHelpers();
  lab = labWorker((what) => setStatus('status-backend', `the worker ${what}`));
}

function setStatus(id, text) { $(id).textContent = text; }

// Downloads move the progress bar only: the status bar is a live region, and a screen reader
// should hear "downloading" once, not every chunk.
listeners.add((p) => {
  const bar = $('status-progress');
  if (['weights', 'test images', 'test labels'].includes(p.what)) {
    const id = p.what === 'weights' ? 'status-weights' : 'status-data';
    const text = `${p.what}: downloading…`;
    if ($(id).textContent !== text) setStatus(id, text);
    bar.hidden = false;
    bar.max = p.total || 1;
    bar.value = p.total ? p.loaded : 0;
    const mb = (x) => (x / 1e6).toFixed(1);
    bar.title = `${p.what}: ${mb(p.loaded)}${p.total ? ` / ${mb(p.total)}` : ''} MB`;
    bar.setAttribute('aria-label', p.what);
  }
});

async function start(backend) {
  spawnWorker();
  setStatus('status-backend', `backend: starting ${backend}…`);
  document.body.dataset.ready = 'false';
  try {
    info = await call('start', { backend, base, weights: weightsChoice, alwaysTime: params.get('auto') === 'time' });
  } catch (e) {
    setStatus('status-backend', `backend: failed (${e.message})`);
    if (backend !== 'cpu') {
      setStatus('status-backend', `WebGPU failed (${e.message}); using the CPU`);
      return start('cpu');
    }
    return;
  }
  $('status-progress').hidden = true;
  buildMenus(info.catalogue);
  showWorkersNote();
  const name = info.backend === 'webgpu' ? 'WebGPU' : 'CPU';
  $('status-backend').textContent = `backend: ${name} — ${info.adapter}${info.fallback ? ` (WebGPU unavailable: ${info.fallback})` : ''}${info.why ? ` (auto: ${info.why})` : ''}`;
  $('status-backend').dataset.backend = info.backend;
  $('backend-switch').value = info.backend;
  showWeights(info.card, info.sha256);
  setStatus('status-data', info.testSize
    ? `MNIST: ${info.testSize.toLocaleString()} test digits`
    : `MNIST: not loaded (${info.dataError}); draw or drop digits instead`);
  document.body.dataset.ready = 'true';
  if (info.testSize) await showGallery(0);
  await showStored();
}

$('backend-switch').addEventListener('change', (e) => start(e.target.value));

function showWeights(card, sha256) {
  setStatus('status-weights', card
    ? `weights: ${card.weights_file}, sha256 ${sha256.slice(0, 12)}… ✓ (${card.epochs_trained} epochs, test accuracy ${(100 * card.accuracy.test).toFixed(2)} %)`
    : `weights: ${weightsChoice.name} (yours), sha256 ${sha256.slice(0, 12)}…`);
  $('weights-set').value = card ? weightsChoice.card : '';
}

// The shipped weight sets (www/model/index.json lists their model cards), described by their
// cards: how each was trained and how well it recognises the test set.
async function listWeightSets() {
  const menu = $('weights-set');
  try {
    const files = await (await fetch(new URL('www/model/index.json', base))).json();
    for (const file of files) {
      const card = await (await fetch(new URL(`www/model/${file}`, base))).json();
      const c = card.config;
      const decay = c.lr_decay === 1 ? 'constant LR' : `LR ×${c.lr_decay} per epoch`;
      menu.add(new Option(`${card.epochs_trained} epochs, ${decay}, test ${(100 * card.accuracy.test).toFixed(2)} %`, file));
    }
  } catch (e) {
    menu.add(new Option(`shipped weights (list unavailable: ${e.message})`, 'advdrop-cnn.json'));
  }
  menu.add(new Option('your own file', ''));
  menu.value = weightsChoice.card ?? '';
}

$('weights-set').addEventListener('change', async (e) => {
  const card = e.target.value;
  if (!card) { e.target.value = weightsChoice.card ?? ''; $('weights-file').click(); return; }
  const before = weightsChoice;
  try {
    const r = await call('useShipped', { base, card });
    weightsChoice = { card };
    stopHelpers();
    showWeights(r.card, r.sha256);
    $('status-progress').hidden = true;
    await showStored();
  } catch (err) {
    weightsChoice = before;
    setStatus('status-weights', `weights: ${card} refused (${err.message}); the previous weights stay loaded`);
    $('weights-set').value = before.card ?? '';
  }
});

// A user's own weights (same architecture, safetensors as `advdrop train` writes them). A bad
// file is refused with the reason, and the weights in use stay loaded.
$('weights-file').addEventListener('change', async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  try {
    // A copy goes to the worker; this one stays for restarts.
    const r = await call('loadWeights', { bytes: bytes.slice(), name: file.name });
    weightsChoice = { bytes, name: file.name };
    stopHelpers();
    showWeights(null, r.sha256);
    await showStored();
  } catch (err) {
    setStatus('status-weights', `weights: ${file.name} refused (${err.message}); the previous weights stay loaded`);
    $('weights-set').value = weightsChoice.card ?? '';
  }
});

// ---------------------------------------------------------------- tabs

const tabs = ['lab', 'experiment', 'table1', 'about'];
function showTab(name) {
  for (const t of tabs) {
    $(`tab-${t}`).setAttribute('aria-selected', String(t === name));
    $(`tab-${t}`).tabIndex = t === name ? 0 : -1;
    $(`view-${t}`).hidden = t !== name;
  }
}
tabs.forEach((t, i) => {
  $(`tab-${t}`).addEventListener('click', () => showTab(t));
  $(`tab-${t}`).addEventListener('keydown', (e) => {
    const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (!step) return;
    const next = tabs[(i + step + tabs.length) % tabs.length];
    showTab(next);
    $(`tab-${next}`).focus();
  });
});

// ---------------------------------------------------------------- attack lab

// The menus come from the library's catalogue (attacks, goals, schemes, attacker modes), once,
// when the first worker has started: the page keeps no list of its own.
let catalogue = null;
function buildMenus(cat) {
  if (catalogue) return;
  catalogue = cat;
  SCHEMES.push(...cat.schemes.map((s) => s.name));
  const options = (items) => items.map((i) => `<option value="${i.name}">${i.title}</option>`).join('');
  const boxes = (name, items, on) => items.map((i) => `<label><input type="checkbox" name="${name}" value="${i.name}"${on(i) ? ' checked' : ''}> ${i.title}</label>`).join('');
  for (const sel of document.querySelectorAll('select.schemes')) sel.innerHTML = options(cat.schemes.map((s) => ({ name: s.name, title: s.name })));
  for (const sel of document.querySelectorAll('select.modes')) sel.innerHTML = options(cat.modes);
  $('attack').innerHTML = cat.attacks.map((a) => `<option value="${a.name}" title="${a.summary}">${a.title}</option>`).join('');
  $('attack').value = 'fgsm';
  $('goal').innerHTML = options(cat.goals);
  $('exp-attacks').innerHTML = boxes('exp-attack', cat.attacks.filter((a) => a.in_paper), (a) => a.page_default);
  $('exp-goals').innerHTML = boxes('exp-goal', cat.goals, () => true);
  $('exp-schemes').innerHTML = boxes('exp-scheme', cat.schemes.map((s) => ({ name: s.name, title: s.name })), () => true);
  for (const input of document.querySelectorAll('#exp-attacks input, #exp-goals input, #exp-schemes input')) input.addEventListener('change', () => { if (!running) showStored(); });
  $('about-attacks').innerHTML = cat.attacks.map((a) => `<li><b>${a.title}</b> (<code>${a.name}</code>): ${a.summary}. Defaults: ${a.source}.</li>`).join('');
}
$('target').innerHTML = Array.from({ length: 10 }, (_, c) => `<option value="${c}">${c}</option>`).join('');

let selected = null; // {pixels: Float32Array, label, source}
const GALLERY = 24;
let galleryStart = 0;

async function showGallery(startAt) {
  galleryStart = Math.max(0, Math.min(info.testSize - GALLERY, startAt));
  const indices = Array.from({ length: GALLERY }, (_, k) => galleryStart + k);
  const digits = await call('gallery', { indices });
  const box = $('gallery');
  box.innerHTML = '';
  for (const d of digits) {
    const b = document.createElement('button');
    b.className = 'thumb';
    b.dataset.index = d.index;
    b.setAttribute('aria-label', `test digit ${d.index}, label ${d.label}`);
    const c = document.createElement('canvas');
    c.width = c.height = 56;
    paint(c, d.pixels, 255);
    b.append(c);
    b.addEventListener('click', () => select(Float32Array.from(d.pixels, (v) => v / 255), d.label, `test digit #${d.index}`));
    box.append(b);
  }
  $('gallery-range').textContent = `#${galleryStart}–${galleryStart + GALLERY - 1}`;
}
$('gallery-prev').addEventListener('click', () => showGallery(galleryStart - GALLERY));
$('gallery-next').addEventListener('click', () => showGallery(galleryStart + GALLERY));

async function select(pixels, label, source) {
  if (label == null) {
    // A drawn or dropped digit has no true label: the deterministic network's answer stands in.
    const [h] = await call('classify', { image: Array.from(pixels), schemes: ['none'], passes: 1, seed: 0 });
    label = h.counts.indexOf(Math.max(...h.counts));
    source += ` (the network reads ${label})`;
  }
  selected = { pixels, label, source };
  paint($('selected-canvas'), pixels);
  $('selected').textContent = `Selected: ${source}, label ${label}.`;
  $('selected').dataset.label = label;
  if (Number($('target').value) === label) $('target').value = String((label + 1) % 10);
}

const pad = drawingPad($('draw'));
$('draw-clear').addEventListener('click', () => pad.clear());
$('draw-use').addEventListener('click', () => {
  const pixels = pad.read();
  if (!pixels) { $('attack-status').textContent = 'Draw a digit first.'; return; }
  select(pixels, null, 'your drawing');
});

async function useImageFile(file) {
  if (!file || !file.type.startsWith('image/')) { $('attack-status').textContent = 'That is not an image.'; return; }
  const bitmap = await createImageBitmap(file);
  const pixels = toMnist(bitmap, bitmap.width, bitmap.height);
  if (!pixels) { $('attack-status').textContent = 'No digit found in that image.'; return; }
  select(pixels, null, file.name);
}
$('file').addEventListener('change', (e) => useImageFile(e.target.files[0]));
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); useImageFile(e.dataTransfer.files[0]); });
drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') $('file').click(); });

$('goal').addEventListener('change', () => { $('target').disabled = $('goal').value !== 'targeted'; });

$('run-attack').addEventListener('click', runAttack);
$('cancel-attack').addEventListener('click', async () => {
  // One attack is one call into wasm; stopping it means stopping the worker. Stored
  // experiment cells are safe in IndexedDB; the lab restarts on the same backend.
  $('attack-status').textContent = 'Cancelled; restarting the worker…';
  await start(info?.backend ?? 'auto');
  $('attack-status').textContent = 'Cancelled.';
});

async function runAttack() {
  if (!selected) { $('attack-status').textContent = 'Pick, draw or drop a digit first.'; return; }
  const goal = $('goal').value;
  const attack = $('attack').value;
  const target = Number($('target').value);
  if (goal === 'targeted' && target === selected.label) {
    $('attack-status').textContent = 'The target must differ from the label.';
    return;
  }
  const request = { attack, goal, targets: goal === 'targeted' ? [target] : [], scheme: $('gen-scheme').value, mode: $('mode').value, seed: Number($('seed').value) };
  $('run-attack').disabled = true;
  $('cancel-attack').disabled = false;
  $('attack-status').textContent = `Running ${attack}…`;
  try {
    const out = await call('attack', { image: Array.from(selected.pixels), label: selected.label, request });
    await showResult(out, request, target);
  } catch (e) {
    if (e.message !== 'cancelled') $('attack-status').textContent = `Failed: ${e.message}`;
  } finally {
    $('run-attack').disabled = false;
    $('cancel-attack').disabled = true;
  }
}

async function showResult(out, request, target) {
  const adv = Float32Array.from(out.adversarials);
  const d = out.distances[0];
  $('attack-result').hidden = false;
  paint($('res-original'), selected.pixels);
  paint($('res-adversarial'), adv);
  paintPerturbation($('res-perturbation'), selected.pixels, adv);
  $('cap-original').textContent = `original (label ${selected.label})`;
  $('cap-adversarial').textContent = out.success[0]
    ? `adversarial (${request.goal === 'targeted' ? `target ${target}` : 'top-3'})`
    : 'no adversarial found (original shown)';
  const rows = [
    ['success', out.success[0] ? (out.first_pass[0] ? 'yes — already on the first pass' : 'yes') : 'no'],
    ['MAD (0–255)', (d.mad * 255).toFixed(2)],
    ['L0 (pixels changed)', d.l0],
    ['L2', d.l2.toFixed(3)],
    ['L∞', d.linf.toFixed(3)],
    ['MSE', d.mse.toExponential(3)],
    ['attacker', request.mode],
    ['queries', out.queries[0]],
    // FGSM's wide sweep: points evaluated past the answer to keep a call wide (not queries).
    ...(out.extra?.[0] ? [['extra evaluations', out.extra[0]]] : []),
    ['time', `${out.seconds.toFixed(2)} s on ${info.backend === 'webgpu' ? 'WebGPU' : 'the CPU'}`],
  ];
  $('metrics').innerHTML = rows.map(([k, v]) => `<tr><th scope="row">${k}</th><td data-metric="${k}">${v}</td></tr>`).join('');
  $('attack-status').textContent = out.success[0] ? `Done in ${out.seconds.toFixed(2)} s.` : `No adversarial found (${out.seconds.toFixed(2)} s).`;
  $('attack-status').dataset.success = String(out.success[0]);
  const passes = Number($('passes').value);
  const hist = await call('classify', { image: Array.from(adv), schemes: SCHEMES, passes, seed: request.seed + 1 });
  const box = $('recognition');
  box.innerHTML = '';
  for (const h of hist) {
    const top = h.counts.indexOf(Math.max(...h.counts));
    const total = h.counts.reduce((a, b) => a + b, 0);
    const fig = document.createElement('figure');
    fig.dataset.scheme = h.scheme;
    fig.dataset.topClass = top;
    const c = document.createElement('canvas');
    c.id = `hist-${h.scheme}`;
    c.setAttribute('role', 'img');
    c.setAttribute('aria-label', `${h.scheme}: ` + h.counts.map((n, k) => `${k}: ${n}`).join(', '));
    const cap = document.createElement('figcaption');
    cap.textContent = `${h.scheme}: ${h.counts[top]}/${total} passes say ${top}`;
    fig.append(c, cap);
    box.append(fig);
    histogram(c, h.counts, { label: selected.label, target: request.goal === 'targeted' ? target : -1 });
  }
}

// ---------------------------------------------------------------- experiment


const checked = (name) => [...document.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
function expConfig() {
  const samples = Math.max(1, Number($('exp-n').value));
  return {
    samples,
    seed: Number($('exp-seed').value),
    attacks: checked('exp-attack'),
    schemes: checked('exp-scheme'),
    goals: checked('exp-goal'),
    votes: Math.max(1, Number($('exp-votes').value)),
    mode: $('exp-mode').value,
    // Every image draws its own masks (as `advdrop reproduce` does by default).
    streams: 'image',
  };
}

const cellRows = new Map();
function cellTable(cells) {
  cellRows.clear();
  $('exp-cells').innerHTML = '<tr><th scope="col">cell</th><th scope="col">adversarials</th><th scope="col">tried</th><th scope="col">state</th><th scope="col">time</th></tr>';
  for (const c of cells) {
    const tr = document.createElement('tr');
    tr.dataset.cell = c.key;
    tr.innerHTML = `<td>${c.goal} · ${c.attack} · ${c.scheme}</td><td>–</td><td>–</td><td>queued</td><td></td>`;
    $('exp-cells').append(tr);
    cellRows.set(c.key, tr);
  }
}

function showCell(key, stored, state, seconds, config) {
  const tr = cellRows.get(key);
  if (!tr || !stored) return;
  const c = stored.cell;
  const recognised = Object.keys(c.recognition).length;
  tr.children[1].textContent = `${c.samples.length}/${config.samples}`;
  tr.children[2].textContent = c.attempted;
  const done = stored.next === 'done';
  tr.children[3].textContent = done ? 'done' : state === 'cancelled' ? 'paused' : stored.next === 'recognise' ? `recognising ${recognised}/${config.schemes.length}` : state;
  tr.dataset.state = done ? 'done' : state;
  tr.children[4].textContent = `${(c.attack_seconds + c.recognition_seconds).toFixed(1)} s`;
}

// How many workers run an experiment: all cores but the one the page itself needs (at least
// one), or what the user sets. On WebGPU one worker owns the GPU and runs alone.
const defaultWorkers = Math.max(1, (navigator.hardwareConcurrency || 2) - 1);
$('exp-workers').value = params.get('workers') ?? String(defaultWorkers);
function workersWanted() {
  if (info?.backend === 'webgpu') return 1;
  return Math.max(1, Math.min(64, Math.floor(Number($('exp-workers').value)) || 1));
}
function showWorkersNote() {
  const gpu = info?.backend === 'webgpu';
  $('exp-workers').disabled = gpu;
  $('exp-workers-note').textContent = gpu
    ? 'WebGPU: one worker owns the GPU.'
    : `each its own wasm instance on the CPU; this device has ${navigator.hardwareConcurrency || '?'} logical cores`;
}

// The helpers an experiment needs beyond the lab's worker, started on the CPU backend with the
// lab's weights (checked by sha256, so a run never mixes two models).
async function ensureHelpers(count) {
  while (helpers.length > count) helpers.pop().terminate();
  const starting = [];
  for (let k = helpers.length; k < count; k++) {
    const h = labWorker((what) => setStatus('exp-status', `a worker ${what}`), true);
    starting.push(h.call('start', { backend: 'cpu', base, weights: weightsChoice }).then((r) => {
      if (r.sha256 !== info.sha256) throw new Error(`a worker loaded other weights (sha256 ${r.sha256.slice(0, 12)}…)`);
      if (r.testSize !== info.testSize) throw new Error(`a worker loaded ${r.testSize} test digits, not ${info.testSize}`);
      return h;
    }, (e) => { h.terminate(); throw e; }));
  }
  const started = await Promise.allSettled(starting);
  helpers.push(...started.filter((s) => s.status === 'fulfilled').map((s) => s.value));
  for (const h of helpers.splice(count)) h.terminate();
  return started.find((s) => s.status === 'rejected')?.reason ?? null;
}

let running = false;
let started = 0;
const fractions = new Map(); // cell key → the share of it done, for the ETA
listeners.add((p) => {
  if (p.what === 'pool') $('exp-status').textContent = `Finding the correctly classified test digits a run of N = ${p.samples} draws from…`;
  if (p.what !== 'cell') return;
  const config = expConfig();
  showCell(p.cell.key, p.stored, p.state, p.elapsed, config);
  fractions.set(p.cell.key, p.state === 'done' ? 1 : cellFraction(p.stored, config));
  const doneCells = [...cellRows.values()].filter((tr) => tr.dataset.state === 'done').length;
  const elapsed = (performance.now() - started) / 1000;
  const fraction = [...fractions.values()].reduce((a, b) => a + b, 0) / p.total;
  const eta = fraction > 0 ? elapsed / fraction - elapsed : NaN;
  $('exp-status').textContent = `${doneCells}/${p.total} cells done · ${elapsed.toFixed(0)} s elapsed${Number.isFinite(eta) && running ? ` · about ${eta.toFixed(0)} s left` : ''}`;
});

function cellFraction(stored, config) {
  if (!stored) return 0;
  const c = stored.cell;
  // Attacking counts for most of a cell's time; each recognition scheme for a share of the rest.
  const attack = c.finished ? 1 : c.samples.length / config.samples;
  return 0.8 * attack + (0.2 * Object.keys(c.recognition).length) / config.schemes.length;
}

// A run: the lab's worker screens the pool once; then every worker takes the next cell not yet
// taken until none is left. Cells are independent (each has its own random streams), so the
// numbers do not depend on how many workers run them or in which order.
let stopRun = false;
async function runExperiment(config) {
  const cells = await call('cells', { config });
  const indices = await call('pool', { config });
  const wanted = workersWanted();
  let note = '';
  if (wanted > 1) {
    $('exp-status').textContent = `Starting ${wanted - 1} more worker${wanted > 2 ? 's' : ''}…`;
    const error = await ensureHelpers(wanted - 1);
    if (error) note = ` (${helpers.length + 1} of ${wanted} workers: ${error.message})`;
  } else {
    stopHelpers();
  }
  const workers = [lab, ...helpers];
  $('exp-status').dataset.workers = String(workers.length);
  fractions.clear();
  const queue = cells.map((cell, index) => ({ cell, index }));
  stopRun = false;
  let cancelled = false;
  const results = await Promise.allSettled(workers.map(async (w) => {
    while (!stopRun && queue.length) {
      const { cell, index } = queue.shift();
      const r = await w.call('runCell', { config, cell, indices, index, total: cells.length });
      if (r.cancelled) { cancelled = true; stopRun = true; }
    }
  }));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    // The others stop after their cell; what they finished is stored.
    stopRun = true;
    throw failed.reason;
  }
  return { cancelled, note };
}

$('exp-run').addEventListener('click', async () => {
  const config = expConfig();
  delete $('exp-status').dataset.finished;
  running = true;
  started = performance.now();
  $('exp-run').disabled = true;
  $('exp-estimate').disabled = true;
  $('exp-cancel').disabled = false;
  let message;
  let finished = 'false';
  try {
    await showStored();
    const r = await runExperiment(config);
    message = r.cancelled
      ? 'Paused: finished steps are stored; Run resumes.'
      : `Finished in ${((performance.now() - started) / 1000).toFixed(1)} s on ${$('exp-status').dataset.workers} worker(s)${r.note}.`;
    finished = String(!r.cancelled);
  } catch (e) {
    message = `Failed: ${e.message}${info?.backend === 'webgpu' ? ' — switch to the CPU backend and press Run to resume' : ''}`;
  } finally {
    running = false;
    $('exp-run').disabled = false;
    $('exp-estimate').disabled = false;
    $('exp-cancel').disabled = true;
    await showStored();
    // Set last, once the charts show the final state (the tests wait on it).
    $('exp-status').textContent = message;
    $('exp-status').dataset.finished = finished;
  }
});
$('exp-cancel').addEventListener('click', () => {
  stopRun = true;
  for (const w of [lab, ...helpers]) w.cancel();
});
$('exp-clear').addEventListener('click', async () => {
  await call('clear', { config: expConfig() });
  await showStored();
});

// The ETA before a run: "Estimate time" has the lab's worker attack a few digits with each
// attack of the run and time one recognition pass (the library's `timeRun`); the library then
// counts the rest (`estimate`). The timing is kept for this configuration, so changing N or the
// workers re-estimates at once.
let timing = null; // {key, timing}
const timingKey = (c) => JSON.stringify({ ...c, samples: 0, sha256: info?.sha256, backend: info?.backend });
const duration = (s) => (s < 90 ? `${Math.max(1, Math.round(s))} s` : s < 5400 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`);
async function showEstimate() {
  const config = expConfig();
  const text = $('exp-eta-text');
  const use = $('exp-use-n');
  if (!timing || timing.key !== timingKey(config)) {
    text.textContent = '';
    use.hidden = true;
    return;
  }
  let e;
  try {
    e = await call('estimate', { config, timing: timing.timing, reference: referenceCells().length ? reference.report : null, workers: workersWanted() });
  } catch (err) {
    text.textContent = `No estimate: ${err.message}`;
    return;
  }
  const fromReference = e.cells.filter((c) => c.from_reference).length;
  const basis = fromReference
    ? `${fromReference} of ${e.cells.length} cells take their success rate from the reference run`
    : 'success rates come from those digits alone (no reference run of these weights and settings)';
  text.textContent = `Estimate: about ${duration(e.seconds)} for N = ${e.samples} on ${e.workers} worker${e.workers > 1 ? 's' : ''}`
    + ` (each attack timed on ${e.probe_images} digits on this device; ${basis}; digits differ several-fold in cost, so read it as a guide).`
    + ` In about ${duration(e.budget_seconds)}: N = ${e.proposed_samples} (${duration(e.proposed_seconds)}).`;
  text.dataset.seconds = String(e.seconds);
  text.dataset.proposed = String(e.proposed_samples);
  use.textContent = `Use N = ${e.proposed_samples}`;
  use.dataset.n = String(e.proposed_samples);
  use.hidden = e.proposed_samples === e.samples;
}
listeners.add((p) => {
  if (p.what === 'probe') $('exp-status').textContent = `Timing ${p.goal} · ${p.attack} on a few digits (${p.done + 1}/${p.total})…`;
});
$('exp-estimate').addEventListener('click', async () => {
  const config = expConfig();
  running = true;
  $('exp-run').disabled = true;
  $('exp-estimate').disabled = true;
  $('exp-cancel').disabled = false;
  delete $('exp-eta-text').dataset.seconds;
  try {
    const t = await call('timeRun', { config });
    timing = { key: timingKey(config), timing: t };
    $('exp-status').textContent = 'Timed.';
    await showEstimate();
  } catch (e) {
    $('exp-status').textContent = e.message === 'cancelled' ? 'Estimate cancelled.' : `Could not time the run: ${e.message}`;
  } finally {
    running = false;
    $('exp-run').disabled = false;
    $('exp-estimate').disabled = false;
    $('exp-cancel').disabled = true;
  }
});
$('exp-use-n').addEventListener('click', () => {
  $('exp-n').value = $('exp-use-n').dataset.n;
  $('exp-n').dispatchEvent(new Event('change'));
});
for (const id of ['exp-n', 'exp-workers']) $(id).addEventListener('change', () => { if (!running) showEstimate(); });

// The reference run: the committed N = 1000 reproduction (results/paper/report.json, copied into
// the build), drawn beside this browser's cells when it attacked the weights in use.
let reference = null; // {report} or {error}
async function loadReference() {
  try {
    const response = await fetch(new URL('reference/report.json', base));
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    reference = { report: await response.json() };
  } catch (e) {
    reference = { error: e.message };
  }
}
function referenceCells() {
  const r = reference?.report;
  return r && info && r.run.weights_sha256 === info.sha256 ? r.cells : [];
}
function showReference() {
  const r = reference?.report;
  const box = $('ref-status');
  if (!r) { box.textContent = `The reference run is not available (${reference?.error ?? 'not loaded'}).`; return; }
  const c = r.config;
  const about = `advdrop reproduce at N = ${c.samples} (seed ${c.seed}, ${c.votes} votes, weights sha256 ${r.run.weights_sha256.slice(0, 12)}…, ${r.run.backend})`;
  if (!referenceCells().length) {
    box.textContent = `The reference run (${about}) attacked other weights than those loaded, so it is not drawn.`;
    $('ref-table').innerHTML = '';
    $('ref-conclusions').innerHTML = '';
    return;
  }
  box.textContent = `Drawn beside your cells: the reference run, ${about}, committed with the project as results/paper/report.json.`;
  const ci = (m) => (m.n ? `${m.mean.toFixed(2)} ± ${m.half_width.toFixed(2)}` : '–');
  $('ref-table').innerHTML = '<tr><th scope="col">cell</th><th scope="col">adversarials / tried</th><th scope="col">MAD (0–255), 95 % CI</th><th scope="col">paper MAD</th></tr>'
    + r.cells.map((x) => `<tr data-cell="${x.goal.toLowerCase()}-${x.attack}-${x.scheme}"><td>${x.goal} · ${x.attack} · ${x.scheme}</td><td>${x.successes} / ${x.attempted}</td><td>${ci(x.mad)}</td><td>${x.paper_mad?.toFixed(2) ?? '–'}</td></tr>`).join('');
  $('ref-conclusions').innerHTML = conclusionItems(r.conclusions);
}
const conclusionItems = (conclusions) => conclusions
  .map((c) => `<li><b>${c.verdict_words ?? c.verdict}</b>: ${c.claim}<br><small>${c.evidence}</small></li>`).join('');

let lastReport = null;
async function showStored() {
  const config = expConfig();
  if (!config.attacks.length || !config.schemes.length || !config.goals.length) return;
  let cells;
  try {
    cells = await call('cells', { config });
  } catch (e) {
    $('exp-status').textContent = e.message;
    return;
  }
  cellTable(cells);
  const stored = await call('stored', { config });
  for (const s of stored) showCell(s.key, s.stored, 'paused', 0, config);
  lastReport = stored.length ? await call('report', { config }) : null;
  const live = lastReport?.report.cells ?? [];
  const ref = referenceCells();
  showReference();
  for (const goal of ['targeted', 'top3']) $(`fig-mad-${goal}`).hidden = !config.goals.includes(goal);
  for (const goal of config.goals) madChart($(`mad-${goal}`), live, goal, config.schemes, ref);
  const box = $('heatmaps');
  box.innerHTML = '';
  const refAttacks = [...new Set(ref.map((c) => c.attack))];
  const attacks = [...config.attacks, ...refAttacks.filter((a) => !config.attacks.includes(a))];
  for (const goal of config.goals) {
    for (const attack of attacks) {
      if (!catalogue.attacks.find((a) => a.name === attack)?.goals.includes(goal)) continue;
      const mine = config.attacks.includes(attack) ? live : [];
      if (!mine.length && !ref.some((c) => c.goal.toLowerCase() === goal && c.attack === attack)) continue;
      const fig = document.createElement('figure');
      const c = document.createElement('canvas');
      c.id = `heat-${goal}-${attack}`;
      c.className = 'heatmap';
      c.setAttribute('role', 'img');
      const drawn = heatmap(c, mine, goal, attack, config.schemes, info.paper.cross, ref);
      const cap = document.createElement('figcaption');
      const png = document.createElement('button');
      png.textContent = 'PNG';
      png.addEventListener('click', () => downloadPng(c, c.id));
      const whose = drawn === 'reference' ? ' (reference run)' : drawn === 'both' ? ' (yours; reference below)' : '';
      cap.append(`${goal === 'targeted' ? 'Table 3' : 'Table 5'}: ${attack}${whose} `, png);
      fig.append(c, cap);
      box.append(fig);
    }
  }
  $('conclusions').innerHTML = lastReport ? conclusionItems(lastReport.report.conclusions) : '<li>No cells in this browser yet: press Run.</li>';
  if (!running) await showEstimate();
}
for (const input of document.querySelectorAll('#view-experiment input')) input.addEventListener('change', () => { if (!running) showStored(); });

$('exp-json').addEventListener('click', () => lastReport && download(new Blob([JSON.stringify(lastReport.report, null, 2)], { type: 'application/json' }), 'advdrop-report.json'));
$('exp-csv').addEventListener('click', () => lastReport && download(new Blob([lastReport.csv], { type: 'text/csv' }), 'advdrop-cells.csv'));
for (const b of document.querySelectorAll('button[data-png]')) b.addEventListener('click', () => downloadPng($(b.dataset.png), b.dataset.png));

// ---------------------------------------------------------------- Table 1

listeners.add((p) => {
  if (p.what === 'table1') $('t1-status').textContent = `${p.scheme}: pass ${p.pass + 1}/${p.passes}, ${p.images_done}/${p.images} images`;
});
$('t1-run').addEventListener('click', async () => {
  $('t1-run').disabled = true;
  const t0 = performance.now();
  try {
    const rows = await call('table1', { schemes: SCHEMES, limit: Number($('t1-limit').value), repeats: Number($('t1-repeats').value), seed: Number($('t1-seed').value) });
    $('t1-table').innerHTML = '<tr><th scope="col">scheme</th><th scope="col">test accuracy, this run (%)</th><th scope="col">paper (%)</th><th scope="col">difference</th></tr>' +
      rows.map((r) => `<tr data-scheme="${r.scheme}"><td>${r.scheme}</td><td>${r.test.mean.toFixed(2)}${r.test.n > 1 ? ` ± ${r.test.half_width.toFixed(2)}` : ''}</td><td>${r.paper_test?.toFixed(2) ?? '–'}</td><td>${r.paper_test != null ? (r.test.mean - r.paper_test).toFixed(2) : '–'}</td></tr>`).join('');
    $('t1-status').textContent = `Done in ${((performance.now() - t0) / 1000).toFixed(1)} s (mean ± 95 % CI over passes).`;
  } catch (e) {
    $('t1-status').textContent = `Failed: ${e.message}`;
  } finally {
    $('t1-run').disabled = false;
  }
});

// ---------------------------------------------------------------- go

Promise.all([listWeightSets(), loadReference()]).then(() => start(params.get('backend') ?? 'auto'));
