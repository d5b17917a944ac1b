// Charts: Chart.js (vendored into dist/, global `Chart`) for bars; the heatmaps are drawn on a
// plain canvas with the numbers written in every cell, so they read without colour too.

// Okabe & Ito's palette: distinguishable with every common colour-vision deficiency.
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];
// The preset schemes, filled from the library's catalogue when the worker starts.
export const SCHEMES = [];

const charts = new Map();

function chart(canvas, config) {
  charts.get(canvas.id)?.destroy();
  const c = new Chart(canvas, config);
  charts.set(canvas.id, c);
  return c;
}

function faded(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/// MAD per generating scheme, one bar group per attack: this run solid, the reference run
/// (the committed N = 1000 reproduction) half-faded, the paper faded.
export function madChart(canvas, cells, goal, schemes, reference = []) {
  const ofGoal = (list) => list.filter((c) => c.goal.toLowerCase() === goal.toLowerCase());
  const mine = ofGoal(cells);
  const ref = ofGoal(reference);
  const attacks = [...new Set([...mine, ...ref].map((c) => c.attack))];
  const datasets = [];
  attacks.forEach((attack, k) => {
    const colour = PALETTE[k % PALETTE.length];
    const of = (list, s) => list.find((c) => c.attack === attack && c.scheme === s);
    const mad = (list, s) => (of(list, s) && of(list, s).successes ? of(list, s).mad.mean : null);
    if (mine.some((c) => c.attack === attack)) {
      datasets.push({
        label: `${attack} (this run)`,
        data: schemes.map((s) => mad(mine, s)),
        ci: schemes.map((s) => (of(mine, s) ? of(mine, s).mad.half_width : null)),
        backgroundColor: colour,
      });
    }
    if (ref.some((c) => c.attack === attack)) {
      datasets.push({
        label: `${attack} (reference run)`,
        data: schemes.map((s) => mad(ref, s)),
        ci: schemes.map((s) => (of(ref, s) ? of(ref, s).mad.half_width : null)),
        backgroundColor: faded(colour, 0.6),
        borderColor: colour,
        borderWidth: 1,
      });
    }
    datasets.push({
      label: `${attack} (paper)`,
      data: schemes.map((s) => (of(mine, s) ?? of(ref, s))?.paper_mad ?? null),
      backgroundColor: faded(colour, 0.2),
      borderColor: colour,
      borderWidth: 1,
    });
  });
  canvas.dataset.refBars = String(datasets.filter((d) => d.label.endsWith('(reference run)')).reduce((n, d) => n + d.data.filter((v) => v != null).length, 0));
  canvas.dataset.bars = String(datasets.filter((d) => d.label.endsWith('(this run)')).reduce((n, d) => n + d.data.filter((v) => v != null).length, 0));
  return chart(canvas, {
    type: 'bar',
    data: { labels: schemes, datasets },
    options: {
      animation: false,
      responsive: true,
      scales: { y: { title: { display: true, text: 'MAD (0–255)' }, beginAtZero: true } },
      plugins: {
        tooltip: {
          callbacks: {
            label: (ctx) => {
              const ci = ctx.dataset.ci?.[ctx.dataIndex];
              return `${ctx.dataset.label}: ${ctx.parsed.y?.toFixed(2)}${ci != null ? ` ± ${ci.toFixed(2)}` : ''}`;
            },
          },
        },
      },
    },
  });
}

/// Class histogram of one image under one scheme.
export function histogram(canvas, counts, highlight) {
  const colours = counts.map((_, c) => (c === highlight.target ? PALETTE[5] : c === highlight.label ? PALETTE[0] : '#999'));
  return chart(canvas, {
    type: 'bar',
    data: { labels: counts.map((_, c) => String(c)), datasets: [{ label: 'passes', data: counts, backgroundColor: colours }] },
    options: { animation: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
  });
}

// ColorBrewer "Blues": one hue, ordered by lightness, safe for colour-blind readers.
const BLUES = [[247, 251, 255], [198, 219, 239], [107, 174, 214], [33, 113, 181], [8, 48, 107]];

function blue(t) {
  const x = Math.max(0, Math.min(1, t)) * (BLUES.length - 1);
  const i = Math.min(BLUES.length - 2, Math.floor(x));
  const f = x - i;
  const c = BLUES[i].map((v, k) => Math.round(v + (BLUES[i + 1][k] - v) * f));
  return { fill: `rgb(${c.join(',')})`, ink: t > 0.55 ? 'white' : 'black' };
}

/// Cross-recognition heatmap: rows test scheme, columns generating scheme, with row and column
/// means; each cell shows this run's single-pass % (or the reference run's, where this run has
/// no cell of the heatmap), the reference's below it, and the paper's. Returns what it drew:
/// 'mine', 'reference' or 'both'.
export function heatmap(canvas, cells, goal, attack, schemes, paperCross, reference = []) {
  const pick = (list) => list.filter((c) => c.goal.toLowerCase() === goal.toLowerCase() && c.attack === attack);
  const mineCells = pick(cells);
  const refCells = pick(reference);
  const valueIn = (list) => (test, gen) => {
    const cell = list.find((c) => c.scheme === gen);
    const r = cell?.recognition.find((x) => x.test_scheme === test);
    return r && r.single_pass.n ? r.single_pass.percent : null;
  };
  const drawn = mineCells.length ? (refCells.length ? 'both' : 'mine') : 'reference';
  const value = valueIn(mineCells.length ? mineCells : refCells);
  const refValue = drawn === 'both' ? valueIn(refCells) : () => null;
  const n = schemes.length;
  const size = 64;
  const head = 70;
  canvas.width = head + (n + 1) * size;
  canvas.height = head + (n + 1) * size;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = 'white';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.font = '12px sans-serif';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillStyle = 'black';
  ctx.fillText(`${goal} · ${attack}`, canvas.width / 2, 12);
  ctx.fillText('generated under →', head + (n * size) / 2, 30);
  const rows = [];
  schemes.forEach((s, j) => ctx.fillText(s, head + j * size + size / 2, head - 14));
  ctx.fillText('mean', head + n * size + size / 2, head - 14);
  ctx.textAlign = 'right';
  schemes.forEach((s, i) => ctx.fillText(s, head - 6, head + i * size + size / 2));
  ctx.fillText('mean', head - 6, head + n * size + size / 2);
  ctx.textAlign = 'center';
  const mean = (xs) => {
    const v = xs.filter((x) => x != null);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  const drawCell = (x, y, v, paper, ref = null) => {
    const { fill, ink } = v == null ? { fill: '#eee', ink: '#666' } : blue(v / 100);
    ctx.fillStyle = fill;
    ctx.fillRect(x, y, size - 2, size - 2);
    ctx.fillStyle = ink;
    const cx = x + size / 2 - 1;
    const cy = y + size / 2;
    ctx.font = 'bold 13px sans-serif';
    ctx.fillText(v == null ? '–' : v.toFixed(0), cx, ref != null ? cy - 14 : cy - 8);
    ctx.font = '11px sans-serif';
    if (ref != null) ctx.fillText(`ref ${ref.toFixed(0)}`, cx, cy + 1);
    if (paper != null) ctx.fillText(`(${paper.toFixed(1)})`, cx, ref != null ? cy + 15 : cy + 10);
  };
  let filled = 0;
  schemes.forEach((test, i) => {
    const row = schemes.map((gen) => value(test, gen));
    rows.push(row);
    row.forEach((v, j) => {
      if (v != null) filled++;
      drawCell(head + j * size, head + i * size, v, paperCross[`${goal}/${attack}/${test}/${schemes[j]}`], refValue(test, schemes[j]));
    });
    drawCell(head + n * size, head + i * size, mean(row), null);
  });
  schemes.forEach((_, j) => drawCell(head + j * size, head + n * size, mean(rows.map((r) => r[j])), null));
  canvas.dataset.filled = drawn === 'reference' ? '0' : String(filled);
  canvas.dataset.drawn = drawn;
  canvas.setAttribute('aria-label', `cross recognition, ${goal}, ${attack}: ` + schemes.map((t, i) =>
    `tested under ${t}: ` + schemes.map((g, j) => `${g} ${rows[i][j] == null ? 'n/a' : rows[i][j].toFixed(0) + ' %'}`).join(', ')).join('; ')
    + (drawn === 'reference' ? ' (the reference run)' : ''));
  return drawn;
}

/// Saves a canvas (chart or heatmap) as a PNG download.
export function downloadPng(canvas, name) {
  canvas.toBlob((blob) => download(blob, `${name}.png`));
}

export function download(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
