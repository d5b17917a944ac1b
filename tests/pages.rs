//! The documentation's generated results (`advdrop pages`) are what the committed runs' reports
//! give: a hand edit or a stale page fails here.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn pages(root: &Path, check: bool) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_advdrop"));
    command.args(["pages", "--root"]).arg(root);
    if check {
        command.arg("--check");
    }
    command.output().unwrap()
}

#[test]
fn the_results_pages_are_what_the_reports_give() {
    let out = pages(&root(), true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A copy of the pages and their sources with one number of the README changed: the check
    // names the page, and `advdrop pages` writes it back.
    let copy = std::env::temp_dir().join(format!("advdrop-pages-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    let files = [
        "README.md",
        "docs/results.md",
        "results/paper/report.json",
        "results/gap-probe/n200-logits/report.json",
        "results/gap-probe/n200-clipped-log-probs/report.json",
        "results/gap-probe/n200-paper40-logits/report.json",
        "www/model/advdrop-cnn.json",
        "www/model/advdrop-cnn-paper40.json",
    ];
    for file in files {
        let to = copy.join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(root().join(file), &to).unwrap();
    }
    let readme = std::fs::read_to_string(copy.join("README.md")).unwrap();
    assert!(readme.contains("9.48 → 12.83 (1.35×)"));
    std::fs::write(
        copy.join("README.md"),
        readme.replace("9.48 → 12.83 (1.35×)", "9.48 → 22.83 (2.41×)"),
    )
    .unwrap();
    let stale = pages(&copy, true);
    assert!(!stale.status.success());
    assert!(String::from_utf8_lossy(&stale.stderr).contains("README.md"));
    assert!(pages(&copy, false).status.success());
    assert_eq!(
        std::fs::read_to_string(copy.join("README.md")).unwrap(),
        readme
    );
    assert!(pages(&copy, true).status.success());
    std::fs::remove_dir_all(&copy).unwrap();
}
