//! Figures 2 and 3: originals beside their adversarials, as a PNG grid.
//!
//! For each generating scheme shown (the paper's `none` and `all`) and each attack, a row of
//! up to [`COLUMNS`] samples; each sample is a triple — original, adversarial, and the
//! perturbation amplified to the full grey range (mid-grey is no change) — with the true
//! label drawn above and the target (targeted goal) below.

use super::protocol::{AttackCell, Goal, ProtocolConfig};
use crate::attack::PIXELS;
use crate::data::Split;

/// Samples per row.
pub const COLUMNS: usize = 4;
/// The paper's figures compare these two schemes.
const SCHEMES: [&str; 2] = ["none", "all"];
const SCALE: usize = 2;
const SIDE: usize = 28 * SCALE;
const GAP: usize = 4;
const TEXT: usize = 12;
const CELL_W: usize = 3 * SIDE + 2 * 2 + GAP * 3;
const CELL_H: usize = TEXT + SIDE + TEXT;

/// 3×5 bitmaps of the digits, one row of three bits per line (bit 2 = left).
const DIGITS: [[u8; 5]; 10] = [
    [7, 5, 5, 5, 7],
    [2, 6, 2, 2, 7],
    [7, 1, 7, 4, 7],
    [7, 1, 7, 1, 7],
    [5, 5, 7, 1, 1],
    [7, 4, 7, 1, 7],
    [7, 4, 7, 5, 7],
    [7, 1, 2, 2, 2],
    [7, 5, 7, 5, 7],
    [7, 5, 7, 1, 7],
];

struct Canvas {
    width: usize,
    pixels: Vec<u8>,
}

impl Canvas {
    fn set(&mut self, x: usize, y: usize, v: u8) {
        self.pixels[y * self.width + x] = v;
    }

    fn image(&mut self, x0: usize, y0: usize, values: impl Fn(usize) -> f32) {
        for p in 0..PIXELS {
            let v = (values(p).clamp(0.0, 1.0) * 255.0).round() as u8;
            for dy in 0..SCALE {
                for dx in 0..SCALE {
                    self.set(x0 + (p % 28) * SCALE + dx, y0 + (p / 28) * SCALE + dy, v);
                }
            }
        }
    }

    fn digit(&mut self, x0: usize, y0: usize, d: u8) {
        for (row, bits) in DIGITS[d as usize % 10].iter().enumerate() {
            for col in 0..3 {
                if bits & (4 >> col) != 0 {
                    for dy in 0..2 {
                        for dx in 0..2 {
                            self.set(x0 + col * 2 + dx, y0 + row * 2 + dy, 0);
                        }
                    }
                }
            }
        }
    }
}

/// The grid for `goal` as PNG bytes, or `None` when no cell of the run has samples to show.
pub fn figure(
    test: &Split,
    config: &ProtocolConfig,
    cells: &[AttackCell],
    goal: Goal,
) -> Option<Vec<u8>> {
    let rows: Vec<&AttackCell> = SCHEMES
        .iter()
        .flat_map(|scheme| {
            config.attacks.iter().filter_map(move |a| {
                cells.iter().find(|c| {
                    c.goal == goal
                        && c.scheme == *scheme
                        && c.attack == crate::attack::Attack::name(a)
                })
            })
        })
        .filter(|c| !c.samples.is_empty())
        .collect();
    if rows.is_empty() {
        return None;
    }
    let width = COLUMNS * CELL_W;
    let height = rows.len() * CELL_H;
    let mut canvas = Canvas {
        width,
        pixels: vec![255; width * height],
    };
    for (r, cell) in rows.iter().enumerate() {
        for (c, sample) in cell.samples.iter().take(COLUMNS).enumerate() {
            let (x0, y0) = (c * CELL_W + GAP, r * CELL_H);
            let original: Vec<f32> = test
                .image(sample.index)
                .iter()
                .map(|&p| p as f32 / 255.0)
                .collect();
            let adversarial = &cell.adversarials[c * PIXELS..(c + 1) * PIXELS];
            let delta: Vec<f32> = adversarial
                .iter()
                .zip(&original)
                .map(|(a, o)| a - o)
                .collect();
            let peak = delta.iter().fold(1e-6f32, |m, d| m.max(d.abs()));
            canvas.digit(x0 + SIDE / 2, y0 + 1, sample.label);
            canvas.image(x0, y0 + TEXT, |p| original[p]);
            canvas.image(x0 + SIDE + 2, y0 + TEXT, |p| adversarial[p]);
            canvas.image(x0 + 2 * (SIDE + 2), y0 + TEXT, |p| {
                0.5 + 0.5 * delta[p] / peak
            });
            if let Some(t) = sample.target {
                canvas.digit(x0 + SIDE + 2 + SIDE / 2, y0 + TEXT + SIDE + 1, t);
            }
        }
    }
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width as u32, height as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("in-memory PNG header");
        writer
            .write_image_data(&canvas.pixels)
            .expect("in-memory PNG data");
    }
    Some(bytes)
}
