//! Which burn device computes. The model, training and evaluation take a [`Device`] and never
//! name a backend type; this is the one place that maps a user's choice onto a device.

use std::fmt;
use std::str::FromStr;

use burn::tensor::{Device, DeviceKind, Int, Tensor};

/// A compute backend the user can pick (`--backend`, or the page's switch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// burn's `flex` CPU backend (SIMD, multi-threaded natively; the default).
    Flex,
    /// burn's older `ndarray` CPU backend, kept as a selectable fallback.
    #[cfg(feature = "ndarray")]
    NdArray,
    /// burn's `wgpu` backend: Vulkan/Metal natively, WebGPU in the browser.
    Wgpu,
}

impl Backend {
    /// Every backend this build offers, for help texts and tests.
    pub const ALL: &'static [Backend] = &[
        Backend::Flex,
        #[cfg(feature = "ndarray")]
        Backend::NdArray,
        Backend::Wgpu,
    ];

    /// The device to compute on. For wgpu this is lazy: the adapter is picked on first use.
    pub fn device(self) -> Device {
        match self {
            Backend::Flex => Device::flex(),
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            Backend::NdArray => Device::ndarray(),
            Backend::Wgpu => Device::wgpu(DeviceKind::DefaultDevice),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            #[cfg(feature = "ndarray")]
            Backend::NdArray => "ndarray",
            Backend::Wgpu => "wgpu",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown backend name, or one this build left out.
#[derive(Debug, thiserror::Error)]
#[error("unknown backend '{name}': choose one of {choices}{hint}")]
pub struct UnknownBackend {
    name: String,
    choices: String,
    hint: &'static str,
}

/// Why `ndarray` is refused by a build without it, and how to get it.
const NDARRAY_HINT: &str =
    " (ndarray is compiled in only on request: cargo build --release --features ndarray)";

impl FromStr for Backend {
    type Err = UnknownBackend;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Backend::ALL
            .iter()
            .copied()
            .find(|b| b.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownBackend {
                name: s.to_owned(),
                choices: Backend::ALL
                    .iter()
                    .map(|b| b.name())
                    .collect::<Vec<_>>()
                    .join(", "),
                hint: if cfg!(not(feature = "ndarray")) && s.trim().eq_ignore_ascii_case("ndarray")
                {
                    NDARRAY_HINT
                } else {
                    ""
                },
            })
    }
}

/// A read back from the device failed (a lost GPU device, say).
#[derive(Debug, thiserror::Error)]
#[error("reading results from the device failed: {0}")]
pub struct ReadError(String);

/// Reads an integer tensor back to the host, asynchronously.
pub async fn read_ints<const D: usize>(t: Tensor<D, Int>) -> Result<Vec<i64>, ReadError> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| ReadError(format!("{e:?}")))?;
    Ok(data.iter::<i64>().collect())
}

/// Reads a float tensor back to the host, asynchronously.
pub async fn read_floats<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, ReadError> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| ReadError(format!("{e:?}")))?;
    Ok(data.iter::<f32>().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_list_the_choices() {
        for &b in Backend::ALL {
            assert_eq!(b.name().parse::<Backend>().unwrap(), b);
            assert_eq!(
                format!(" {} ", b.name().to_uppercase())
                    .parse::<Backend>()
                    .unwrap(),
                b
            );
        }
        let err = "cuda".parse::<Backend>().unwrap_err().to_string();
        assert!(
            err.contains("'cuda'") && err.contains("flex") && err.contains("wgpu"),
            "{err}"
        );
        assert!(!err.contains("--features"), "{err}");
        let ndarray = "ndarray".parse::<Backend>();
        if cfg!(feature = "ndarray") {
            assert_eq!(ndarray.unwrap().name(), "ndarray");
        } else {
            let err = ndarray.unwrap_err().to_string();
            assert!(err.contains("--features ndarray"), "{err}");
        }
    }
}
