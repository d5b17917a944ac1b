//! A softmax regression `z = W x + b` whose answers are known in closed form, for checking
//! attacks and attacker modes without the CNN.

use advdrop::attack::PIXELS;
use advdrop::model::dropout::dropout;
use advdrop::model::{CLASSES, Classifier, DropoutScheme, MaskRng, MaskSource};
use burn::tensor::{Device, Tensor, TensorData};

/// `z = W x + b`: a softmax regression whose boundaries are known in closed form.
pub struct Linear {
    pub w: Vec<f32>, // [10, 784], class-major
    pub b: Vec<f32>,
    device: Device,
}

impl Linear {
    pub fn new(seed: u64, device: &Device) -> Self {
        let mut rng = MaskRng::seed(seed);
        let mut uniform = || (rng.next_u64() >> 11) as f32 / (1u64 << 53) as f32 - 0.5;
        let w = (0..CLASSES * PIXELS).map(|_| 0.2 * uniform()).collect();
        let b = (0..CLASSES).map(|_| 0.5 * uniform()).collect();
        Self {
            w,
            b,
            device: device.clone(),
        }
    }

    pub fn host_logits(&self, x: &[f32]) -> [f64; CLASSES] {
        let mut z = [0f64; CLASSES];
        for (k, zk) in z.iter_mut().enumerate() {
            *zk = self.b[k] as f64
                + self.w[k * PIXELS..(k + 1) * PIXELS]
                    .iter()
                    .zip(x)
                    .map(|(w, x)| *w as f64 * *x as f64)
                    .sum::<f64>();
        }
        z
    }
}

impl Classifier for Linear {
    /// Honours the scheme's input dropout, so the attacker modes can be checked in closed form.
    fn logits(
        &self,
        images: Tensor<4>,
        scheme: &DropoutScheme,
        masks: &mut dyn MaskSource,
    ) -> Tensor<2> {
        let images = dropout(images, scheme.input, masks);
        let [n, ..] = images.dims();
        let w = Tensor::<2>::from_data(
            TensorData::new(self.w.clone(), [CLASSES, PIXELS]),
            &self.device,
        );
        let b = Tensor::<2>::from_data(TensorData::new(self.b.clone(), [1, CLASSES]), &self.device);
        images.reshape([n, PIXELS]).matmul(w.transpose()) + b
    }
}
