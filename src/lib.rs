//! # advdrop
//!
//! A reproduction of Wang et al., *Dropout in Testing Phase Makes Adversarial Samples Generation
//! Difficult* (WCSE 2019): the paper's MNIST CNN keeps dropout on at test time — on the input,
//! on the convolutional features, or on the fully-connected layer — and adversarial examples
//! are generated and cross-recognised under each scheme.
//!
//! Data flows one way, and no module reaches back up:
//!
//! ```text
//! bytes → data (IDX → Split) → model (Cnn, DropoutScheme, weights) → train
//!                                      ↓
//!                                    attack (L-BFGS, FGSM, JSMA, DeepFool)
//!                                      ↓
//!                                    eval (recognition, CIs) → experiment (protocol, report) → cli | web
//! ```
//!
//! Everything computes on a burn [`Device`](burn::tensor::Device) chosen at run time
//! ([`backend::Backend`]): flex or ndarray on the CPU, wgpu (Vulkan natively, WebGPU in the page).

pub mod attack;
pub mod backend;
#[cfg(not(target_family = "wasm"))]
pub mod cli;
pub mod data;
pub mod eval;
pub mod experiment;
pub mod model;
#[cfg(not(target_family = "wasm"))]
pub mod train;
#[cfg(target_family = "wasm")]
pub mod web;
