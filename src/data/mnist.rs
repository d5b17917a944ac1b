//! MNIST as the paper uses it: 60,000 training images (the first 50,000 train the network, the
//! last 10,000 validate it) and 10,000 test images.

use burn::tensor::{Device, Tensor, TensorData};

use super::idx::{self, IdxError, PIXELS, SIDE};

/// Images the paper trains on: the first 50,000 of the training file.
pub const TRAIN_IMAGES: usize = 50_000;
/// MNIST's training file holds 60,000 images; the last 10,000 are the validation set.
pub const TRAINING_FILE_IMAGES: usize = 60_000;
/// MNIST's test file holds 10,000 images.
pub const TEST_IMAGES: usize = 10_000;

/// One of the four files of the original distribution: its name and the md5 of its `.gz` form.
#[derive(Clone, Copy, Debug)]
pub struct MnistFile {
    pub name: &'static str,
    pub gz_md5: &'static str,
    pub gz_bytes: u64,
}

/// The four files, byte-identical on every public mirror (LeCun, Cortes, Burges; CC BY-SA 3.0).
pub const FILES: [MnistFile; 4] = [
    MnistFile {
        name: "train-images-idx3-ubyte",
        gz_md5: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        gz_bytes: 9_912_422,
    },
    MnistFile {
        name: "train-labels-idx1-ubyte",
        gz_md5: "d53e105ee54ea40749a09fcbcd1e9432",
        gz_bytes: 28_881,
    },
    MnistFile {
        name: "t10k-images-idx3-ubyte",
        gz_md5: "9fb629c4189551a2d022fa330f9573f3",
        gz_bytes: 1_648_877,
    },
    MnistFile {
        name: "t10k-labels-idx1-ubyte",
        gz_md5: "ec29112dd5afa0611ce80d1b7f02629c",
        gz_bytes: 4_542,
    },
];

/// A labelled set of 28×28 grey images, pixels kept as bytes (0–255) until a batch is needed,
/// so that 70,000 images cost 55 MB rather than 220 MB of floats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    pixels: Vec<u8>,
    labels: Vec<u8>,
}

/// Errors building a [`Split`] or loading MNIST.
#[derive(Debug, thiserror::Error)]
pub enum MnistError {
    #[error(transparent)]
    Idx(#[from] IdxError),
    #[error("{images} holds {n_images} images but {labels} holds {n_labels} labels")]
    CountMismatch {
        images: String,
        n_images: usize,
        labels: String,
        n_labels: usize,
    },
    #[error("{file}: expected {expected} items for MNIST, found {found}")]
    NotMnist {
        file: String,
        expected: usize,
        found: usize,
    },
    #[error(
        "MNIST file {name}[.gz] not found in {dir}; run `advdrop fetch-mnist` or point --mnist (or ADVDROP_MNIST) at a directory holding the four files"
    )]
    Missing { name: String, dir: String },
}

impl Split {
    /// Parses an images file and a labels file given as bytes (raw or gzip): the path the web
    /// page takes, and the native loader's too.
    pub fn from_idx_bytes(
        images_name: &str,
        images: &[u8],
        labels_name: &str,
        labels: &[u8],
    ) -> Result<Self, MnistError> {
        let images_parsed = idx::parse_images(images_name, images)?;
        let labels_parsed = idx::parse_labels(labels_name, labels)?;
        if images_parsed.count != labels_parsed.len() {
            return Err(MnistError::CountMismatch {
                images: images_name.into(),
                n_images: images_parsed.count,
                labels: labels_name.into(),
                n_labels: labels_parsed.len(),
            });
        }
        Ok(Self {
            pixels: images_parsed.pixels,
            labels: labels_parsed,
        })
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Pixels of image `i`, row-major bytes.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.pixels[i * PIXELS..(i + 1) * PIXELS]
    }

    /// Images `range` as a new split (copies; used for the paper's 50,000 / 10,000 division).
    pub fn slice(&self, range: std::ops::Range<usize>) -> Split {
        Split {
            pixels: self.pixels[range.start * PIXELS..range.end * PIXELS].to_vec(),
            labels: self.labels[range].to_vec(),
        }
    }

    /// sha256 of the decoded split (every image's pixels, then the labels): what a run records
    /// of its data, whatever file format or compression held it.
    pub fn sha256(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(&self.pixels);
        hash.update(&self.labels);
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Mean pixel on the 0–255 scale (33.3184 for MNIST's training file: a loader check).
    pub fn mean_pixel(&self) -> f64 {
        self.pixels.iter().map(|&p| p as f64).sum::<f64>() / self.pixels.len().max(1) as f64
    }

    /// The images at `indices` as a `[n, 1, 28, 28]` tensor in [0, 1] on `device`.
    pub fn images_tensor(&self, indices: &[usize], device: &Device) -> Tensor<4> {
        let mut values = Vec::with_capacity(indices.len() * PIXELS);
        for &i in indices {
            values.extend(self.image(i).iter().map(|&p| p as f32 / 255.0));
        }
        let data = TensorData::new(values, [indices.len(), 1, SIDE, SIDE]);
        Tensor::from_data(data, device)
    }

    /// The labels at `indices`.
    pub fn labels_at(&self, indices: &[usize]) -> Vec<u8> {
        indices.iter().map(|&i| self.labels[i]).collect()
    }
}

/// The two MNIST files as the paper divides them.
#[derive(Clone, Debug)]
pub struct Mnist {
    /// All 60,000 images of the training file.
    pub training_file: Split,
    /// The 10,000 test images.
    pub test: Split,
}

impl Mnist {
    /// Builds MNIST from the four files' bytes, in [`FILES`] order, checking the counts.
    pub fn from_bytes(files: [&[u8]; 4]) -> Result<Self, MnistError> {
        let [ti, tl, si, sl] = files;
        let training_file =
            Split::from_idx_bytes(FILES[0].name, ti, FILES[1].name, tl).and_then(|s| {
                expect_count(FILES[0].name, TRAINING_FILE_IMAGES, s.len())?;
                Ok(s)
            })?;
        let test = Split::from_idx_bytes(FILES[2].name, si, FILES[3].name, sl).and_then(|s| {
            expect_count(FILES[2].name, TEST_IMAGES, s.len())?;
            Ok(s)
        })?;
        Ok(Self {
            training_file,
            test,
        })
    }

    /// Loads the four files from `dir`, each as `NAME.gz` or raw `NAME`.
    #[cfg(not(target_family = "wasm"))]
    pub fn load(dir: &std::path::Path) -> Result<Self, MnistError> {
        let read = |file: &MnistFile| -> Result<Vec<u8>, MnistError> {
            for candidate in [format!("{}.gz", file.name), file.name.to_string()] {
                let path = dir.join(&candidate);
                if path.is_file() {
                    return std::fs::read(&path).map_err(|source| {
                        IdxError::Io {
                            file: path.display().to_string(),
                            source,
                        }
                        .into()
                    });
                }
            }
            Err(MnistError::Missing {
                name: file.name.into(),
                dir: dir.display().to_string(),
            })
        };
        let bytes = [
            read(&FILES[0])?,
            read(&FILES[1])?,
            read(&FILES[2])?,
            read(&FILES[3])?,
        ];
        Self::from_bytes([&bytes[0], &bytes[1], &bytes[2], &bytes[3]])
    }

    /// The paper's training set: the first 50,000 images of the training file.
    pub fn train(&self) -> Split {
        self.training_file.slice(0..TRAIN_IMAGES)
    }

    /// The paper's validation set: the last 10,000 images of the training file.
    pub fn validation(&self) -> Split {
        self.training_file
            .slice(TRAIN_IMAGES..self.training_file.len())
    }
}

fn expect_count(file: &str, expected: usize, found: usize) -> Result<(), MnistError> {
    if expected == found {
        Ok(())
    } else {
        Err(MnistError::NotMnist {
            file: file.into(),
            expected,
            found,
        })
    }
}
