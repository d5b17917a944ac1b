// Digits as the model sees them: 784 floats in [0, 1], white on black, and the canvases that
// show or collect them.

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;

/// Paints 784 values in [0, 1] (or 0–255 with `scale` 255) onto a canvas, nearest-neighbour.
export function paint(canvas, values, scale = 1) {
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(SIDE, SIDE);
  for (let i = 0; i < PIXELS; i++) {
    const v = Math.max(0, Math.min(255, Math.round((values[i] / scale) * 255)));
    img.data.set([v, v, v, 255], i * 4);
  }
  const tmp = new OffscreenCanvas(SIDE, SIDE);
  tmp.getContext('2d').putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
}

/// The perturbation, amplified so its largest change spans the grey scale: grey is 0,
/// white +, black −.
export function paintPerturbation(canvas, original, adversarial) {
  let max = 1e-6;
  const delta = new Float32Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) {
    delta[i] = adversarial[i] - original[i];
    max = Math.max(max, Math.abs(delta[i]));
  }
  paint(canvas, Array.from(delta, (d) => 0.5 + d / (2 * max)));
}

/// Turns any picture (drawing, dropped photo) into an MNIST-like digit: grey levels, the
/// digit white on black (inverted if the background is light), its bounding box scaled into
/// 20×20 and centred by its centre of mass in 28×28, as LeCun's preprocessing did.
export function toMnist(source, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(source, 0, 0, width, height);
  const { data } = ctx.getImageData(0, 0, width, height);
  const grey = new Float32Array(width * height);
  let mean = 0;
  for (let i = 0; i < grey.length; i++) {
    const a = data[i * 4 + 3] / 255;
    // Transparent pixels count as background (black).
    grey[i] = ((0.299 * data[i * 4] + 0.587 * data[i * 4 + 1] + 0.114 * data[i * 4 + 2]) / 255) * a;
    mean += grey[i];
  }
  mean /= grey.length;
  if (mean > 0.5) for (let i = 0; i < grey.length; i++) grey[i] = 1 - grey[i];
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (grey[y * width + x] > 0.1) {
        x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
      }
    }
  }
  if (x1 < 0) return null; // nothing drawn
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  const s = 20 / Math.max(w, h);
  const box = new OffscreenCanvas(SIDE, SIDE);
  const bctx = box.getContext('2d');
  const src = new OffscreenCanvas(width, height);
  const sctx = src.getContext('2d');
  const simg = sctx.createImageData(width, height);
  for (let i = 0; i < grey.length; i++) {
    const v = Math.round(grey[i] * 255);
    simg.data.set([v, v, v, 255], i * 4);
  }
  sctx.putImageData(simg, 0, 0);
  bctx.fillStyle = 'black';
  bctx.fillRect(0, 0, SIDE, SIDE);
  bctx.imageSmoothingEnabled = true;
  bctx.drawImage(src, x0, y0, w, h, 0, 0, w * s, h * s);
  const boxed = bctx.getImageData(0, 0, SIDE, SIDE).data;
  // Centre of mass of the scaled box, moved to the middle of the 28×28 field.
  let [mx, my, m] = [0, 0, 0];
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const v = boxed[(y * SIDE + x) * 4] / 255;
      mx += x * v; my += y * v; m += v;
    }
  }
  const dx = Math.round(SIDE / 2 - (m ? mx / m : w * s / 2));
  const dy = Math.round(SIDE / 2 - (m ? my / m : h * s / 2));
  const out = new Float32Array(PIXELS);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const sx = x - dx;
      const sy = y - dy;
      if (sx >= 0 && sy >= 0 && sx < SIDE && sy < SIDE) out[y * SIDE + x] = boxed[(sy * SIDE + sx) * 4] / 255;
    }
  }
  return out;
}

/// A drawing pad: pointer events (mouse, pen, touch) paint thick white strokes on black.
export function drawingPad(canvas) {
  const ctx = canvas.getContext('2d');
  const clear = () => { ctx.fillStyle = 'black'; ctx.fillRect(0, 0, canvas.width, canvas.height); };
  clear();
  let last = null;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * (canvas.width / r.width), (e.clientY - r.top) * (canvas.height / r.height)];
  };
  canvas.addEventListener('pointerdown', (e) => { canvas.setPointerCapture(e.pointerId); last = at(e); });
  canvas.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = at(e);
    ctx.strokeStyle = 'white';
    ctx.lineWidth = canvas.width / 12;
    ctx.lineCap = 'round';
    ctx.beginPath();
    ctx.moveTo(...last);
    ctx.lineTo(...p);
    ctx.stroke();
    last = p;
  });
  const end = () => { last = null; };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  return { clear, read: () => toMnist(canvas, canvas.width, canvas.height) };
}
