//! The IDX file format of MNIST (LeCun et al.), raw or gzip-compressed.
//!
//! Layout: a big-endian `u32` magic (`0x0000_0803` for rank-3 `u8` images, `0x0000_0801` for
//! rank-1 `u8` labels), one big-endian `u32` per dimension, then the `u8` data, nothing after.
//! Every check names the file and what is wrong, because a user with a half-downloaded file must
//! be told which one to fetch again.

use std::io::Read;

use flate2::read::GzDecoder;

/// Magic number of an IDX file of unsigned bytes with three dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// MNIST images are 28 × 28 pixels.
pub const SIDE: usize = 28;
/// Pixels of one image.
pub const PIXELS: usize = SIDE * SIDE;

/// Largest decompressed IDX file accepted: MNIST's training images are 47 MB, so anything far
/// beyond is not MNIST and must not exhaust memory.
const MAX_DECOMPRESSED_BYTES: u64 = 128 << 20;

/// What can be wrong with an IDX file. Each variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not a valid gzip stream: {source}")]
    Gzip {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: decompresses to more than {limit} bytes, which is not an MNIST file")]
    TooLarge { file: String, limit: u64 },
    #[error("{file}: expected magic {expected} ({what}), found {found}")]
    BadMagic {
        file: String,
        expected: u32,
        found: u32,
        what: &'static str,
    },
    #[error("{file}: header is {found} bytes long, a {what} header needs {needed}")]
    ShortHeader {
        file: String,
        found: usize,
        needed: usize,
        what: &'static str,
    },
    #[error("{file}: expected {SIDE}×{SIDE} images, header says {rows}×{cols}")]
    WrongDimensions { file: String, rows: u32, cols: u32 },
    #[error("{file}: truncated: header announces {expected} data bytes, only {found} present")]
    Truncated {
        file: String,
        expected: u64,
        found: u64,
    },
    #[error("{file}: {extra} trailing bytes after the {expected} data bytes the header announces")]
    TrailingBytes {
        file: String,
        expected: u64,
        extra: u64,
    },
    #[error("{file}: label {label} at index {index} is not a digit 0–9")]
    BadLabel {
        file: String,
        index: usize,
        label: u8,
    },
}

/// Decoded images: `count` images of [`PIXELS`] bytes each, row-major, 0 = background.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    pub count: usize,
    pub pixels: Vec<u8>,
}

/// Returns the file's bytes, gunzipped when they start with the gzip magic `1f 8b`.
/// Detecting by content rather than by name lets users hand in either form under any name.
pub fn decompress(file: &str, bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes.to_vec());
    }
    let mut out = Vec::new();
    GzDecoder::new(bytes)
        .take(MAX_DECOMPRESSED_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|source| IdxError::Gzip {
            file: file.to_owned(),
            source,
        })?;
    if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(IdxError::TooLarge {
            file: file.to_owned(),
            limit: MAX_DECOMPRESSED_BYTES,
        });
    }
    Ok(out)
}

/// Parses an images file (raw or gzip) and checks magic, 28×28 dimensions and exact length.
pub fn parse_images(file: &str, bytes: &[u8]) -> Result<IdxImages, IdxError> {
    let raw = decompress(file, bytes)?;
    let header = read_header(file, &raw, IMAGES_MAGIC, 4, "images")?;
    let (count, rows, cols) = (header[0], header[1], header[2]);
    if rows as usize != SIDE || cols as usize != SIDE {
        return Err(IdxError::WrongDimensions {
            file: file.to_owned(),
            rows,
            cols,
        });
    }
    let data = check_length(file, &raw[16..], count as u64 * PIXELS as u64)?;
    Ok(IdxImages {
        count: count as usize,
        pixels: data.to_vec(),
    })
}

/// Parses a labels file (raw or gzip), checks magic and exact length, and that every label is a digit.
pub fn parse_labels(file: &str, bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    let raw = decompress(file, bytes)?;
    let header = read_header(file, &raw, LABELS_MAGIC, 2, "labels")?;
    let data = check_length(file, &raw[8..], header[0] as u64)?;
    if let Some((index, &label)) = data.iter().enumerate().find(|&(_, &l)| l > 9) {
        return Err(IdxError::BadLabel {
            file: file.to_owned(),
            index,
            label,
        });
    }
    Ok(data.to_vec())
}

/// Reads the magic and `words - 1` dimensions; returns the dimensions.
fn read_header(
    file: &str,
    raw: &[u8],
    magic: u32,
    words: usize,
    what: &'static str,
) -> Result<Vec<u32>, IdxError> {
    let needed = words * 4;
    if raw.len() < needed {
        return Err(IdxError::ShortHeader {
            file: file.to_owned(),
            found: raw.len(),
            needed,
            what,
        });
    }
    let word = |i: usize| u32::from_be_bytes(raw[i * 4..i * 4 + 4].try_into().expect("4 bytes"));
    if word(0) != magic {
        return Err(IdxError::BadMagic {
            file: file.to_owned(),
            expected: magic,
            found: word(0),
            what,
        });
    }
    Ok((1..words).map(word).collect())
}

fn check_length<'a>(file: &str, data: &'a [u8], expected: u64) -> Result<&'a [u8], IdxError> {
    let found = data.len() as u64;
    if found < expected {
        return Err(IdxError::Truncated {
            file: file.to_owned(),
            expected,
            found,
        });
    }
    if found > expected {
        return Err(IdxError::TrailingBytes {
            file: file.to_owned(),
            expected,
            extra: found - expected,
        });
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images_file(count: u32, rows: u32, cols: u32, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [IMAGES_MAGIC, count, rows, cols] {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn one_image_round_trips() {
        let px: Vec<u8> = (0..PIXELS).map(|i| (i % 256) as u8).collect();
        let parsed = parse_images("x", &images_file(1, 28, 28, &px)).unwrap();
        assert_eq!(parsed.count, 1);
        assert_eq!(parsed.pixels, px);
    }

    #[test]
    fn labels_must_be_digits() {
        let mut v = Vec::new();
        v.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
        v.extend_from_slice(&3u32.to_be_bytes());
        v.extend_from_slice(&[1, 12, 3]);
        let err = parse_labels("l", &v).unwrap_err();
        assert!(
            matches!(
                err,
                IdxError::BadLabel {
                    index: 1,
                    label: 12,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn short_header_is_not_a_panic() {
        let err = parse_labels("l", &[0, 0, 8]).unwrap_err();
        assert!(
            matches!(
                err,
                IdxError::ShortHeader {
                    found: 3,
                    needed: 8,
                    ..
                }
            ),
            "{err}"
        );
    }
}
