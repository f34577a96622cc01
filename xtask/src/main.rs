//! Workspace automation, run as `cargo xtask <command>` (the alias lives in
//! `.cargo/config.toml`).
//!
//! * `cargo xtask test` — every unit, integration and doc test, then the loom suite.
//! * `cargo xtask loom [CRATE] [--deep]` — the loom models in `crates/*/tests/loom.rs`.
//! * `cargo xtask miri [CRATE]` — the tests that run `unsafe` code, under Miri (nightly).
//! * `cargo xtask lint` — rustfmt, clippy and rustdoc with `-D warnings`, then the tidy
//!   checks of [`tidy`] (which `cargo test` also runs).
//! * `cargo xtask bench [CRATE] [--quick|--smoke]` — the criterion benchmarks, summarised
//!   in `target/bench-report.md`.
//!
//! Every command echoes what it runs (`$ cargo …` on stderr) and exits non-zero, with an
//! `error:` line saying what failed, if anything did. The crate follows the cargo-xtask
//! convention: a plain binary with a hand-rolled argument `match`, one module per
//! subcommand, and as few dependencies as possible (anyhow, xshell, serde_json) so that
//! it builds quickly.

mod bench;
mod lint;
mod loom;
mod manifest;
mod miri;
mod report;
mod test;
mod tidy;

use std::{
    env,
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{bail, Context, Result};
use xshell::{Cmd, Shell};

/// The text `cargo xtask help` prints, and every usage error ends with.
const USAGE: &str = "\
Usage: cargo xtask <COMMAND> [ARGS]

Commands:
  test                             cargo test --workspace (all targets, then doc tests),
                                   then the loom suite
  loom [CRATE] [--deep]            loom models (tests/loom.rs) of every crate, or of CRATE
  miri [CRATE]                     the tests of [package.metadata.miri] under Miri (needs
                                   nightly: rustup toolchain install nightly --component miri)
  lint                             rustfmt --check, clippy and rustdoc with -D warnings, tidy
  bench [CRATE] [--quick|--smoke]  criterion benchmarks, summarised in target/bench-report.md
  help                             print this text

CRATE is a directory name under crates/, e.g. `core` or `bounded-buffer`.

Options:
  --deep    loom: explore with LOOM_MAX_PREEMPTIONS=3 (the default bound is 2)
  --quick   bench: criterion's --quick (stop sampling once the estimate is stable)
  --smoke   bench: criterion's --test (run every benchmark once, measure nothing)

Environment:
  LOOM_MAX_PREEMPTIONS  loom's preemption bound; overrides the default and --deep
  CARGO_TARGET_DIR      where builds, target/loom and bench-report.md go (default: target)
  RUSTFLAGS             extended (not replaced) by `loom`; RUSTDOCFLAGS likewise by `lint`,
                        MIRIFLAGS by `miri`
";

/// Runs [`try_main`] and prints its error, if any, as `error: …` plus its causes.
///
/// `fn main() -> anyhow::Result<()>` would print the error's `Debug` form instead, which
/// carries a full stack backtrace whenever `RUST_BACKTRACE` is set: noise
/// around a message that is meant to say what failed and what to do about it.
fn main() -> ExitCode {
    match try_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Dispatches on the subcommand.
fn try_main() -> Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    let sh = Shell::new()?;
    sh.change_dir(project_root());

    let (command, rest) = match args.split_first() {
        Some((command, rest)) => (command.as_str(), rest),
        None => ("help", &[][..]),
    };
    match command {
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        "test" => test::Test::parse(rest)?.run(&sh),
        "loom" => loom::Loom::parse(rest)?.run(&sh),
        "miri" => miri::Miri::parse(rest)?.run(&sh),
        "lint" => lint::Lint::parse(rest)?.run(&sh),
        "bench" => bench::Bench::parse(rest)?.run(&sh, &args),
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

/// The workspace root: the parent of this crate's directory.
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one directory below the workspace root")
        .to_path_buf()
}

/// The error for an argument that `cargo xtask <command>` does not take.
pub(crate) fn unexpected_arg(command: &str, arg: &str) -> anyhow::Error {
    let what = if arg.starts_with('-') {
        "flag"
    } else {
        "argument"
    };
    anyhow::anyhow!("unknown {what} `{arg}` for `cargo xtask {command}`\n\n{USAGE}")
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` (relative to the workspace root, as
/// cargo reads it when run there) or `<root>/target`.
pub(crate) fn target_dir(sh: &Shell) -> PathBuf {
    match sh.var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => sh.current_dir().join(dir),
        _ => sh.current_dir().join("target"),
    }
}

/// `$name` with `extra` appended (space-separated), or just `extra` when unset: how the
/// commands extend `RUSTFLAGS` / `RUSTDOCFLAGS` rather than clobber the caller's.
pub(crate) fn extend_flags(sh: &Shell, name: &str, extra: &str) -> String {
    match sh.var(name) {
        Ok(existing) if !existing.trim().is_empty() => format!("{} {extra}", existing.trim()),
        _ => extra.to_owned(),
    }
}

/// Runs `cmd` with the environment variables `envs`, echoing it first as one line a
/// reader can paste into a shell: `$ NAME="value" … cargo …`. (xshell's own echo leaves
/// the environment out.)
pub(crate) fn run_with_env(cmd: Cmd<'_>, envs: &[(&str, String)]) -> Result<()> {
    let mut line = String::from("$ ");
    for (name, value) in envs {
        line.push_str(&format!("{name}={} ", shell_quote(value)));
    }
    eprintln!("{line}{cmd}");
    let cmd = envs
        .iter()
        .fold(cmd, |cmd, (name, value)| cmd.env(name, value));
    cmd.quiet().run()?;
    Ok(())
}

/// Quotes `value` for a POSIX shell when it needs it.
pub(crate) fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c));
    if plain {
        value.to_owned()
    } else {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// Fails with an installation hint unless `cargo <tool> --version` works.
pub(crate) fn require_cargo_tool(sh: &Shell, tool: &str, component: &str) -> Result<()> {
    let probe = xshell::cmd!(sh, "cargo {tool} --version")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run();
    probe.with_context(|| {
        format!(
            "`cargo {tool}` is not installed: install it with `rustup component add {component}`"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn shell_quote_leaves_plain_words_alone() {
        assert_eq!(shell_quote("2"), "2");
        assert_eq!(
            shell_quote("/work/main/target/loom"),
            "/work/main/target/loom"
        );
        assert_eq!(shell_quote("--cfg loom"), "\"--cfg loom\"");
        assert_eq!(shell_quote(""), "\"\"");
        assert_eq!(shell_quote("a\"b"), "\"a\\\"b\"");
    }
}
