//! `cargo xtask miri [CRATE]`: the tests that run the workspace's `unsafe` code, under
//! [Miri](https://github.com/rust-lang/miri), which checks what loom cannot — aliasing,
//! use after free, uninitialized reads — on the interleavings a real run takes.
//!
//! A crate opts in with a `[package.metadata.miri]` table in its `Cargo.toml`: `tests`,
//! the integration tests to run (Miri is some thousand times slower than a release build,
//! so the ones that drive the unsafe paths, not the stress tests), and `flags`, the
//! `MIRIFLAGS` they need, each with a comment saying why. A test that Miri cannot run
//! (one that reads `/proc`, say) carries `#[cfg_attr(miri, ignore = "why")]`. Miri needs
//! a nightly toolchain; CI does not run it.

use anyhow::{bail, Result};
use xshell::{cmd, Shell};

use crate::manifest::{self, Crate, MiriPlan};

/// `cargo xtask miri [CRATE]`.
#[derive(Debug, Default)]
pub(crate) struct Miri {
    /// Only this crate (a directory name under `crates/`).
    krate: Option<String>,
}

impl Miri {
    /// Parses the arguments after `miri`.
    pub(crate) fn parse(args: &[String]) -> Result<Miri> {
        let mut miri = Miri::default();
        for arg in args {
            if arg.starts_with('-') || miri.krate.is_some() {
                return Err(crate::unexpected_arg("miri", arg));
            }
            miri.krate = Some(arg.clone());
        }
        Ok(miri)
    }

    /// Runs every selected crate's plan, then fails if any of them failed.
    pub(crate) fn run(self, sh: &Shell) -> Result<()> {
        let has_nightly = cmd!(sh, "rustc +nightly --version")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()
            .is_ok();
        let has_miri = has_nightly
            && cmd!(sh, "cargo +nightly miri --version")
                .quiet()
                .ignore_stdout()
                .ignore_stderr()
                .run()
                .is_ok();
        if !has_miri {
            bail!(
                "Miri is not installed: `cargo xtask miri` needs a nightly toolchain with it; {}",
                if has_nightly {
                    "add it to the nightly you have with `rustup component add miri --toolchain nightly`"
                } else {
                    "install one with `rustup toolchain install nightly --component miri`"
                }
            );
        }
        let mut failed = Vec::new();
        for (krate, plan) in self.selected(sh)? {
            let package = &krate.package;
            let tests = plan.tests.iter().flat_map(|test| ["--test", test.as_str()]);
            // Every file runs even when one fails: Miri aborts a test binary at its first
            // error, and cargo would otherwise skip the files after it.
            let test = cmd!(
                sh,
                "cargo +nightly miri test --no-fail-fast -p {package} {tests...}"
            );
            let envs = [(
                "MIRIFLAGS",
                crate::extend_flags(sh, "MIRIFLAGS", &plan.flags),
            )];
            if crate::run_with_env(test, &envs).is_err() {
                failed.push(package.clone());
            }
        }
        if !failed.is_empty() {
            bail!("Miri found errors in {} (see above)", failed.join(", "));
        }
        Ok(())
    }

    /// The crate named on the command line, or every crate with a Miri plan.
    fn selected(&self, sh: &Shell) -> Result<Vec<(Crate, MiriPlan)>> {
        let crates = manifest::workspace_crates(&sh.current_dir())?;
        let planned = |krate: Crate| {
            let plan = manifest::miri_plan(&krate.manifest)?;
            Some((krate, plan))
        };
        match &self.krate {
            None => Ok(crates.into_iter().filter_map(planned).collect()),
            Some(name) => {
                let with_plans: Vec<String> = crates
                    .iter()
                    .filter(|c| manifest::miri_plan(&c.manifest).is_some())
                    .map(|c| c.dir_name.clone())
                    .collect();
                match planned(manifest::find_crate(crates, name)?) {
                    Some(selected) => Ok(vec![selected]),
                    None => bail!(
                        "crates/{name} has no [package.metadata.miri] table (crates with one: {})",
                        with_plans.join(", ")
                    ),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_an_optional_crate() {
        assert!(Miri::parse(&[]).unwrap().krate.is_none());
        let miri = Miri::parse(&args(&["worker-pool"])).unwrap();
        assert_eq!(miri.krate.as_deref(), Some("worker-pool"));
        let err = Miri::parse(&args(&["--deep"])).unwrap_err().to_string();
        assert!(err.contains("unknown flag `--deep`"), "{err}");
        let err = Miri::parse(&args(&["a", "b"])).unwrap_err().to_string();
        assert!(err.contains("unknown argument `b`"), "{err}");
    }
}
