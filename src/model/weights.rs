//! Weight files: safetensors, tensors named and laid out as PyTorch would (`fc1.weight` is
//! `[out, in]`), so a researcher can load the shipped weights into a PyTorch copy of Fig. 1 and
//! cross-check any number. Half precision halves the page's download (6.5 MB instead of 13 MB).
//!
//! Loading is strict: every expected tensor present with its exact shape, no unknown tensor, no
//! NaN or infinity; each failure names the tensor and what is wrong.

use std::collections::HashMap;

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use half::f16;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use sha2::{Digest, Sha256};

use super::cnn::Cnn;

/// Storage precision of a weight file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    F16,
    F32,
}

/// What can be wrong with a weight file.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("weight file is not a valid safetensors file: {0}")]
    Format(String),
    #[error("weight file lacks tensor '{0}'")]
    Missing(&'static str),
    #[error("weight file has tensor '{0}', which Fig. 1's network does not have")]
    Unexpected(String),
    #[error("tensor '{name}': expected shape {expected:?}, found {found:?}")]
    Shape {
        name: &'static str,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("tensor '{name}': dtype {found} is not F16 or F32")]
    Dtype { name: &'static str, found: String },
    #[error("tensor '{name}': holds a NaN or infinite value")]
    NotFinite { name: &'static str },
    #[error("weight file sha256 {found} does not match the model card's {expected}")]
    Hash { expected: String, found: String },
}

/// Tensor names and PyTorch-layout shapes of Fig. 1's network, in file order.
pub const TENSORS: [(&str, &[usize]); 8] = [
    ("conv1.weight", &[32, 1, 5, 5]),
    ("conv1.bias", &[32]),
    ("conv2.weight", &[64, 32, 5, 5]),
    ("conv2.bias", &[64]),
    ("fc1.weight", &[1024, 3136]),
    ("fc1.bias", &[1024]),
    ("fc2.weight", &[10, 1024]),
    ("fc2.bias", &[10]),
];

/// Hex sha256 of `bytes` (the model card records the weight file's).
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn floats(tensor: Tensor<1>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float tensor converts to f32")
}

/// Row-major transpose of a `rows × cols` matrix.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

impl Cnn {
    /// The network's parameters as `(name, PyTorch-layout values)` in [`TENSORS`] order.
    /// Reads synchronously: call it on a CPU-resident model.
    fn named_values(&self) -> Vec<(&'static str, Vec<f32>)> {
        let flat = |p: &Param<Tensor<4>>| floats(p.val().flatten(0, 3));
        let vec = |p: &Option<Param<Tensor<1>>>| floats(p.as_ref().expect("bias").val());
        let linear_t = |p: &Param<Tensor<2>>| {
            let [rows, cols] = p.val().dims();
            transpose(&floats(p.val().flatten(0, 1)), rows, cols)
        };
        vec![
            ("conv1.weight", flat(&self.conv1.weight)),
            ("conv1.bias", vec(&self.conv1.bias)),
            ("conv2.weight", flat(&self.conv2.weight)),
            ("conv2.bias", vec(&self.conv2.bias)),
            ("fc1.weight", linear_t(&self.fc1.weight)),
            ("fc1.bias", vec(&self.fc1.bias)),
            ("fc2.weight", linear_t(&self.fc2.weight)),
            ("fc2.bias", vec(&self.fc2.bias)),
        ]
    }

    /// Serialises the weights as safetensors in `precision`, with `metadata` in the header.
    pub fn to_safetensors(
        &self,
        precision: Precision,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<u8>, WeightsError> {
        let encoded: Vec<(&str, Vec<u8>)> = self
            .named_values()
            .into_iter()
            .map(|(name, values)| {
                let bytes = match precision {
                    Precision::F16 => values
                        .iter()
                        .flat_map(|&v| f16::from_f32(v).to_le_bytes())
                        .collect(),
                    Precision::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                };
                (name, bytes)
            })
            .collect();
        let dtype = match precision {
            Precision::F16 => Dtype::F16,
            Precision::F32 => Dtype::F32,
        };
        let views = TENSORS
            .iter()
            .zip(&encoded)
            .map(|((name, shape), (_, bytes))| {
                TensorView::new(dtype, shape.to_vec(), bytes)
                    .map(|view| (*name, view))
                    .map_err(|e| WeightsError::Format(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        safetensors::serialize(views, Some(metadata))
            .map_err(|e| WeightsError::Format(e.to_string()))
    }

    /// Builds the network on `device` from a safetensors file, checking every tensor.
    pub fn from_safetensors(bytes: &[u8], device: &Device) -> Result<Self, WeightsError> {
        let file =
            SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Format(e.to_string()))?;
        if let Some(extra) = file
            .names()
            .into_iter()
            .find(|n| !TENSORS.iter().any(|(t, _)| t == n))
        {
            return Err(WeightsError::Unexpected(extra.to_string()));
        }
        let mut values: HashMap<&str, Vec<f32>> = HashMap::new();
        for (name, shape) in TENSORS {
            let view = file.tensor(name).map_err(|_| WeightsError::Missing(name))?;
            if view.shape() != shape {
                return Err(WeightsError::Shape {
                    name,
                    expected: shape.to_vec(),
                    found: view.shape().to_vec(),
                });
            }
            let v: Vec<f32> = match view.dtype() {
                Dtype::F16 => view
                    .data()
                    .chunks_exact(2)
                    .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
                    .collect(),
                Dtype::F32 => view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
                other => {
                    return Err(WeightsError::Dtype {
                        name,
                        found: format!("{other:?}"),
                    });
                }
            };
            if v.iter().any(|x| !x.is_finite()) {
                return Err(WeightsError::NotFinite { name });
            }
            values.insert(name, v);
        }
        let mut take = |name: &str| values.remove(name).expect("checked above");
        let param4 =
            |v: Vec<f32>, shape: [usize; 4]| Param::from_data(TensorData::new(v, shape), device);
        let param1 = |v: Vec<f32>| {
            let n = v.len();
            Some(Param::from_data(TensorData::new(v, [n]), device))
        };
        // PyTorch's [out, in] back to burn's [in, out].
        let param2 = |v: Vec<f32>, out: usize, inp: usize| {
            Param::from_data(TensorData::new(transpose(&v, out, inp), [inp, out]), device)
        };
        let mut model = Cnn::new(device);
        model.conv1.weight = param4(take("conv1.weight"), [32, 1, 5, 5]);
        model.conv1.bias = param1(take("conv1.bias"));
        model.conv2.weight = param4(take("conv2.weight"), [64, 32, 5, 5]);
        model.conv2.bias = param1(take("conv2.bias"));
        model.fc1.weight = param2(take("fc1.weight"), 1024, 3136);
        model.fc1.bias = param1(take("fc1.bias"));
        model.fc2.weight = param2(take("fc2.weight"), 10, 1024);
        model.fc2.bias = param1(take("fc2.bias"));
        Ok(model)
    }

    /// Like [`Cnn::from_safetensors`], after checking the file's sha256 against `expected_sha256`
    /// (from the model card), so a truncated or swapped download is refused before use.
    pub fn from_verified_safetensors(
        bytes: &[u8],
        expected_sha256: &str,
        device: &Device,
    ) -> Result<Self, WeightsError> {
        let found = sha256_hex(bytes);
        if !found.eq_ignore_ascii_case(expected_sha256) {
            return Err(WeightsError::Hash {
                expected: expected_sha256.to_owned(),
                found,
            });
        }
        Self::from_safetensors(bytes, device)
    }
}
