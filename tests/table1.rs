//! Table 1 on a small slice: structure, the paper's figures beside the measured ones, the JSON
//! document scripts read, and reproducibility per seed.
// Native only: `wasm-pack test` builds every test target for wasm32; tests/web.rs is the wasm one.
#![cfg(not(target_family = "wasm"))]

mod common;

use advdrop::experiment::{Table1, Table1Config, table1};
use advdrop::model::{Cnn, DropoutScheme};
use burn::tensor::Device;

fn run(seed: u64) -> Table1 {
    let device = Device::flex();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("www/model");
    let bytes = std::fs::read(dir.join("advdrop-cnn.safetensors")).unwrap();
    let model = Cnn::from_safetensors(&bytes, &device).unwrap();
    let mnist = common::mnist();
    let config = Table1Config {
        schemes: vec![
            DropoutScheme::NONE,
            DropoutScheme::ALL,
            "0,0,0.9".parse().unwrap(),
        ],
        repeats: 3,
        seed,
    };
    pollster::block_on(table1(
        &model,
        &mnist.train().slice(0..300),
        &mnist.test.slice(0..300),
        &config,
        &device,
        |_| {},
    ))
    .unwrap()
}

#[test]
fn table1_has_the_papers_figures_and_reproduces_per_seed() {
    let table = run(1);
    assert_eq!((table.train_images, table.test_images), (300, 300));
    let [none, all, custom] = &table.rows[..] else {
        panic!("three rows")
    };
    assert_eq!((none.train.n, all.train.n, custom.test.n), (1, 3, 3));
    assert_eq!(none.train.half_width, 0.0);
    assert_eq!(
        (none.paper_train, none.paper_test),
        (Some(99.94), Some(99.28))
    );
    assert_eq!(all.paper_test, Some(98.77));
    assert_eq!(
        (custom.scheme.as_str(), custom.paper_test),
        ("0,0,0.9", None)
    );
    assert!(none.test.mean > 95.0, "trained model: {}", none.test.mean);
    // Dropping 90 % of the FC units costs accuracy: the masks really act.
    assert!(
        custom.test.mean < none.test.mean,
        "{} vs {}",
        custom.test.mean,
        none.test.mean
    );

    // Scripts read the JSON: it must carry every figure the reports print.
    let json = serde_json::to_string(&table).unwrap();
    let parsed: Table1 = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed.markdown(), table.markdown());
    assert_eq!(parsed.csv(), table.csv());
    assert!(table.markdown().contains("| none | 0, 0, 0 |"));
    assert_eq!(table.csv().lines().count(), 4);
    // The custom scheme's name holds commas: quoted, it stays one field and the columns stay put.
    let csv = table.csv();
    let custom_row = csv.lines().nth(3).unwrap();
    assert!(
        custom_row.starts_with("\"0,0,0.9\",0,0,0.9,3,"),
        "{custom_row}"
    );

    assert_eq!(run(1), table, "one seed, one table");
    assert_ne!(
        run(2).rows[2],
        table.rows[2],
        "another seed draws other masks"
    );
}
