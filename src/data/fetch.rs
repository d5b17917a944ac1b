//! Getting MNIST onto a user's disk (native only): download from a public mirror, or copy from a
//! directory, and check every file's md5 against the original distribution before keeping it.
//! A file is written under a temporary name and renamed only once verified, so an interrupted
//! fetch never leaves a half file that a later run would trust.

use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use super::mnist::{FILES, MnistFile};

/// Public mirrors serving the original `.gz` files byte for byte, tried in order.
pub const MIRRORS: [&str; 2] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
];

/// Where a file came from, for the report printed to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    AlreadyPresent,
    Copied(PathBuf),
    Downloaded(String),
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: md5 {found} does not match the original MNIST file ({expected})")]
    Checksum {
        path: String,
        expected: &'static str,
        found: String,
    },
    #[error("{name}.gz: not found in {dir}")]
    NotInSource { name: String, dir: String },
    #[error("{name}.gz: every mirror failed: {reasons}")]
    Download { name: String, reasons: String },
}

/// Hex md5 of `bytes`.
pub fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn verify(file: &MnistFile, path: &Path, bytes: &[u8]) -> Result<(), FetchError> {
    let found = md5_hex(bytes);
    if found == file.gz_md5 {
        Ok(())
    } else {
        Err(FetchError::Checksum {
            path: path.display().to_string(),
            expected: file.gz_md5,
            found,
        })
    }
}

/// Makes sure `dest` holds the four verified `.gz` files: keeps a file already there when its md5
/// is right, else copies it from `from` (when given) or downloads it from [`MIRRORS`].
pub fn fetch_mnist(dest: &Path, from: Option<&Path>) -> Result<Vec<(String, Fetched)>, FetchError> {
    std::fs::create_dir_all(dest).map_err(io_err(dest))?;
    let mut report = Vec::new();
    for file in &FILES {
        let target = dest.join(format!("{}.gz", file.name));
        if let Ok(bytes) = std::fs::read(&target)
            && verify(file, &target, &bytes).is_ok()
        {
            report.push((file.name.to_string(), Fetched::AlreadyPresent));
            continue;
        }
        let (bytes, how) = match from {
            Some(dir) => {
                let source = dir.join(format!("{}.gz", file.name));
                if !source.is_file() {
                    return Err(FetchError::NotInSource {
                        name: file.name.into(),
                        dir: dir.display().to_string(),
                    });
                }
                let bytes = std::fs::read(&source).map_err(io_err(&source))?;
                verify(file, &source, &bytes)?;
                (bytes, Fetched::Copied(source))
            }
            None => download(file)?,
        };
        let partial = dest.join(format!("{}.gz.partial", file.name));
        std::fs::write(&partial, &bytes).map_err(io_err(&partial))?;
        std::fs::rename(&partial, &target).map_err(io_err(&target))?;
        report.push((file.name.to_string(), how));
    }
    Ok(report)
}

fn download(file: &MnistFile) -> Result<(Vec<u8>, Fetched), FetchError> {
    let mut reasons = Vec::new();
    for mirror in MIRRORS {
        let url = format!("{mirror}{}.gz", file.name);
        let attempt = ureq::get(&url).call().and_then(|mut response| {
            response
                .body_mut()
                .with_config()
                .limit(file.gz_bytes + 1)
                .read_to_vec()
        });
        match attempt {
            Ok(bytes) if md5_hex(&bytes) == file.gz_md5 => {
                return Ok((bytes, Fetched::Downloaded(url)));
            }
            Ok(bytes) => reasons.push(format!("{url}: wrong md5 {}", md5_hex(&bytes))),
            Err(e) => reasons.push(format!("{url}: {e}")),
        }
    }
    Err(FetchError::Download {
        name: file.name.into(),
        reasons: reasons.join("; "),
    })
}
