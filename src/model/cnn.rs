//! The paper's Fig. 1 network (the classic "deep MNIST" CNN), with dropout sites for the
//! paper's three schemes.
//!
//! `[n,1,28,28]` → conv 5×5×32 (same) → ReLU → max-pool 2 → *feature dropout*
//! → conv 5×5×64 (same) → ReLU → max-pool 2 → *feature dropout* → flatten 3136
//! → FC 1024 → ReLU → *fc dropout* → FC 10 (logits). Input dropout acts on the pixels first.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::dropout::{DropoutScheme, MaskSource, dropout};
use super::host::{self, Tape};
use super::{conv, dense, pool};

/// Classes of MNIST.
pub const CLASSES: usize = 10;
/// Parameters of Fig. 1: 832 + 51,264 + 3,212,288 + 10,250.
pub const PARAMETERS: usize = 3_274_634;
/// Features entering the first FC layer: 7 × 7 × 64.
pub const FLAT_FEATURES: usize = 7 * 7 * 64;
/// Hidden units of the first FC layer.
pub const HIDDEN: usize = 1024;
/// The training-time dropout of the usual recipe (paper §3): 0.5 on the FC hidden layer.
pub const TRAINING_DROPOUT: DropoutScheme = DropoutScheme::FC;

/// A network the attacks can query: logits `[n, 10]` for images `[n, 1, 28, 28]`, with the
/// masks of `scheme` taken from `masks`. The paper's [`Cnn`] is the one that matters; the trait
/// lets tests check the attacks against models whose answers are known in closed form.
pub trait Classifier {
    fn logits(
        &self,
        images: Tensor<4>,
        scheme: &DropoutScheme,
        masks: &mut dyn MaskSource,
    ) -> Tensor<2>;

    /// The logits (`rows × 10`) of `images` (`rows × 784`) computed on the host with a
    /// [`Tape`] for their input gradient, where the page's hand-written backward pass applies
    /// ([`host`]); `None` leaves gradients to burn's autodiff.
    fn taped(
        &self,
        _images: &[f32],
        _scheme: &DropoutScheme,
        _masks: &mut dyn MaskSource,
    ) -> Option<(Vec<f32>, Tape)> {
        None
    }
}

impl Classifier for Cnn {
    fn logits(
        &self,
        images: Tensor<4>,
        scheme: &DropoutScheme,
        masks: &mut dyn MaskSource,
    ) -> Tensor<2> {
        self.forward(images, scheme, masks)
    }

    fn taped(
        &self,
        images: &[f32],
        scheme: &DropoutScheme,
        masks: &mut dyn MaskSource,
    ) -> Option<(Vec<f32>, Tape)> {
        host::applies(&self.conv1.weight.device())
            .then(|| host::forward(self, images, scheme, masks))
    }
}

/// The CNN. It knows nothing of where it runs: the device it was built on decides.
#[derive(Module, Debug)]
pub struct Cnn {
    pub(crate) conv1: Conv2d,
    pub(crate) conv2: Conv2d,
    pub(crate) fc1: Linear,
    pub(crate) fc2: Linear,
    pool: MaxPool2d,
    /// The page's packed copy of `fc1`'s weights ([`dense`]), made on first use.
    #[module(skip)]
    fc1_packed: dense::Cache,
}

impl Cnn {
    /// A freshly initialised network (burn's PyTorch-like default initialisers) on `device`.
    pub fn new(device: &Device) -> Self {
        let conv = |c_in, c_out| {
            Conv2dConfig::new([c_in, c_out], [5, 5])
                .with_padding(PaddingConfig2d::Same)
                .init(device)
        };
        Self {
            conv1: conv(1, 32),
            conv2: conv(32, 64),
            fc1: LinearConfig::new(FLAT_FEATURES, HIDDEN).init(device),
            fc2: LinearConfig::new(HIDDEN, CLASSES).init(device),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            fc1_packed: dense::Cache::default(),
        }
    }

    /// Logits `[n, 10]` for images `[n, 1, 28, 28]` in [0, 1], with dropout masks from `masks`
    /// (fresh ones from a [`MaskRng`](super::MaskRng)) at every site whose rate in `scheme` is
    /// non-zero.
    pub fn forward(
        &self,
        images: Tensor<4>,
        scheme: &DropoutScheme,
        masks: &mut dyn MaskSource,
    ) -> Tensor<2> {
        let features = self.features(images, scheme, masks);
        self.head(features, scheme, masks)
    }

    /// The convolutional part: features `[n, 3136]` entering the first FC layer, with the
    /// input and feature dropout of `scheme`. Deterministic when those two rates are 0, which
    /// lets repeated passes under FC-only dropout share it ([`Self::head`]).
    pub fn features(
        &self,
        images: Tensor<4>,
        scheme: &DropoutScheme,
        masks: &mut dyn MaskSource,
    ) -> Tensor<2> {
        let x = dropout(images, scheme.input, masks);
        let x = self.conv_block(&self.conv1, x);
        let x = dropout(x, scheme.feature, masks);
        let x = self.conv_block(&self.conv2, x);
        let x = dropout(x, scheme.feature, masks);
        let [n, _, _, _] = x.dims();
        x.reshape([n, FLAT_FEATURES])
    }

    /// `pool(relu(conv(x)))`: burn's, or in the page outside autodiff
    /// [`conv::conv_relu_pool`]'s direct kernel, which pools as it stores.
    fn conv_block(&self, conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
        if conv::applies(&x) {
            conv::conv_relu_pool(x, conv)
        } else {
            self.pool(relu(conv.forward(x)))
        }
    }

    /// The 2×2 max-pool: burn's, or on the CPU outside autodiff the same values from
    /// [`pool::max_pool_2x2`] in a third of the time.
    fn pool(&self, x: Tensor<4>) -> Tensor<4> {
        if pool::applies(&x) {
            pool::max_pool_2x2(x)
        } else {
            self.pool.forward(x)
        }
    }

    /// `relu(fc1(x))`: burn's, or in the page outside autodiff [`dense::linear_relu`]'s
    /// direct kernel on weights packed once.
    pub(super) fn fc1_relu(&self, x: Tensor<2>) -> Tensor<2> {
        if dense::applies(&x, &self.fc1) {
            dense::linear_relu(x, &self.fc1, &self.fc1_packed)
        } else {
            relu(self.fc1.forward(x))
        }
    }

    /// The fully-connected part: logits `[n, 10]` from [`Self::features`], with the FC dropout
    /// of `scheme`.
    pub fn head(
        &self,
        features: Tensor<2>,
        scheme: &DropoutScheme,
        masks: &mut dyn MaskSource,
    ) -> Tensor<2> {
        let x = self.fc1_relu(features);
        let x = dropout(x, scheme.fc, masks);
        self.fc2.forward(x)
    }
}
