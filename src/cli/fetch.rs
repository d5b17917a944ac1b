//! `advdrop fetch-mnist`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::Cli;
use crate::data::fetch::{Fetched, fetch_mnist};

#[derive(Args, Debug)]
pub struct FetchArgs {
    /// Copy the four .gz files from this directory instead of downloading them.
    #[arg(long)]
    pub from: Option<PathBuf>,
}

pub fn run(cli: &Cli, args: &FetchArgs) -> Result<()> {
    for (name, how) in fetch_mnist(&cli.mnist, args.from.as_deref())? {
        let how = match how {
            Fetched::AlreadyPresent => "already present, md5 ok".to_string(),
            Fetched::Copied(p) => format!("copied from {}, md5 ok", p.display()),
            Fetched::Downloaded(url) => format!("downloaded from {url}, md5 ok"),
        };
        eprintln!("{name}.gz: {how}");
    }
    eprintln!("MNIST is in {}", cli.mnist.display());
    Ok(())
}
