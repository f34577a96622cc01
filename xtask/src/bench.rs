//! `cargo xtask bench [CRATE] [--quick|--smoke]`: run the criterion benchmarks and write
//! `target/bench-report.md` (see [`crate::report`]).
//!
//! It runs the comparison suite of the `benches` package and the benchmarks each crate
//! under `crates/` declares itself. With CRATE, criterion's filter is `^CRATE/` (groups
//! are named `<crate>/<case>`) and, of the crates' own benchmarks, only CRATE's run.
//! Only bench targets are selected (`--bench NAME`), never `--benches`, so criterion's
//! flags never reach a libtest harness that would reject them.

use std::{
    fs,
    path::Path,
    time::{Duration, SystemTime},
};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::{
    manifest::{self, Crate},
    report::{self, Header, Mode},
};

/// `cargo xtask bench [CRATE] [--quick|--smoke]`.
#[derive(Debug)]
pub(crate) struct Bench {
    /// Only this crate's benchmarks (a directory name under `crates/`).
    krate: Option<String>,
    /// How criterion samples.
    mode: Mode,
}

/// One `cargo bench` invocation: a package and its bench targets.
#[derive(Debug)]
struct Run {
    package: String,
    targets: Vec<String>,
}

impl Bench {
    /// Parses the arguments after `bench`.
    pub(crate) fn parse(args: &[String]) -> Result<Bench> {
        let mut krate = None;
        let mut mode = None;
        for arg in args {
            let flag_mode = match arg.as_str() {
                "--quick" => Mode::Quick,
                "--smoke" => Mode::Smoke,
                _ if arg.starts_with('-') || krate.is_some() => {
                    return Err(crate::unexpected_arg("bench", arg))
                }
                _ => {
                    krate = Some(arg.clone());
                    continue;
                }
            };
            if mode.is_some_and(|mode| mode != flag_mode) {
                bail!(
                    "`--quick` and `--smoke` exclude each other\n\n{}",
                    crate::USAGE
                );
            }
            mode = Some(flag_mode);
        }
        Ok(Bench {
            krate,
            mode: mode.unwrap_or(Mode::Full),
        })
    }

    /// Runs the benchmarks, then writes and names the report. `argv` is the xtask command
    /// line, for the report's header.
    pub(crate) fn run(self, sh: &Shell, argv: &[String]) -> Result<()> {
        let root = sh.current_dir();
        let runs = self.runs(&root)?;
        let filter = self.krate.as_ref().map(|name| format!("^{name}/"));
        let criterion_home = match sh.var("CRITERION_HOME") {
            Ok(home) if !home.is_empty() => root.join(home),
            _ => crate::target_dir(sh).join("criterion"),
        };
        let envs = [("CRITERION_HOME", criterion_home.display().to_string())];
        let mut criterion_args: Vec<&str> = filter.iter().map(String::as_str).collect();
        criterion_args.extend(self.mode.criterion_flag());

        let started = SystemTime::now();
        let mut ran = Vec::new();
        for run in &runs {
            let (package, targets) = (&run.package, bench_args(&run.targets));
            let criterion_args = &criterion_args;
            let bench = cmd!(
                sh,
                "cargo bench -p {package} {targets...} -- {criterion_args...}"
            );
            ran.push(bench.to_string());
            crate::run_with_env(bench, &envs)
                .with_context(|| format!("the benchmarks of `{package}` failed"))?;
        }

        let header = Header {
            date: utc_now(sh),
            machine: machine(sh),
            mode: self.mode,
            command: std::iter::once("cargo xtask".to_owned())
                .chain(argv.iter().map(|arg| crate::shell_quote(arg)))
                .collect::<Vec<_>>()
                .join(" "),
            runs: ran,
            filter: filter.clone(),
        };
        let text = if self.mode == Mode::Smoke {
            let mut names = Vec::new();
            for run in &runs {
                let (package, targets) = (&run.package, bench_args(&run.targets));
                let filter = filter.as_slice();
                let list = cmd!(
                    sh,
                    "cargo bench -p {package} {targets...} -- --list {filter...}"
                );
                eprintln!("$ {list}");
                let output = list
                    .env("CRITERION_HOME", &criterion_home)
                    .read()
                    .with_context(|| format!("cannot list the benchmarks of `{package}`"))?;
                names.extend(report::parse_list(&output));
            }
            report::render_smoke(&header, &names)
        } else {
            // A second of slack for file systems with coarse timestamps; nothing is written
            // in the second before the first benchmark, which has to be compiled first.
            let since = started - Duration::from_secs(1);
            let prefix = self.krate.as_ref().map(|name| format!("{name}/"));
            let measurements = report::collect(&criterion_home, Some(since), prefix.as_deref())?;
            if measurements.is_empty() {
                eprintln!(
                    "bench: warning: no results under {} were written by this run",
                    criterion_home.display()
                );
            }
            report::render(&header, &measurements)
        };

        let path = crate::target_dir(sh).join("bench-report.md");
        write_report(&path, &text)?;
        eprintln!("bench: report written to {}", path.display());
        Ok(())
    }

    /// What to run: the `benches` package's suite, then each selected crate's own.
    fn runs(&self, root: &Path) -> Result<Vec<Run>> {
        let crates = manifest::workspace_crates(root)?;
        let own: Vec<Crate> = match &self.krate {
            Some(name) => vec![manifest::find_crate(crates, name)?],
            None => crates,
        };
        let mut runs = Vec::new();
        let benches_dir = root.join("benches");
        if benches_dir.join("Cargo.toml").is_file() {
            let suite = Crate::read(&benches_dir)?;
            let targets = suite.bench_targets();
            if !targets.is_empty() {
                runs.push(Run {
                    package: suite.package,
                    targets,
                });
            }
        }
        for krate in own {
            let targets = krate.bench_targets();
            if !targets.is_empty() {
                runs.push(Run {
                    package: krate.package,
                    targets,
                });
            }
        }
        if runs.is_empty() {
            bail!("nothing to benchmark: no bench targets in benches/ or crates/*");
        }
        Ok(runs)
    }
}

/// `--bench a --bench b`.
fn bench_args(targets: &[String]) -> Vec<String> {
    targets
        .iter()
        .flat_map(|target| ["--bench".to_owned(), target.clone()])
        .collect()
}

/// The current date and time in UTC, from `date`; the report is still written without it.
fn utc_now(sh: &Shell) -> String {
    cmd!(sh, "date -u '+%Y-%m-%d %H:%M:%S UTC'")
        .quiet()
        .ignore_stderr()
        .read()
        .unwrap_or_else(|_| "date unknown".to_owned())
}

/// `2 cores (nproc), <model name>`, from `nproc` and `/proc/cpuinfo` where they exist.
fn machine(sh: &Shell) -> String {
    let cores = cmd!(sh, "nproc")
        .quiet()
        .ignore_stderr()
        .read()
        .ok()
        .and_then(|n| n.trim().parse::<usize>().ok())
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from));
    let model = fs::read_to_string("/proc/cpuinfo").ok().and_then(|info| {
        info.lines()
            .find(|line| line.starts_with("model name"))
            .and_then(|line| line.split_once(':'))
            .map(|(_, model)| model.trim().to_owned())
    });
    let cores = cores.map_or_else(
        || "unknown cores".to_owned(),
        |n| format!("{n} cores (nproc)"),
    );
    match model {
        Some(model) => format!("{cores}, {model}"),
        None => cores,
    }
}

fn write_report(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_crate_and_mode() {
        let bench = Bench::parse(&args(&["bounded-buffer", "--quick"])).unwrap();
        assert_eq!(bench.krate.as_deref(), Some("bounded-buffer"));
        assert_eq!(bench.mode, Mode::Quick);
        assert_eq!(Bench::parse(&args(&["--smoke"])).unwrap().mode, Mode::Smoke);
        assert_eq!(Bench::parse(&[]).unwrap().mode, Mode::Full);
        assert!(Bench::parse(&args(&["--quick", "--smoke"])).is_err());
        assert!(Bench::parse(&args(&["--fast"])).is_err());
        assert!(Bench::parse(&args(&["a", "b"])).is_err());
    }

    #[test]
    fn selects_bench_targets_only() {
        assert_eq!(
            bench_args(&args(&["compare", "spsc"])),
            ["--bench", "compare", "--bench", "spsc"]
        );
        assert_eq!(Mode::Quick.criterion_flag(), Some("--quick"));
        assert_eq!(Mode::Smoke.criterion_flag(), Some("--test"));
        assert_eq!(Mode::Full.criterion_flag(), None);
    }
}
