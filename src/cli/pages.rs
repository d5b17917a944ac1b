//! `advdrop pages`: the documentation's results blocks, rewritten from the committed runs'
//! reports (`experiment::pages` says which blocks, from which runs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::experiment::pages::{self, PAGES, Sources};
use crate::experiment::report::Report;
use crate::model::ModelCard;

#[derive(Args, Debug)]
pub struct PagesArgs {
    /// The repository's root.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Write nothing; fail when a page is not what its reports give.
    #[arg(long)]
    pub check: bool,
}

/// Every generated page as its reports give it: `(path, current text, generated text)`.
pub fn generate(root: &Path) -> Result<Vec<(PathBuf, String, String)>> {
    let mut reports = BTreeMap::new();
    let mut cards = BTreeMap::new();
    for page in &PAGES {
        for block in page.blocks {
            for run in block.reports() {
                let path = root.join(run).join("report.json");
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let report: Report = serde_json::from_str(&text)
                    .with_context(|| format!("{}: not a report", path.display()))?;
                reports.insert(run.to_string(), report);
            }
        }
    }
    for column in &pages::HEADLINE {
        if let Some(card) = column.card {
            let path = root.join(card);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let parsed: ModelCard = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a model card", path.display()))?;
            cards.insert(card.to_string(), parsed);
        }
    }
    let sources = Sources {
        reports: &|run| reports.get(run),
        cards: &|path| cards.get(path),
    };
    let mut out = Vec::new();
    for page in &PAGES {
        let path = root.join(page.path);
        let current = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut text = current.clone();
        for &block in page.blocks {
            let content = pages::render(block, &sources)
                .map_err(|e| anyhow::anyhow!("{}, block {}: {e}", page.path, block.name()))?;
            text = pages::splice(&text, block, &content)
                .map_err(|e| anyhow::anyhow!("{}: {e}", page.path))?;
        }
        out.push((path, current, text));
    }
    Ok(out)
}

pub fn run(args: &PagesArgs) -> Result<()> {
    let pages = generate(&args.root)?;
    let stale: Vec<String> = pages
        .iter()
        .filter(|(_, current, text)| current != text)
        .map(|(path, _, _)| path.display().to_string())
        .collect();
    if args.check {
        if !stale.is_empty() {
            bail!(
                "not what the runs' reports give (run `advdrop pages`): {}",
                stale.join(", ")
            );
        }
        eprintln!("{} pages are what their reports give", pages.len());
        return Ok(());
    }
    for (path, current, text) in &pages {
        if current != text {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("rewrote {}", path.display());
        }
    }
    if stale.is_empty() {
        eprintln!("{} pages already what their reports give", pages.len());
    }
    Ok(())
}
