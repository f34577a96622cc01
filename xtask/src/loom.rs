//! `cargo xtask loom [CRATE] [--deep]`: model-check every `crates/*/tests/loom.rs`.
//!
//! Each crate runs on its own (`cargo test -p <package> --test loom --release`), never
//! with `--workspace`: the `benches` crate pulls in peer crates that need not build
//! under `--cfg loom`. The loom build gets its own target directory (`target/loom`) so
//! its `RUSTFLAGS` do not invalidate the normal build.

use anyhow::{bail, Result};
use xshell::{cmd, Shell};

use crate::manifest::{self, Crate};

/// The preemption bound when neither `LOOM_MAX_PREEMPTIONS` nor `--deep` says otherwise.
const DEFAULT_PREEMPTIONS: usize = 2;
/// The preemption bound of `--deep`.
const DEEP_PREEMPTIONS: usize = 3;

/// `cargo xtask loom [CRATE] [--deep]`.
#[derive(Debug, Default)]
pub(crate) struct Loom {
    /// Only this crate (a directory name under `crates/`).
    krate: Option<String>,
    /// Explore with [`DEEP_PREEMPTIONS`] unless the environment sets a bound.
    deep: bool,
}

impl Loom {
    /// Parses the arguments after `loom`.
    pub(crate) fn parse(args: &[String]) -> Result<Loom> {
        let mut loom = Loom::default();
        for arg in args {
            match arg.as_str() {
                "--deep" => loom.deep = true,
                _ if arg.starts_with('-') || loom.krate.is_some() => {
                    return Err(crate::unexpected_arg("loom", arg))
                }
                _ => loom.krate = Some(arg.clone()),
            }
        }
        Ok(loom)
    }

    /// Runs the models of every selected crate, then fails if any of them failed.
    pub(crate) fn run(self, sh: &Shell) -> Result<()> {
        let crates = self.selected_crates(sh)?;
        if crates.is_empty() {
            eprintln!("loom: no crate has a tests/loom.rs; nothing to check");
            return Ok(());
        }

        let (preemptions, why) = match sh.var("LOOM_MAX_PREEMPTIONS") {
            Ok(value) => match value.trim().parse::<usize>() {
                Ok(bound) => (bound, "from the environment"),
                Err(_) => bail!("LOOM_MAX_PREEMPTIONS=`{value}` is not a number"),
            },
            Err(_) if self.deep => (DEEP_PREEMPTIONS, "--deep"),
            Err(_) => (DEFAULT_PREEMPTIONS, "default; --deep for 3"),
        };
        eprintln!("loom: LOOM_MAX_PREEMPTIONS={preemptions} ({why})");

        let envs = [
            (
                "RUSTFLAGS",
                crate::extend_flags(sh, "RUSTFLAGS", "--cfg loom -D warnings"),
            ),
            ("LOOM_MAX_PREEMPTIONS", preemptions.to_string()),
            (
                "CARGO_TARGET_DIR",
                crate::target_dir(sh).join("loom").display().to_string(),
            ),
        ];
        let mut failed = Vec::new();
        for krate in &crates {
            let package = &krate.package;
            let test = cmd!(sh, "cargo test -p {package} --test loom --release");
            if crate::run_with_env(test, &envs).is_err() {
                eprintln!("\n{}", rerun_recipe(package, &envs));
                failed.push(package.as_str());
            }
        }
        if !failed.is_empty() {
            bail!(
                "loom models failed in {} (rerun recipe above)",
                failed.join(", ")
            );
        }
        Ok(())
    }

    /// The crate named on the command line, or every crate with a `tests/loom.rs`.
    fn selected_crates(&self, sh: &Shell) -> Result<Vec<Crate>> {
        let crates = manifest::workspace_crates(&sh.current_dir())?;
        let with_models: Vec<String> = crates
            .iter()
            .filter(|c| has_models(c))
            .map(|c| c.dir_name.clone())
            .collect();
        match &self.krate {
            None => Ok(crates.into_iter().filter(has_models).collect()),
            Some(name) => {
                let krate = manifest::find_crate(crates, name)?;
                if !has_models(&krate) {
                    bail!(
                        "crates/{name} has no tests/loom.rs (crates with loom models: {})",
                        if with_models.is_empty() {
                            "none".to_owned()
                        } else {
                            with_models.join(", ")
                        }
                    );
                }
                Ok(vec![krate])
            }
        }
    }
}

/// Whether the crate has loom models.
fn has_models(krate: &Crate) -> bool {
    krate.path.join("tests").join("loom.rs").is_file()
}

/// How to replay a failure of `package`'s models with loom's diagnostics switched on.
/// `envs` are the variables of the failed run, so the rerun reuses its build.
fn rerun_recipe(package: &str, envs: &[(&str, String)]) -> String {
    let value = |name: &str| {
        envs.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| crate::shell_quote(value))
            .unwrap_or_default()
    };
    format!(
        "loom: the models of `{package}` failed. To replay one with a trace, take its name from \
         the `---- <test name> stdout ----` lines above and run:\n\n    \
         LOOM_MAX_PREEMPTIONS={preemptions} LOOM_LOG=trace LOOM_LOCATION=1 \
         RUSTFLAGS={rustflags} CARGO_TARGET_DIR={target} \
         cargo test -p {package} --test loom --release -- <test name> --nocapture\n\n\
         LOOM_LOG=trace prints every step of every thread in each interleaving; \
         LOOM_LOCATION=1 adds the source location of each synchronization.\n",
        preemptions = value("LOOM_MAX_PREEMPTIONS"),
        rustflags = value("RUSTFLAGS"),
        target = value("CARGO_TARGET_DIR"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_crate_and_deep() {
        let loom = Loom::parse(&args(&["bounded-buffer", "--deep"])).unwrap();
        assert_eq!(loom.krate.as_deref(), Some("bounded-buffer"));
        assert!(loom.deep);
        assert!(Loom::parse(&args(&["--shallow"])).is_err());
        assert!(Loom::parse(&args(&["a", "b"])).is_err());
    }

    #[test]
    fn recipe_names_the_package_and_the_run_s_settings() {
        let envs = [
            ("RUSTFLAGS", "--cfg loom -D warnings".to_owned()),
            ("LOOM_MAX_PREEMPTIONS", "2".to_owned()),
            ("CARGO_TARGET_DIR", "/w/target/loom".to_owned()),
        ];
        let recipe = rerun_recipe("patterns-core", &envs);
        assert!(
            recipe.contains(
                "LOOM_MAX_PREEMPTIONS=2 LOOM_LOG=trace LOOM_LOCATION=1 \
                 RUSTFLAGS=\"--cfg loom -D warnings\" CARGO_TARGET_DIR=/w/target/loom \
                 cargo test -p patterns-core --test loom --release -- <test name> --nocapture"
            ),
            "{recipe}"
        );
    }
}
