//! Tidy: source rules that neither rustc nor clippy can enforce, checked over
//! `crates/**/*.rs` by `cargo xtask lint` and by this module's `#[test] fn tidy()`, so
//! plain `cargo test` enforces them too.
//!
//! 1. **`SAFETY:` comments.** Every `unsafe { … }` block and `unsafe impl` has a comment
//!    containing `SAFETY:` on its own line, within the 3 lines above, or anywhere in the
//!    comment block directly above it (a long, numbered justification).
//! 2. **The sync facade.** Library code (`crates/*/src/**`) reaches `Arc`, `Mutex`,
//!    atomics, threads, `UnsafeCell` and `spin_loop` only through `patterns_core::sync`,
//!    so that one `--cfg loom` build model-checks it: no `std::sync::…` (except
//!    `std::sync::atomic::Ordering`, which loom re-exports unchanged), `std::thread::…`,
//!    `std::cell::UnsafeCell` or `std::hint::spin_loop` (nor their `core::` / `alloc::`
//!    spellings), in paths or in `use` trees, and no prelude `thread_local!` (the
//!    facade's `sync::thread_local!` gives each loom thread its own value). Exempt: the facade itself
//!    (`crates/core/src/sync/`) and `#[cfg(test)]` modules, which never build under loom
//!    (`tests/loom.rs` compiles the library without `cfg(test)`). A line that really needs
//!    std's type says so with a `tidy: allow(std-path)` comment, on it or on the line
//!    above, with the reason.
//! 3. **No sleeping in tests.** `crates/*/tests/**` and `crates/*/examples/**` never call
//!    `thread::sleep`: a test must not order threads by sleeping (use channels, barriers,
//!    or `patterns_core::ManualClock`).
//!
//! The scanner is line-based: it blanks string and char literals and separates comments
//! from code, which is all these rules need.

use std::{
    collections::BTreeSet,
    fmt, fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};

/// One broken rule, printed as `path:line: message`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Violation {
    /// The file, relative to the workspace root.
    path: PathBuf,
    /// 1-based line number.
    line: usize,
    /// What is wrong, and what to do instead.
    message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}

/// The facade directory, exempt from rule 2.
const FACADE: &str = "crates/core/src/sync";
/// The marker that exempts one line from rule 2.
const ALLOW_STD: &str = "tidy: allow(std-path)";

/// Runs every rule over `<root>/crates`, returning the violations sorted by file and line.
pub(crate) fn check(root: &Path) -> Result<Vec<Violation>> {
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files)?;
    files.sort();

    let mut sources = Vec::new();
    for file in files {
        let text =
            fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let relative = file.strip_prefix(root).unwrap_or(&file).to_path_buf();
        sources.push((relative, text));
    }
    let test_modules = out_of_line_test_modules(&sources);

    let mut violations = Vec::new();
    for (path, text) in &sources {
        let lines = scan(text);
        let mut found = safety_comments(&lines);
        // `crates/<name>/<area>/…`
        let area = path
            .components()
            .nth(2)
            .and_then(|c| c.as_os_str().to_str());
        match area {
            Some("src") if !path.starts_with(FACADE) && !is_under(path, &test_modules) => {
                found.extend(std_paths(&lines));
            }
            Some("tests" | "examples") => found.extend(sleeps(&lines)),
            _ => {}
        }
        violations.extend(found.into_iter().map(|(line, message)| Violation {
            path: path.clone(),
            line,
            message,
        }));
    }
    violations.sort();
    Ok(violations)
}

/// Collects every `.rs` file under `dir`, skipping `target` and hidden directories.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err).with_context(|| format!("cannot list {}", dir.display())),
    };
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, out)?;
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Whether `path` is one of `prefixes` or lies below one.
fn is_under(path: &Path, prefixes: &BTreeSet<PathBuf>) -> bool {
    prefixes.iter().any(|prefix| path.starts_with(prefix))
}

/// The files (and module directories) of `#[cfg(test)] mod name;` declarations.
fn out_of_line_test_modules(sources: &[(PathBuf, String)]) -> BTreeSet<PathBuf> {
    let mut modules = BTreeSet::new();
    for (path, text) in sources {
        let lines = scan(text);
        // Where `mod name;` of this file looks: next to lib.rs/main.rs/mod.rs, else in
        // the directory named after the file.
        let Some(parent) = path.parent() else {
            continue;
        };
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let module_dir = if matches!(stem, "lib" | "main" | "mod") {
            parent.to_path_buf()
        } else {
            parent.join(stem)
        };
        for (i, line) in lines.iter().enumerate() {
            if !is_test_only_cfg(&line.code) {
                continue;
            }
            let Some(next) = lines[i + 1..].iter().find(|l| !l.code.trim().is_empty()) else {
                continue;
            };
            if let Some(name) = module_name(&next.code) {
                if next.code.trim_end().ends_with(';') {
                    modules.insert(module_dir.join(format!("{name}.rs")));
                    modules.insert(module_dir.join(name));
                }
            }
        }
    }
    modules
}

/// Whether `code` is a `#[cfg(test)]` or `#[cfg(all(test, …))]` attribute: whatever it
/// gates only exists in unit-test builds.
fn is_test_only_cfg(code: &str) -> bool {
    let Some(predicate) = code
        .trim()
        .strip_prefix("#[cfg(")
        .and_then(|rest| rest.strip_suffix(")]"))
    else {
        return false;
    };
    let predicate = predicate.trim();
    if predicate == "test" {
        return true;
    }
    let Some(all) = predicate
        .strip_prefix("all(")
        .and_then(|rest| rest.strip_suffix(')'))
    else {
        return false;
    };
    let mut depth = 0usize;
    let mut start = 0;
    let mut items = Vec::new();
    for (at, c) in all.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(all[start..at].trim());
                start = at + 1;
            }
            _ => {}
        }
    }
    items.push(all[start..].trim());
    items.contains(&"test")
}

/// `name` of a `[pub(…)] mod name …` line.
fn module_name(code: &str) -> Option<&str> {
    let rest = strip_visibility(code.trim()).strip_prefix("mod ")?;
    let end = rest.find(|c: char| !is_ident_char(c)).unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// `code` without a leading `pub`, `pub(crate)`, `pub(super)`, `pub(in …)`.
fn strip_visibility(code: &str) -> &str {
    let Some(rest) = code.strip_prefix("pub") else {
        return code;
    };
    if let Some(restricted) = rest.strip_prefix('(') {
        return restricted
            .split_once(')')
            .map_or(code, |(_, after)| after.trim_start());
    }
    if rest.starts_with(char::is_whitespace) {
        rest.trim_start()
    } else {
        code
    }
}

/// A source line split into code (string and char literal contents blanked) and comment
/// text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Line {
    code: String,
    comment: String,
}

/// Splits `text` into [`Line`]s, following strings, raw strings, char literals and block
/// comments across lines.
fn scan(text: &str) -> Vec<Line> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Code,
        /// In a `"…"` string.
        Str,
        /// In a raw string closed by `"` and this many `#`.
        RawStr(usize),
        /// In a block comment, this deep.
        Block(usize),
    }
    let mut state = State::Code;
    let mut lines = Vec::new();
    for raw in text.lines() {
        let chars: Vec<char> = raw.chars().collect();
        let mut line = Line::default();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            match state {
                State::Code => {
                    if c == '/' && next == Some('/') {
                        line.comment.extend(&chars[i..]);
                        break;
                    } else if c == '/' && next == Some('*') {
                        state = State::Block(1);
                        line.comment.push_str("/*");
                        i += 2;
                        continue;
                    } else if c == '"' {
                        state = State::Str;
                        line.code.push('"');
                    } else if let Some(hashes) = raw_string_start(&chars, i) {
                        state = State::RawStr(hashes);
                        // `r##"`: keep the `r`, blank the rest of the opener.
                        line.code.push('r');
                        line.code.extend(std::iter::repeat(' ').take(hashes));
                        line.code.push('"');
                        i += hashes + 2;
                        continue;
                    } else if c == '\'' {
                        let len = char_literal_len(&chars, i);
                        if len > 0 {
                            line.code.push('\'');
                            line.code.extend(std::iter::repeat(' ').take(len - 2));
                            line.code.push('\'');
                            i += len;
                            continue;
                        }
                        line.code.push(c);
                    } else {
                        line.code.push(c);
                    }
                }
                State::Str => {
                    if c == '\\' {
                        line.code.push_str("  ");
                        i += 2;
                        continue;
                    }
                    if c == '"' {
                        state = State::Code;
                        line.code.push('"');
                    } else {
                        line.code.push(' ');
                    }
                }
                State::RawStr(hashes) => {
                    let closes =
                        c == '"' && (1..=hashes).all(|k| chars.get(i + k).copied() == Some('#'));
                    if closes {
                        state = State::Code;
                        line.code.push('"');
                        line.code.extend(std::iter::repeat(' ').take(hashes));
                        i += hashes + 1;
                        continue;
                    }
                    line.code.push(' ');
                }
                State::Block(depth) => {
                    if c == '*' && next == Some('/') {
                        state = if depth == 1 {
                            State::Code
                        } else {
                            State::Block(depth - 1)
                        };
                        line.comment.push_str("*/");
                        i += 2;
                        continue;
                    }
                    if c == '/' && next == Some('*') {
                        state = State::Block(depth + 1);
                        line.comment.push_str("/*");
                        i += 2;
                        continue;
                    }
                    line.comment.push(c);
                }
            }
            i += 1;
        }
        lines.push(line);
    }
    lines
}

/// If a raw string (`r"`, `r#"`, `br"`, …) starts at `chars[i]` (the `r`), how many `#`
/// it uses.
fn raw_string_start(chars: &[char], i: usize) -> Option<usize> {
    if chars[i] != 'r' {
        return None;
    }
    let before = i.checked_sub(1).map(|j| chars[j]);
    let prefix_ok = match before {
        None => true,
        Some('b' | 'c') => i < 2 || !is_ident_char(chars[i - 2]),
        Some(b) => !is_ident_char(b),
    };
    if !prefix_ok {
        return None;
    }
    let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
    (chars.get(i + 1 + hashes) == Some(&'"')).then_some(hashes)
}

/// The length of the char literal starting at `chars[i]` (a `'`), or 0 for a lifetime.
fn char_literal_len(chars: &[char], i: usize) -> usize {
    match chars.get(i + 1) {
        Some('\\') => chars[i + 2..]
            .iter()
            .position(|&c| c == '\'')
            .map_or(0, |end| end + 3),
        Some(_) if chars.get(i + 2) == Some(&'\'') => 3,
        _ => 0,
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Byte offsets of `word` in `code` where it is not part of a longer identifier.
fn word_positions<'a>(code: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    code.match_indices(word).filter_map(move |(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + word.len()..].chars().next();
        let standalone = !before.is_some_and(is_ident_char) && !after.is_some_and(is_ident_char);
        standalone.then_some(at)
    })
}

/// Rule 1: `(line, message)` for each `unsafe` block or impl without a `SAFETY:` comment.
fn safety_comments(lines: &[Line]) -> Vec<(usize, String)> {
    let has_safety = |line: &Line| line.comment.contains("SAFETY:");
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(what) = unsafe_construct(&line.code) else {
            continue;
        };
        let nearby = lines[i.saturating_sub(3)..=i].iter().any(has_safety);
        // The comment block (and attributes) directly above, however long.
        let block_above = lines[..i]
            .iter()
            .rev()
            .take_while(|l| {
                let code = l.code.trim();
                (code.is_empty() && !l.comment.is_empty()) || code.starts_with("#[")
            })
            .any(has_safety);
        if !nearby && !block_above {
            found.push((
                i + 1,
                format!("{what} without a `// SAFETY:` comment in the 3 lines above"),
            ));
        }
    }
    found
}

/// `Some("`unsafe` block")` / `Some("`unsafe impl`")` if `code` opens one.
fn unsafe_construct(code: &str) -> Option<&'static str> {
    for at in word_positions(code, "unsafe") {
        let rest = code[at + "unsafe".len()..].trim_start();
        if rest.starts_with('{') {
            return Some("`unsafe` block");
        }
        if word_positions(rest, "impl").next() == Some(0) {
            return Some("`unsafe impl`");
        }
    }
    None
}

/// A `use` statement: its first line (0-based) and its tree, without `use` and `;`.
#[derive(Debug)]
struct UseStatement {
    line: usize,
    tree: String,
}

/// Groups `lines` into `use` statements (which may span lines) and other lines.
/// Returns the statements and, for every line, whether it belongs to one.
fn use_statements(lines: &[Line]) -> (Vec<UseStatement>, Vec<bool>) {
    let mut statements = Vec::new();
    let mut in_use = vec![false; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        let code = lines[i].code.trim();
        let Some(tree) = strip_visibility(code).strip_prefix("use ") else {
            i += 1;
            continue;
        };
        let start = i;
        let mut tree = tree.to_owned();
        while !tree.contains(';') && i + 1 < lines.len() {
            i += 1;
            tree.push(' ');
            tree.push_str(lines[i].code.trim());
        }
        let tree = tree.split(';').next().unwrap_or_default().trim().to_owned();
        in_use[start..=i].iter_mut().for_each(|b| *b = true);
        statements.push(UseStatement { line: start, tree });
        i += 1;
    }
    (statements, in_use)
}

/// Expands a use tree into full paths: `std::{sync::{Arc, atomic::Ordering}, thread}`
/// becomes `std::sync::Arc`, `std::sync::atomic::Ordering`, `std::thread`.
fn flatten_use_tree(tree: &str) -> Vec<String> {
    fn join(prefix: &str, path: &str) -> String {
        match (prefix.is_empty(), path) {
            (true, _) => path.to_owned(),
            (false, "self") => prefix.to_owned(),
            (false, _) => format!("{prefix}::{path}"),
        }
    }
    fn walk(tree: &str, prefix: &str, out: &mut Vec<String>) {
        let tree = tree.trim();
        if tree.is_empty() {
            return;
        }
        let (Some(open), Some(close)) = (tree.find('{'), tree.rfind('}')) else {
            // `path` or `path as alias`
            let path: String = tree
                .split(" as ")
                .next()
                .unwrap_or(tree)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            out.push(join(prefix, &path));
            return;
        };
        let head: String = tree[..open]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let prefix = join(prefix, head.trim_end_matches("::"));
        let inner = &tree[open + 1..close];
        let mut depth = 0usize;
        let mut item_start = 0;
        for (at, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    walk(&inner[item_start..at], &prefix, out);
                    item_start = at + 1;
                }
                _ => {}
            }
        }
        walk(&inner[item_start..], &prefix, out);
    }
    let mut out = Vec::new();
    walk(tree, "", &mut out);
    out
}

/// Whether `path` names something library code must take from the facade instead.
fn bypasses_facade(path: &str) -> bool {
    let segments: Vec<&str> = path
        .trim_start_matches("::")
        .split("::")
        .map(str::trim)
        .collect();
    let [root, rest @ ..] = segments.as_slice() else {
        return false;
    };
    if !matches!(*root, "std" | "core" | "alloc") {
        return false;
    }
    match rest {
        ["sync", "atomic", "Ordering", ..] => false,
        ["sync", ..] | ["thread", ..] => true,
        ["cell", "UnsafeCell", ..] | ["hint", "spin_loop", ..] => true,
        _ => false,
    }
}

/// The paths written out in `code` that start at `std`, `core` or `alloc`
/// (`std::sync::Arc::new` → `std::sync::Arc::new`).
fn std_paths_in(code: &str) -> Vec<&str> {
    let mut paths = Vec::new();
    for root in ["std", "core", "alloc"] {
        for at in word_positions(code, root) {
            let rest = &code[at..];
            let end = rest
                .find(|c: char| !is_ident_char(c) && c != ':')
                .unwrap_or(rest.len());
            if rest[root.len()..].starts_with("::") {
                paths.push(&rest[..end]);
            }
        }
    }
    paths
}

/// The lines of `#[cfg(test)]` modules written inline (`mod tests { … }`).
fn inline_test_module_lines(lines: &[Line]) -> Vec<bool> {
    let mut exempt = vec![false; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        if !is_test_only_cfg(&lines[i].code) {
            i += 1;
            continue;
        }
        let Some(offset) = lines[i + 1..]
            .iter()
            .position(|l| !l.code.trim().is_empty() && !l.code.trim().starts_with("#["))
        else {
            break;
        };
        let start = i + 1 + offset;
        let is_inline_module =
            module_name(&lines[start].code).is_some() && lines[start].code.contains('{');
        if !is_inline_module {
            i += 1;
            continue;
        }
        let mut depth = 0i64;
        let mut end = start;
        for (j, line) in lines.iter().enumerate().skip(start) {
            depth += line.code.matches('{').count() as i64;
            depth -= line.code.matches('}').count() as i64;
            end = j;
            if depth <= 0 {
                break;
            }
        }
        exempt[i..=end].iter_mut().for_each(|b| *b = true);
        i = end + 1;
    }
    exempt
}

/// Rule 2 for one library file: `(line, message)` for each path that bypasses the facade.
fn std_paths(lines: &[Line]) -> Vec<(usize, String)> {
    let exempt = inline_test_module_lines(lines);
    let allowed = |i: usize| {
        lines[i].comment.contains(ALLOW_STD) || (i > 0 && lines[i - 1].comment.contains(ALLOW_STD))
    };
    let message = |path: &str| {
        format!(
            "`{path}` bypasses the sync facade: use `patterns_core::sync` (`crate::sync` in core), \
             or mark the line `// {ALLOW_STD}: <why>`"
        )
    };
    let (statements, in_use) = use_statements(lines);
    let mut found = Vec::new();
    for statement in &statements {
        if exempt[statement.line] || allowed(statement.line) {
            continue;
        }
        for path in flatten_use_tree(&statement.tree) {
            if bypasses_facade(&path) {
                found.push((statement.line + 1, message(&path)));
            }
        }
    }
    for (i, line) in lines.iter().enumerate() {
        if in_use[i] || exempt[i] || allowed(i) {
            continue;
        }
        for path in std_paths_in(&line.code) {
            if bypasses_facade(path) {
                found.push((i + 1, message(path)));
            }
        }
        if bare_thread_local(&line.code) {
            found.push((i + 1, message("thread_local!")));
        }
    }
    found.sort();
    found
}

/// Whether `code` invokes `thread_local!` from std's prelude (its values would not be
/// per model thread under loom) instead of the facade's `sync::thread_local!`.
fn bare_thread_local(code: &str) -> bool {
    word_positions(code, "thread_local")
        .into_iter()
        .any(|at| code[at..].starts_with("thread_local!") && !code[..at].ends_with("sync::"))
}

/// Rule 3 for one test or example file: `(line, message)` for each `thread::sleep`.
fn sleeps(lines: &[Line]) -> Vec<(usize, String)> {
    const MESSAGE: &str = "`thread::sleep` in a test: order threads with channels, barriers or \
                           `patterns_core::ManualClock`, not by sleeping";
    let (statements, in_use) = use_statements(lines);
    let mut found = Vec::new();
    for statement in &statements {
        let imports_sleep = flatten_use_tree(&statement.tree)
            .iter()
            .any(|path| path.ends_with("thread::sleep"));
        if imports_sleep {
            found.push((statement.line + 1, MESSAGE.to_owned()));
        }
    }
    for (i, line) in lines.iter().enumerate() {
        if !in_use[i] && line.code.contains("thread::sleep") {
            found.push((i + 1, MESSAGE.to_owned()));
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(found: &[(usize, String)]) -> Vec<usize> {
        found.iter().map(|(line, _)| *line).collect()
    }

    /// Enforces tidy on the workspace whenever `cargo test` runs.
    #[test]
    fn tidy() {
        let violations = check(&crate::project_root()).unwrap();
        let report: Vec<String> = violations.iter().map(ToString::to_string).collect();
        assert!(
            violations.is_empty(),
            "tidy found {} violation(s):\n{}",
            violations.len(),
            report.join("\n")
        );
    }

    #[test]
    fn scan_separates_code_comments_and_literals() {
        let lines = scan(
            "let s = \"// not a comment { unsafe {\"; // SAFETY: real\n\
             let c = '{'; let l: &'static str = r#\"std::sync::Arc\"#;\n\
             /* block\n std::thread::spawn */ x",
        );
        assert!(lines[0].code.starts_with("let s = \"  "), "{:?}", lines[0]);
        assert!(lines[0].code.trim_end().ends_with("\";"), "{:?}", lines[0]);
        assert!(!lines[0].code.contains("unsafe"), "{:?}", lines[0]);
        assert_eq!(lines[0].comment, "// SAFETY: real");
        assert!(!lines[1].code.contains('{'), "{:?}", lines[1]);
        assert!(lines[1].code.contains("&'static str"), "{:?}", lines[1]);
        assert!(!lines[1].code.contains("std::sync"), "{:?}", lines[1]);
        assert_eq!(lines[2].code, "");
        assert_eq!(lines[3].code.trim(), "x");
        assert!(lines[3].comment.contains("std::thread::spawn"));
    }

    #[test]
    fn unsafe_needs_a_safety_comment() {
        let src = "\
fn f(p: *const u8) -> u8 {
    // SAFETY: `p` is valid (the caller's contract).
    let a = unsafe { *p };
    let b = unsafe { *p };
    let c = unsafe { *p }; // SAFETY: as above.
    a + b + c
}

unsafe impl Send for X {}

// SAFETY:
// 1. one reason,
// 2. another,
// 3. and a third,
// 4. long enough to leave the 3-line window.
#[allow(clippy::non_send_fields_in_send_ty)]
unsafe impl Sync for X {}

unsafe fn g() {}
// Mentioning unsafe { in a comment is fine, as is \"unsafe {\".
";
        let found = safety_comments(&scan(src));
        // Line 4 is within 3 lines of line 2's comment: the window is generous by design.
        assert_eq!(lines_of(&found), [9], "{found:?}");
        assert!(found[0].1.contains("`unsafe impl`"));

        let found = safety_comments(&scan("\n\n\n\n\nfn f() { unsafe { g() } }\n"));
        assert_eq!(lines_of(&found), [6]);
        assert!(found[0].1.contains("`unsafe` block"));
    }

    #[test]
    fn flattens_use_trees() {
        assert_eq!(
            flatten_use_tree(
                "std::{sync::{self, Arc, atomic::{AtomicUsize, Ordering}}, thread as t}"
            ),
            [
                "std::sync",
                "std::sync::Arc",
                "std::sync::atomic::AtomicUsize",
                "std::sync::atomic::Ordering",
                "std::thread",
            ]
        );
        assert_eq!(flatten_use_tree("crate::sync::Arc"), ["crate::sync::Arc"]);
    }

    #[test]
    fn facade_rule_allows_ordering_and_our_own_paths() {
        assert!(!bypasses_facade("std::sync::atomic::Ordering"));
        assert!(!bypasses_facade("std::sync::atomic::Ordering::SeqCst"));
        assert!(!bypasses_facade("std::cell::Cell"));
        assert!(!bypasses_facade("std::time::Instant"));
        assert!(!bypasses_facade("patterns_core::sync::Arc"));
        assert!(bypasses_facade("std::sync::atomic::AtomicUsize"));
        assert!(bypasses_facade("::std::sync::Arc"));
        assert!(bypasses_facade("core::sync::atomic::AtomicBool"));
        assert!(bypasses_facade("std::thread"));
        assert!(bypasses_facade("std::cell::UnsafeCell"));
        assert!(bypasses_facade("core::hint::spin_loop"));
    }

    #[test]
    fn std_paths_are_reported_outside_tests_and_allowances() {
        let src = "\
//! Unlike `std::sync::Mutex`, docs may name std.
use std::sync::atomic::Ordering;
use std::{
    fmt,
    sync::{atomic::AtomicUsize, Arc},
};
use patterns_core::sync::Mutex;
use crate::sync::thread;

fn f() {
    std::thread::spawn(|| ());
    let _ = std::sync::atomic::Ordering::Relaxed;
    std::hint::spin_loop();
    // tidy: allow(std-path): std's OnceLock, which loom does not model, for a constant.
    static X: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    let s = \"std::sync::Arc\";
    thread_local! { static A: u8 = 0; }
    crate::sync::thread_local! { static B: u8 = 0; }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::mpsc;
    fn t() {
        std::thread::spawn(|| ());
    }
}
";
        let found = std_paths(&scan(src));
        assert_eq!(lines_of(&found), [3, 3, 11, 13, 17], "{found:?}");
        assert!(found[0].1.contains("`std::sync::Arc`"));
        assert!(found[1].1.contains("`std::sync::atomic::AtomicUsize`"));
        assert!(found[2].1.contains("`std::thread::spawn`"));
        assert!(found[4].1.contains("`thread_local!`"));
    }

    #[test]
    fn recognises_test_only_cfgs() {
        assert!(is_test_only_cfg("#[cfg(test)]"));
        assert!(is_test_only_cfg("  #[cfg(all(test, not(loom)))]"));
        assert!(is_test_only_cfg("#[cfg(all(not(loom), test))]"));
        assert!(!is_test_only_cfg("#[cfg(not(test))]"));
        assert!(!is_test_only_cfg("#[cfg(any(test, loom))]"));
        assert!(!is_test_only_cfg("#[cfg(all(not(test), loom))]"));
        assert!(!is_test_only_cfg("#[cfg(loom)]"));
    }

    #[test]
    fn sleeping_in_tests_is_reported() {
        let src = "\
use std::thread::{self, sleep};
// thread::sleep in a comment is fine.
fn t() {
    std::thread::sleep(D);
    thread::sleep(D);
    clock.sleep_until(t);
}
";
        assert_eq!(lines_of(&sleeps(&scan(src))), [1, 4, 5]);
    }

    #[test]
    fn finds_out_of_line_test_modules() {
        let sources = vec![
            (
                PathBuf::from("crates/a/src/lib.rs"),
                "#[cfg(test)]\nmod tests;\nmod imp;\n".to_owned(),
            ),
            (
                PathBuf::from("crates/a/src/imp.rs"),
                "#[cfg(test)]\npub(crate) mod unit_tests;\n".to_owned(),
            ),
        ];
        let modules = out_of_line_test_modules(&sources);
        assert!(is_under(Path::new("crates/a/src/tests.rs"), &modules));
        assert!(is_under(Path::new("crates/a/src/tests/more.rs"), &modules));
        assert!(is_under(
            Path::new("crates/a/src/imp/unit_tests.rs"),
            &modules
        ));
        assert!(!is_under(Path::new("crates/a/src/imp.rs"), &modules));
    }
}
