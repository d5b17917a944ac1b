//! Test-time dropout: the paper's defence.
//!
//! Dropout stays on when classifying and when attacking; every forward pass draws fresh masks.
//! burn's `nn::Dropout` is a no-op on a non-autodiff device, so the masks are drawn here,
//! explicitly, from [`MaskRng`] — a ChaCha8 stream owned by the caller rather than the backend's
//! global RNG. That choice is what makes one seed give the same masks on flex, ndarray, wgpu
//! and in the browser, and lets parallel tests each own their randomness.

use std::fmt;
use std::str::FromStr;

use burn::tensor::{Tensor, TensorData};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

/// Dropout rates at the paper's three places: the 784 input pixels, the convolutional feature
/// maps (after each conv block), and the 1024 hidden units of the first FC layer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DropoutScheme {
    pub input: f32,
    pub feature: f32,
    pub fc: f32,
}

/// A rate outside [0, 1), or an unknown scheme name.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SchemeError {
    #[error("dropout rate {rate} for {site} is outside [0, 1)")]
    RateOutOfRange { site: &'static str, rate: f32 },
    #[error(
        "unknown dropout scheme '{0}': use none, input, feature, fc, all, or three rates 'input,feature,fc' such as 0.1,0.2,0.5"
    )]
    Unknown(String),
}

impl DropoutScheme {
    /// No dropout: the deterministic network.
    pub const NONE: Self = Self::rates(0.0, 0.0, 0.0);
    /// Paper, Table 1: input dropout 0.1.
    pub const INPUT: Self = Self::rates(0.1, 0.0, 0.0);
    /// Paper, Table 1: feature-map dropout 0.2.
    pub const FEATURE: Self = Self::rates(0.0, 0.2, 0.0);
    /// Paper, Table 1: fully-connected dropout 0.5.
    pub const FC: Self = Self::rates(0.0, 0.0, 0.5);
    /// Paper, Table 1: all three at once.
    pub const ALL: Self = Self::rates(0.1, 0.2, 0.5);

    /// The paper's five schemes with their names, in the order of its tables.
    pub const PRESETS: [(&'static str, Self); 5] = [
        ("none", Self::NONE),
        ("input", Self::INPUT),
        ("feature", Self::FEATURE),
        ("fc", Self::FC),
        ("all", Self::ALL),
    ];

    const fn rates(input: f32, feature: f32, fc: f32) -> Self {
        Self { input, feature, fc }
    }

    /// A custom scheme; every rate must lie in [0, 1) (a rate of 1 would drop everything).
    pub fn new(input: f32, feature: f32, fc: f32) -> Result<Self, SchemeError> {
        for (site, rate) in [("input", input), ("feature", feature), ("fc", fc)] {
            if !(0.0..1.0).contains(&rate) {
                return Err(SchemeError::RateOutOfRange { site, rate });
            }
        }
        Ok(Self::rates(input, feature, fc))
    }

    /// The preset's name, or `None` for a custom scheme.
    pub fn preset_name(&self) -> Option<&'static str> {
        Self::PRESETS
            .iter()
            .find(|(_, s)| s == self)
            .map(|(n, _)| *n)
    }

    /// Whether a forward pass under this scheme is deterministic.
    pub fn is_deterministic(&self) -> bool {
        self.input == 0.0 && self.feature == 0.0 && self.fc == 0.0
    }
}

impl fmt::Display for DropoutScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.preset_name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{},{},{}", self.input, self.feature, self.fc),
        }
    }
}

impl FromStr for DropoutScheme {
    type Err = SchemeError;

    /// A preset name, or three comma-separated rates `input,feature,fc`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some((_, scheme)) = Self::PRESETS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
        {
            return Ok(*scheme);
        }
        let rates: Vec<f32> = s
            .split(',')
            .map(|r| r.trim().parse::<f32>())
            .collect::<Result<_, _>>()
            .map_err(|_| SchemeError::Unknown(s.to_owned()))?;
        match rates[..] {
            [input, feature, fc] => Self::new(input, feature, fc),
            _ => Err(SchemeError::Unknown(s.to_owned())),
        }
    }
}

/// The random stream dropout masks are drawn from. Seeded runs reproduce their masks exactly.
#[derive(Clone, Debug)]
pub struct MaskRng(ChaCha8Rng);

impl MaskRng {
    pub fn seed(seed: u64) -> Self {
        Self(ChaCha8Rng::seed_from_u64(seed))
    }

    /// An independent stream `stream` of `seed` (per epoch, per pass): resuming at stream k
    /// gives exactly the masks an uninterrupted run would have drawn there.
    pub fn stream(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Self(rng)
    }

    /// Next raw 64 random bits (also used for shuffling, so one seed drives a whole run).
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// An inverted-dropout mask of `len` values: each is 0 with probability `p`, else 1/(1−p),
    /// so the expected activation is unchanged (the convention of the frameworks of the time).
    pub fn inverted_mask(&mut self, len: usize, p: f32) -> Vec<f32> {
        let keep_scale = 1.0 / (1.0 - p);
        // Drop when a uniform u32 falls below p·2³²: exact to 2⁻³².
        let threshold = (p as f64 * 4_294_967_296.0) as u64;
        // The stream's words in order, drawn in bulk (a quarter less time than a u64 at a time
        // for a pass under `all`: `cargo bench --bench core -- masks`; the masks capped the
        // GPU's forward passes under dropout, docs/performance.md): the words two `next_u64`
        // calls per pair of values would take, low half first, so the same masks, and a whole
        // pair for an odd `len`, so the stream goes on where it did (tested).
        let mut mask = vec![0f32; len.div_ceil(2) * 2];
        let words: &mut [u32] = bytemuck::cast_slice_mut(&mut mask);
        self.0.fill_bytes(bytemuck::cast_slice_mut(words));
        for word in words.iter_mut() {
            let drop = u64::from(u32::from_le(*word)) < threshold;
            *word = if drop { 0f32 } else { keep_scale }.to_bits();
        }
        mask.truncate(len);
        mask
    }
}

/// Where a forward pass gets its dropout masks. The paper's defence draws fresh ones at every
/// call ([`MaskRng`]); the fixed-mask sanity check freezes one per image ([`FrozenMasks`]).
pub trait MaskSource {
    /// An inverted-dropout mask for `rows` rows (the batch) of `per_row` units each.
    fn mask(&mut self, rows: usize, per_row: usize, p: f32) -> Vec<f32>;
}

impl MaskSource for MaskRng {
    fn mask(&mut self, rows: usize, per_row: usize, p: f32) -> Vec<f32> {
        self.inverted_mask(rows * per_row, p)
    }
}

/// One mask per image, the same in every forward pass: each row's masks are drawn from a
/// stream of its own seed, one stream per dropout site (in the order the forward pass reaches
/// them). Attacking through frozen masks is the check of Carlini et al. (2019, *On evaluating
/// adversarial robustness*): with the randomness removed, the attack must succeed as it does
/// against the deterministic network, or it is broken. Build one per forward pass.
#[derive(Clone, Debug)]
pub struct FrozenMasks {
    row_seeds: Vec<u64>,
    site: u64,
}

impl FrozenMasks {
    /// `row_seeds[r]` fixes the masks of row `r`; rows with equal seeds get equal masks.
    pub fn new(row_seeds: Vec<u64>) -> Self {
        Self { row_seeds, site: 0 }
    }
}

impl MaskSource for FrozenMasks {
    fn mask(&mut self, rows: usize, per_row: usize, p: f32) -> Vec<f32> {
        assert_eq!(
            rows,
            self.row_seeds.len(),
            "frozen masks were built for another batch size"
        );
        let site = self.site;
        self.site += 1;
        self.row_seeds
            .iter()
            .flat_map(|&seed| MaskRng::stream(seed, site).inverted_mask(per_row, p))
            .collect()
    }
}

/// One stream per row, each continuing across the dropout sites of a forward pass: row `r`
/// draws its masks, site after site, from `rows[r]` alone. With a row's stream named by its
/// image and by how many evaluations of that image came before ([`ImageStreams`]), an image's
/// masks do not depend on which other images share the call, so a batch can be split across
/// threads (or sized differently) and give the same numbers. Build one per forward pass.
#[derive(Clone, Debug)]
pub struct RowStreams {
    rows: Vec<MaskRng>,
}

impl RowStreams {
    pub fn new(rows: Vec<MaskRng>) -> Self {
        Self { rows }
    }
}

impl MaskSource for RowStreams {
    fn mask(&mut self, rows: usize, per_row: usize, p: f32) -> Vec<f32> {
        assert_eq!(
            rows,
            self.rows.len(),
            "row streams were built for another batch size"
        );
        let mut mask = Vec::with_capacity(rows * per_row);
        for rng in &mut self.rows {
            mask.extend(rng.inverted_mask(per_row, p));
        }
        mask
    }
}

/// Per-image mask streams for a batch under attack: image `i` has its own seed, and its `k`-th
/// evaluation (each forward pass of one of its points, EOT replicas included) draws from stream
/// `k` of that seed. What an image sees is then fixed by the image and its own history, never
/// by the batch it is attacked in.
#[derive(Clone, Debug)]
pub struct ImageStreams {
    seeds: Vec<u64>,
    evaluations: Vec<u64>,
}

impl ImageStreams {
    /// `seeds[i]` names the streams of image `i`.
    pub fn new(seeds: Vec<u64>) -> Self {
        let evaluations = vec![0; seeds.len()];
        Self { seeds, evaluations }
    }

    pub fn len(&self) -> usize {
        self.seeds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seeds.is_empty()
    }

    /// The seed of image `i` (the fixed-mask mode freezes its masks with it).
    pub fn seed(&self, i: usize) -> u64 {
        self.seeds[i]
    }

    /// The masks of one forward pass whose row `r` evaluates a point of image `images[r]`,
    /// advancing each image's count of evaluations.
    pub fn next_pass(&mut self, images: &[usize]) -> RowStreams {
        RowStreams::new(
            images
                .iter()
                .map(|&i| {
                    let k = self.evaluations[i];
                    self.evaluations[i] += 1;
                    MaskRng::stream(self.seeds[i], k)
                })
                .collect(),
        )
    }

    /// The images of `range` and their evaluations so far, as a batch of their own: continuing
    /// it draws for them exactly what continuing this batch would have drawn.
    pub fn split(&self, range: std::ops::Range<usize>) -> ImageStreams {
        ImageStreams {
            seeds: self.seeds[range.clone()].to_vec(),
            evaluations: self.evaluations[range].to_vec(),
        }
    }
}

/// Applies inverted dropout with rate `p` to `x` (batch first) with a mask from `masks`;
/// `p = 0` is the identity and draws nothing, so deterministic schemes leave the stream
/// untouched.
pub fn dropout<const D: usize>(x: Tensor<D>, p: f32, masks: &mut dyn MaskSource) -> Tensor<D> {
    if p == 0.0 {
        return x;
    }
    let shape = x.shape();
    let rows = x.dims()[0];
    let mask = masks.mask(rows, shape.num_elements() / rows.max(1), p);
    let mask = Tensor::<D>::from_data(TensorData::new(mask, shape), &x.device());
    x * mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_presets_and_rates() {
        assert_eq!("all".parse::<DropoutScheme>(), Ok(DropoutScheme::ALL));
        assert_eq!(
            "0.1, 0.2, 0.5".parse::<DropoutScheme>(),
            Ok(DropoutScheme::ALL)
        );
        assert_eq!(
            "0,0,0.3".parse::<DropoutScheme>().unwrap().to_string(),
            "0,0,0.3"
        );
        assert!(matches!(
            "0,1,0".parse::<DropoutScheme>(),
            Err(SchemeError::RateOutOfRange {
                site: "feature",
                ..
            })
        ));
        assert!(matches!(
            "most".parse::<DropoutScheme>(),
            Err(SchemeError::Unknown(_))
        ));
    }

    #[test]
    fn frozen_masks_repeat_per_row_and_differ_per_site() {
        let mut first = FrozenMasks::new(vec![5, 9, 5]);
        let a = first.mask(3, 100, 0.5);
        let b = first.mask(3, 100, 0.5);
        assert_eq!(a[..100], a[200..], "equal seeds, equal masks");
        assert_ne!(a[..100], a[100..200]);
        assert_ne!(a, b, "the second site has its own masks");
        let mut again = FrozenMasks::new(vec![5, 9, 5]);
        assert_eq!(again.mask(3, 100, 0.5), a);
        assert_eq!(again.mask(3, 100, 0.5), b);
    }

    #[test]
    fn image_streams_do_not_depend_on_the_batch() {
        // Image 1 evaluated twice in a batch with image 0, and alone: the same masks.
        let mut batch = ImageStreams::new(vec![11, 22]);
        let mut alone = batch.split(1..2);
        let mut a = batch.next_pass(&[0, 1, 1]);
        let first = a.mask(3, 5, 0.5);
        let second = a.mask(3, 4, 0.5);
        let mut b = alone.next_pass(&[0, 0]);
        assert_eq!(&first[5..], &b.mask(2, 5, 0.5)[..]);
        assert_eq!(&second[4..], &b.mask(2, 4, 0.5)[..]);
        // Two evaluations of one image draw differently, and the next pass moves on.
        assert_ne!(first[5..10], first[10..15]);
        let next = batch.next_pass(&[1]).mask(1, 5, 0.5);
        assert_eq!(next, alone.next_pass(&[0]).mask(1, 5, 0.5));
        assert_ne!(next[..], first[5..10]);
    }

    /// The masks as drawn a `u64` at a time, two values per draw, the low half first.
    fn pairwise(rng: &mut MaskRng, len: usize, p: f32) -> Vec<f32> {
        let threshold = (p as f64 * 4_294_967_296.0) as u64;
        let mut mask = Vec::new();
        while mask.len() < len {
            let bits = rng.next_u64();
            for word in [bits & 0xffff_ffff, bits >> 32] {
                mask.push(if word < threshold {
                    0.0
                } else {
                    1.0 / (1.0 - p)
                });
            }
        }
        mask.truncate(len);
        mask
    }

    #[test]
    fn bulk_masks_are_the_pairwise_ones_and_leave_the_stream_in_step() {
        let (mut bulk, mut pairs) = (MaskRng::stream(3, 1), MaskRng::stream(3, 1));
        // Odd and even lengths, across ChaCha's 64-word blocks.
        for (len, p) in [
            (784, 0.1),
            (1, 0.2),
            (6272, 0.2),
            (127, 0.5),
            (1024, 0.5),
            (3, 0.9),
        ] {
            let ours = bulk.inverted_mask(len, p);
            assert_eq!(ours, pairwise(&mut pairs, len, p), "{len} values at {p}");
            let dropped = ours.iter().filter(|&&m| m == 0.0).count() as f32 / len as f32;
            assert!(
                len < 500 || (dropped - p).abs() < 0.05,
                "{dropped} dropped at {p}"
            );
            assert_eq!(bulk.next_u64(), pairs.next_u64(), "after {len} values");
        }
    }

    #[test]
    fn streams_differ_and_repeat() {
        let a = MaskRng::stream(7, 0).inverted_mask(1000, 0.5);
        let b = MaskRng::stream(7, 1).inverted_mask(1000, 0.5);
        assert_ne!(a, b);
        assert_eq!(a, MaskRng::stream(7, 0).inverted_mask(1000, 0.5));
    }
}
