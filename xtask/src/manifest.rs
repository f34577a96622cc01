//! The workspace's crates and the little of their `Cargo.toml` that xtask needs, read
//! with a line parser (a TOML library would be one more dependency to build).

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};

/// A crate under `crates/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Crate {
    /// The directory name under `crates/` (`core`, `bounded-buffer`): what the command
    /// line takes and what benchmark groups are prefixed with.
    pub(crate) dir_name: String,
    /// The crate's directory.
    pub(crate) path: PathBuf,
    /// `[package] name`, what `cargo -p` takes.
    pub(crate) package: String,
    /// The text of its `Cargo.toml`.
    pub(crate) manifest: String,
}

impl Crate {
    /// Reads the crate in `dir`, which must hold a `Cargo.toml` with a package name.
    pub(crate) fn read(dir: &Path) -> Result<Crate> {
        let manifest_path = dir.join("Cargo.toml");
        let manifest = fs::read_to_string(&manifest_path)
            .with_context(|| format!("cannot read {}", manifest_path.display()))?;
        let Some(package) = package_name(&manifest) else {
            bail!("{} has no `[package] name`", manifest_path.display());
        };
        let dir_name = dir
            .file_name()
            .and_then(|name| name.to_str())
            .with_context(|| format!("{} is not a UTF-8 directory name", dir.display()))?
            .to_owned();
        Ok(Crate {
            dir_name,
            path: dir.to_path_buf(),
            package,
            manifest,
        })
    }

    /// The crate's benchmark targets: the `[[bench]]` names plus, unless
    /// `autobenches = false`, what cargo discovers in `benches/` (`*.rs`, `*/main.rs`).
    pub(crate) fn bench_targets(&self) -> Vec<String> {
        let mut names = bench_names(&self.manifest);
        if !autobenches_disabled(&self.manifest) {
            for name in discovered_benches(&self.path.join("benches")) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }
}

/// Every crate under `<root>/crates/` (directories with a `Cargo.toml`), by directory name.
pub(crate) fn workspace_crates(root: &Path) -> Result<Vec<Crate>> {
    let crates_dir = root.join("crates");
    let entries = fs::read_dir(&crates_dir)
        .with_context(|| format!("cannot list {}", crates_dir.display()))?;
    let mut dirs = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.join("Cargo.toml").is_file() {
            dirs.push(path);
        }
    }
    dirs.sort();
    dirs.iter().map(|dir| Crate::read(dir)).collect()
}

/// Picks the crate whose directory name is `name`, or explains which names exist.
pub(crate) fn find_crate(crates: Vec<Crate>, name: &str) -> Result<Crate> {
    let known: Vec<String> = crates.iter().map(|c| c.dir_name.clone()).collect();
    match crates.into_iter().find(|c| c.dir_name == name) {
        Some(found) => Ok(found),
        None => bail!(
            "no crate `{name}` under crates/ (CRATE is a directory name; known: {})",
            known.join(", ")
        ),
    }
}

/// `[package] name` of a manifest.
pub(crate) fn package_name(manifest: &str) -> Option<String> {
    sections(manifest)
        .find(|(header, key, _)| *header == "[package]" && *key == "name")
        .and_then(|(_, _, value)| string_value(value))
}

/// The `name`s of the `[[bench]]` tables of a manifest.
pub(crate) fn bench_names(manifest: &str) -> Vec<String> {
    sections(manifest)
        .filter(|(header, key, _)| *header == "[[bench]]" && *key == "name")
        .filter_map(|(_, _, value)| string_value(value))
        .collect()
}

/// What `[package.metadata.miri]` asks of `cargo xtask miri`: the integration tests that
/// run the crate's unsafe code, and the `MIRIFLAGS` they need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MiriPlan {
    pub(crate) tests: Vec<String>,
    pub(crate) flags: String,
}

/// The crate's `[package.metadata.miri]` table, if it has one.
pub(crate) fn miri_plan(manifest: &str) -> Option<MiriPlan> {
    const HEADER: &str = "[package.metadata.miri]";
    if !manifest.lines().any(|line| line.trim() == HEADER) {
        return None;
    }
    let value = |wanted: &str| {
        sections(manifest)
            .find(|(header, key, _)| *header == HEADER && *key == wanted)
            .map(|(_, _, value)| value)
    };
    Some(MiriPlan {
        tests: value("tests").map(string_list).unwrap_or_default(),
        flags: value("flags").and_then(string_value).unwrap_or_default(),
    })
}

/// The strings of a one-line TOML array, `["a", "b"]`.
fn string_list(raw: &str) -> Vec<String> {
    let inner = raw
        .trim()
        .strip_prefix('[')
        .and_then(|rest| rest.split(']').next())
        .unwrap_or("");
    inner
        .split(',')
        .filter_map(|item| string_value(item.trim()))
        .collect()
}

/// Whether `[package]` says `autobenches = false`.
fn autobenches_disabled(manifest: &str) -> bool {
    sections(manifest).any(|(header, key, value)| {
        header == "[package]" && key == "autobenches" && value.trim() == "false"
    })
}

/// `(table header, key, raw value)` for every `key = value` line, under the header of
/// the table it is in (`""` before the first header). Comments and blank lines are skipped.
fn sections(manifest: &str) -> impl Iterator<Item = (&str, &str, &str)> {
    let mut header = "";
    manifest.lines().filter_map(move |line| {
        let line = line.trim();
        if line.starts_with('[') {
            header = line.split('#').next().unwrap_or(line).trim();
            return None;
        }
        if line.starts_with('#') {
            return None;
        }
        let (key, value) = line.split_once('=')?;
        Some((header, key.trim(), value.trim()))
    })
}

/// The contents of a basic TOML string `"…"` (no escapes needed for names).
fn string_value(raw: &str) -> Option<String> {
    let rest = raw.strip_prefix('"')?;
    let end = rest.find('"')?;
    Some(rest[..end].to_owned())
}

/// The bench targets cargo would discover in a `benches/` directory.
fn discovered_benches(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let is_bench = if path.is_dir() {
                path.join("main.rs").is_file()
            } else {
                path.extension().is_some_and(|ext| ext == "rs")
            };
            let stem = path.file_stem()?.to_str()?;
            is_bench.then(|| stem.to_owned())
        })
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
# A comment with name = "not-this"
[package]
name = "patterns-bounded-buffer" # trailing comment
version.workspace = true
autobenches = false

[lib]
name = "bounded_buffer"

[dependencies]
patterns-core = { workspace = true }

[[bench]]
name = "spsc"
harness = false

[[bench]]
name = "mpmc"
harness = false
"#;

    #[test]
    fn reads_the_package_name_not_the_lib_name() {
        assert_eq!(
            package_name(MANIFEST).as_deref(),
            Some("patterns-bounded-buffer")
        );
        assert_eq!(package_name("[lib]\nname = \"x\"\n"), None);
    }

    #[test]
    fn reads_bench_tables_and_autobenches() {
        assert_eq!(bench_names(MANIFEST), ["spsc", "mpmc"]);
        assert!(autobenches_disabled(MANIFEST));
        assert!(!autobenches_disabled("[package]\nname = \"a\"\n"));
        assert!(bench_names("[package]\nname = \"a\"\n").is_empty());
    }

    #[test]
    fn reads_the_miri_table() {
        let manifest = "[package]\nname = \"a\"\n\n[package.metadata.miri]\n# why\n\
                        tests = [\"channel\", \"select\"]\nflags = \"-Zmiri-tree-borrows\"\n";
        assert_eq!(
            miri_plan(manifest),
            Some(MiriPlan {
                tests: vec!["channel".to_owned(), "select".to_owned()],
                flags: "-Zmiri-tree-borrows".to_owned(),
            })
        );
        assert_eq!(miri_plan(MANIFEST), None);
    }

    #[test]
    fn reads_this_workspace() {
        let crates = workspace_crates(&crate::project_root()).unwrap();
        let core = find_crate(crates, "core").unwrap();
        assert_eq!(core.package, "patterns-core");
        let err = find_crate(Vec::new(), "nope").unwrap_err().to_string();
        assert!(err.contains("no crate `nope`"), "{err}");
    }
}
