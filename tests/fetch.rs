//! `fetch-mnist --from DIR`: copies verified files, keeps good ones, replaces damaged ones, and
//! refuses a source whose md5 is wrong. (Downloading uses the same checks; mirrors are not
//! reachable from the test machines.)
// Native only: `wasm-pack test` builds every test target for wasm32; tests/web.rs is the wasm one.
#![cfg(not(target_family = "wasm"))]

mod common;

use advdrop::data::Mnist;
use advdrop::data::fetch::{FetchError, Fetched, fetch_mnist};

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("advdrop-fetch-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn copies_verifies_keeps_and_repairs() {
    let dest = temp_dir("dest");
    let source = common::mnist_dir();
    let first = fetch_mnist(&dest, Some(&source)).unwrap();
    assert_eq!(first.len(), 4);
    assert!(
        first
            .iter()
            .all(|(_, how)| matches!(how, Fetched::Copied(_)))
    );
    assert!(Mnist::load(&dest).is_ok());

    let again = fetch_mnist(&dest, Some(&source)).unwrap();
    assert!(again.iter().all(|(_, how)| *how == Fetched::AlreadyPresent));

    // A damaged file (a half download, say) is replaced; the good ones stay.
    let labels = dest.join("t10k-labels-idx1-ubyte.gz");
    std::fs::write(&labels, b"damaged").unwrap();
    let repaired = fetch_mnist(&dest, Some(&source)).unwrap();
    let copied: Vec<&str> = repaired
        .iter()
        .filter(|(_, how)| matches!(how, Fetched::Copied(_)))
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(copied, ["t10k-labels-idx1-ubyte"]);
    assert!(Mnist::load(&dest).is_ok());
    std::fs::remove_dir_all(&dest).unwrap();
}

#[test]
fn a_wrong_source_file_is_refused_and_nothing_is_written() {
    let source = temp_dir("badsource");
    std::fs::create_dir_all(&source).unwrap();
    for f in advdrop::data::FILES {
        std::fs::copy(
            common::mnist_dir().join(format!("{}.gz", f.name)),
            source.join(format!("{}.gz", f.name)),
        )
        .unwrap();
    }
    std::fs::write(source.join("train-images-idx3-ubyte.gz"), b"not mnist").unwrap();
    let dest = temp_dir("baddest");
    let err = fetch_mnist(&dest, Some(&source)).unwrap_err();
    assert!(matches!(err, FetchError::Checksum { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("does not match the original MNIST file")
    );
    assert!(!dest.join("train-images-idx3-ubyte.gz").exists());

    std::fs::remove_file(source.join("train-images-idx3-ubyte.gz")).unwrap();
    let err = fetch_mnist(&dest, Some(&source)).unwrap_err();
    assert!(matches!(err, FetchError::NotInSource { .. }), "{err}");
    std::fs::remove_dir_all(&source).unwrap();
    std::fs::remove_dir_all(&dest).unwrap();
}
