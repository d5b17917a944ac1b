//! The `advdrop` command line (native only): see `advdrop --help`.

#[cfg(not(target_family = "wasm"))]
fn main() -> std::process::ExitCode {
    match advdrop::cli::main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(target_family = "wasm")]
fn main() {}
