//! `cargo xtask lint`: formatting, clippy, rustdoc and the [tidy] checks.
//!
//! Every check runs even when an earlier one fails, so one run lists every problem; the
//! command fails at the end if any check did.

use anyhow::{bail, Result};
use xshell::{cmd, Shell};

use crate::tidy;

/// `cargo xtask lint` (takes no arguments).
#[derive(Debug)]
pub(crate) struct Lint;

impl Lint {
    /// Parses the arguments after `lint`.
    pub(crate) fn parse(args: &[String]) -> Result<Lint> {
        match args.first() {
            Some(arg) => Err(crate::unexpected_arg("lint", arg)),
            None => Ok(Lint),
        }
    }

    /// Runs every check, then fails naming the ones that failed.
    pub(crate) fn run(self, sh: &Shell) -> Result<()> {
        crate::require_cargo_tool(sh, "fmt", "rustfmt")?;
        crate::require_cargo_tool(sh, "clippy", "clippy")?;

        let mut failed = Vec::new();
        if cmd!(sh, "cargo fmt --all --check").run().is_err() {
            failed.push("rustfmt (run `cargo fmt --all` to fix)");
        }
        if cmd!(sh, "cargo clippy --workspace --all-targets -- -D warnings")
            .run()
            .is_err()
        {
            failed.push("clippy");
        }
        let rustdocflags = crate::extend_flags(sh, "RUSTDOCFLAGS", "-D warnings");
        let doc = cmd!(sh, "cargo doc --workspace --no-deps");
        if crate::run_with_env(doc, &[("RUSTDOCFLAGS", rustdocflags)]).is_err() {
            failed.push("rustdoc");
        }

        eprintln!("$ tidy (xtask/src/tidy.rs)");
        let violations = tidy::check(&sh.current_dir())?;
        for violation in &violations {
            eprintln!("{violation}");
        }
        if !violations.is_empty() {
            eprintln!("tidy: {} violation(s)", violations.len());
            failed.push("tidy");
        }

        if !failed.is_empty() {
            bail!("`cargo xtask lint` failed: {}", failed.join(", "));
        }
        eprintln!("lint: all checks passed");
        Ok(())
    }
}
