//! `cargo xtask test`: the whole test suite, in the order CI runs it.

use anyhow::{Context, Result};
use xshell::{cmd, Shell};

use crate::loom::Loom;

/// `cargo xtask test` (takes no arguments).
#[derive(Debug)]
pub(crate) struct Test;

impl Test {
    /// Parses the arguments after `test`.
    pub(crate) fn parse(args: &[String]) -> Result<Test> {
        match args.first() {
            Some(arg) => Err(crate::unexpected_arg("test", arg)),
            None => Ok(Test),
        }
    }

    /// Unit, integration, example and bench-as-test targets, then doc tests, then every
    /// loom model at the default preemption bound.
    pub(crate) fn run(self, sh: &Shell) -> Result<()> {
        cmd!(sh, "cargo test --workspace --all-targets")
            .run()
            .context("`cargo xtask test`: tests failed (see the output above)")?;
        cmd!(sh, "cargo test --workspace --doc")
            .run()
            .context("`cargo xtask test`: doc tests failed (see the output above)")?;
        Loom::default()
            .run(sh)
            .context("`cargo xtask test`: the loom suite failed")
    }
}
