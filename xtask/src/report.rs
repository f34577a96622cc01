//! The benchmark report: criterion's JSON in, a markdown table per benchmark out.
//!
//! Criterion 0.8 writes, for every benchmark, `<criterion home>/<directory name>/new/`
//! with `benchmark.json` (a serialized `criterion::report::BenchmarkId`: `group_id`,
//! `function_id`, `value_str`, `throughput`, `full_id`, …) and `estimates.json`
//! (`criterion::estimate::Estimates`: `mean`, `median`, `median_abs_dev`, `slope`,
//! `std_dev`, each with a `point_estimate` in nanoseconds per iteration). `--test` runs
//! write neither.
//!
//! Our benchmarks name groups `<crate>/<case>` (`bounded-buffer/spsc`), functions after
//! the contender (`ours`, `crossbeam`, `flume`, …), and put the parameter, if any, in
//! the value. One table per `(group, value)` compares the contenders.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    time::SystemTime,
};

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// The function id our own implementation benchmarks under.
const OURS: &str = "ours";

/// Work per iteration, as criterion's `Throughput` (serialized externally tagged:
/// `{"Elements": 1000}`, `{"ElementsAndBytes": {"elements": 1, "bytes": 8}}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Throughput {
    /// Bits per iteration.
    Bits(u64),
    /// Bytes per iteration, reported in binary units (KiB/s).
    Bytes(u64),
    /// Bytes per iteration, reported in decimal units (KB/s).
    BytesDecimal(u64),
    /// Elements (messages, tasks, …) per iteration.
    Elements(u64),
    /// Both elements and bytes per iteration.
    ElementsAndBytes {
        /// Elements per iteration.
        elements: u64,
        /// Bytes per iteration.
        bytes: u64,
    },
}

/// One benchmark's result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Measurement {
    /// `<crate>/<case>`.
    pub(crate) group_id: String,
    /// The contender (`ours`, `crossbeam`, …).
    pub(crate) function_id: Option<String>,
    /// The parameter, if the benchmark has one.
    pub(crate) value_str: Option<String>,
    /// `group/function/value`.
    pub(crate) full_id: String,
    /// Work per iteration, if the benchmark declared it.
    pub(crate) throughput: Option<Throughput>,
    /// Median time per iteration, in nanoseconds.
    pub(crate) median_ns: f64,
}

/// How the benchmarks were run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Criterion's default sampling.
    Full,
    /// Criterion's `--quick`.
    Quick,
    /// Criterion's `--test`: every benchmark once, nothing measured.
    Smoke,
}

impl Mode {
    /// The flag criterion takes for this mode.
    pub(crate) fn criterion_flag(self) -> Option<&'static str> {
        match self {
            Mode::Full => None,
            Mode::Quick => Some("--quick"),
            Mode::Smoke => Some("--test"),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Mode::Full => "full (criterion's default sampling)",
            Mode::Quick => {
                "quick (criterion `--quick`: sampling stops once the estimate is stable)"
            }
            Mode::Smoke => "smoke (criterion `--test`: each benchmark ran once, nothing measured)",
        }
    }
}

/// What the report says about the run as a whole.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// When the run started, e.g. `2026-04-20 13:45:07 UTC`.
    pub(crate) date: String,
    /// Cores and CPU model.
    pub(crate) machine: String,
    /// How the benchmarks were run.
    pub(crate) mode: Mode,
    /// The `cargo xtask bench …` command line.
    pub(crate) command: String,
    /// The cargo commands it ran.
    pub(crate) runs: Vec<String>,
    /// The criterion filter, if any.
    pub(crate) filter: Option<String>,
}

/// Parses one benchmark's `benchmark.json` and `estimates.json`.
pub(crate) fn parse_measurement(benchmark_json: &str, estimates_json: &str) -> Result<Measurement> {
    let id: Value = serde_json::from_str(benchmark_json).context("benchmark.json is not JSON")?;
    let estimates: Value =
        serde_json::from_str(estimates_json).context("estimates.json is not JSON")?;
    let text = |key: &str| id.get(key).and_then(Value::as_str).map(str::to_owned);
    let Some(group_id) = text("group_id") else {
        bail!("benchmark.json has no `group_id`");
    };
    let Some(median_ns) = estimates
        .pointer("/median/point_estimate")
        .and_then(Value::as_f64)
    else {
        bail!("estimates.json has no `median.point_estimate`");
    };
    let function_id = text("function_id");
    let value_str = text("value_str");
    let full_id = text("full_id").unwrap_or_else(|| {
        [
            Some(group_id.as_str()),
            function_id.as_deref(),
            value_str.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("/")
    });
    Ok(Measurement {
        throughput: id.get("throughput").and_then(parse_throughput),
        group_id,
        function_id,
        value_str,
        full_id,
        median_ns,
    })
}

fn parse_throughput(value: &Value) -> Option<Throughput> {
    let (kind, amount) = value.as_object()?.iter().next()?;
    Some(match kind.as_str() {
        "Bits" => Throughput::Bits(amount.as_u64()?),
        "Bytes" => Throughput::Bytes(amount.as_u64()?),
        "BytesDecimal" => Throughput::BytesDecimal(amount.as_u64()?),
        "Elements" => Throughput::Elements(amount.as_u64()?),
        "ElementsAndBytes" => Throughput::ElementsAndBytes {
            elements: amount.get("elements")?.as_u64()?,
            bytes: amount.get("bytes")?.as_u64()?,
        },
        _ => return None,
    })
}

/// Reads every `new/benchmark.json` (with its `estimates.json`) under `criterion_dir`
/// whose group starts with `group_prefix` and that was written at or after `since`.
pub(crate) fn collect(
    criterion_dir: &Path,
    since: Option<SystemTime>,
    group_prefix: Option<&str>,
) -> Result<Vec<Measurement>> {
    let mut files = Vec::new();
    find_benchmark_files(criterion_dir, &mut files)?;
    files.sort();
    let mut measurements = Vec::new();
    for file in files {
        if let Some(since) = since {
            let modified = fs::metadata(&file).and_then(|m| m.modified());
            if modified.map_or(true, |modified| modified < since) {
                continue;
            }
        }
        let estimates_file = file.with_file_name("estimates.json");
        let Ok(estimates) = fs::read_to_string(&estimates_file) else {
            continue;
        };
        let benchmark =
            fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let measurement = parse_measurement(&benchmark, &estimates)
            .with_context(|| format!("cannot parse {}", file.display()))?;
        if group_prefix.map_or(true, |prefix| measurement.group_id.starts_with(prefix)) {
            measurements.push(measurement);
        }
    }
    Ok(measurements)
}

/// Collects the `benchmark.json` files inside directories named `new` (not the baselines).
fn find_benchmark_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err).with_context(|| format!("cannot list {}", dir.display())),
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            find_benchmark_files(&path, out)?;
        } else if path.file_name().is_some_and(|n| n == "benchmark.json")
            && dir.file_name().is_some_and(|n| n == "new")
        {
            out.push(path);
        }
    }
    Ok(())
}

/// The report of a measured run: the header, then one table per `(group, value)`.
pub(crate) fn render(header: &Header, measurements: &[Measurement]) -> String {
    let mut out = render_header(header);
    out.push_str(
        "Each table is one benchmark group and parameter. *Median* is criterion's median time \
         per iteration; *throughput* is the work the benchmark declared per iteration divided \
         by that median; *peer ÷ ours* is the contender's median over `ours`' median, so above \
         1.00 means ours is faster.\n",
    );
    if measurements.is_empty() {
        out.push_str("\nNo benchmark wrote results during this run");
        if let Some(filter) = &header.filter {
            let _ = write!(out, " (filter `{filter}`)");
        }
        out.push_str(".\n");
        return out;
    }

    let mut tables: BTreeMap<(&str, ValueKey<'_>), Vec<&Measurement>> = BTreeMap::new();
    for m in measurements {
        tables
            .entry((m.group_id.as_str(), ValueKey(m.value_str.as_deref())))
            .or_default()
            .push(m);
    }
    for ((group, ValueKey(value)), mut rows) in tables {
        rows.sort_by(|a, b| {
            a.median_ns
                .total_cmp(&b.median_ns)
                .then_with(|| a.function_id.cmp(&b.function_id))
        });
        let ours = rows
            .iter()
            .find(|m| m.function_id.as_deref() == Some(OURS))
            .map(|m| m.median_ns);
        match value {
            Some(value) => {
                let _ = write!(out, "\n## {group} ({value})\n\n");
            }
            None => {
                let _ = write!(out, "\n## {group}\n\n");
            }
        }
        out.push_str("| contender | median / iteration | throughput | peer ÷ ours |\n");
        out.push_str("| --- | ---: | ---: | ---: |\n");
        for m in rows {
            let contender = m.function_id.as_deref().unwrap_or("(unnamed)");
            let throughput = m
                .throughput
                .map(|t| format_throughput(t, m.median_ns))
                .unwrap_or_default();
            let ratio = ours
                .filter(|&ours| ours > 0.0)
                .map(|ours| format!("{:.2}", m.median_ns / ours))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {contender} | {} | {throughput} | {ratio} |",
                format_time(m.median_ns)
            );
        }
    }
    out
}

/// The report of a smoke run: the header and the benchmarks that ran.
pub(crate) fn render_smoke(header: &Header, benchmarks: &[String]) -> String {
    let mut out = render_header(header);
    out.push_str(
        "This was a smoke run: criterion ran every benchmark once to check that it works and \
         measured nothing. Run `cargo xtask bench` (or `--quick`) for numbers.\n",
    );
    if benchmarks.is_empty() {
        out.push_str("\nNo benchmark matched.\n");
    } else {
        let _ = write!(out, "\n## Benchmarks ({})\n\n", benchmarks.len());
        for name in benchmarks {
            let _ = writeln!(out, "- `{name}`");
        }
    }
    out
}

fn render_header(header: &Header) -> String {
    let mut out = String::from("# Benchmark report\n\n");
    let _ = writeln!(out, "- Date: {}", header.date);
    let _ = writeln!(out, "- Machine: {}", header.machine);
    let _ = writeln!(out, "- Mode: {}", header.mode.describe());
    let _ = writeln!(out, "- Command: `{}`", header.command);
    if let Some(filter) = &header.filter {
        let _ = writeln!(out, "- Filter: `{filter}`");
    }
    for run in &header.runs {
        let _ = writeln!(out, "- Ran: `{run}`");
    }
    out.push('\n');
    out
}

/// Orders parameters numerically when both are numbers (`8` before `64`), else as text,
/// with "no parameter" first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ValueKey<'a>(Option<&'a str>);

impl Ord for ValueKey<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self.0, other.0) {
            (Some(a), Some(b)) => match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(x), Ok(y)) => x.total_cmp(&y).then_with(|| a.cmp(b)),
                _ => a.cmp(b),
            },
            (a, b) => a.cmp(&b),
        }
    }
}

impl PartialOrd for ValueKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// `ns` nanoseconds in the largest unit that keeps the number at least 1: `12.3 ns`,
/// `4.56 µs`, `789 ms`, `1.50 s`.
pub(crate) fn format_time(ns: f64) -> String {
    let (value, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    format!("{} {unit}", three_digits(value))
}

/// `amount` per `median_ns`, per second, in the unit criterion uses for it.
fn format_throughput(throughput: Throughput, median_ns: f64) -> String {
    let per_second = |amount: u64| amount as f64 * 1e9 / median_ns;
    if median_ns <= 0.0 {
        return String::new();
    }
    match throughput {
        Throughput::Elements(n) => {
            scaled(per_second(n), 1000.0, &["", "K", "M", "G", "T"], "elem/s")
        }
        Throughput::Bytes(n) => binary_bytes(per_second(n)),
        Throughput::BytesDecimal(n) => {
            scaled(per_second(n), 1000.0, &["", "K", "M", "G", "T"], "B/s")
        }
        Throughput::Bits(n) => scaled(per_second(n), 1000.0, &["", "K", "M", "G", "T"], "bit/s"),
        Throughput::ElementsAndBytes { elements, bytes } => format!(
            "{}, {}",
            scaled(
                per_second(elements),
                1000.0,
                &["", "K", "M", "G", "T"],
                "elem/s"
            ),
            binary_bytes(per_second(bytes))
        ),
    }
}

fn binary_bytes(per_second: f64) -> String {
    scaled(per_second, 1024.0, &["", "Ki", "Mi", "Gi", "Ti"], "B/s")
}

fn scaled(mut value: f64, step: f64, prefixes: &[&str], unit: &str) -> String {
    let mut prefix = prefixes[0];
    for next in &prefixes[1..] {
        if value < step {
            break;
        }
        value /= step;
        prefix = next;
    }
    format!("{} {prefix}{unit}", three_digits(value))
}

/// About three significant digits: `1.23`, `12.3`, `123`.
fn three_digits(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2}")
    } else if value < 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

/// The benchmark names in the output of a criterion binary's `--list` (`name: benchmark`).
pub(crate) fn parse_list(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|line| line.trim().strip_suffix(": benchmark"))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn measurement(group: &str, function: &str, value: Option<&str>, ns: f64) -> Measurement {
        Measurement {
            group_id: group.to_owned(),
            function_id: Some(function.to_owned()),
            value_str: value.map(str::to_owned),
            full_id: format!("{group}/{function}"),
            throughput: Some(Throughput::Elements(1000)),
            median_ns: ns,
        }
    }

    fn header(mode: Mode) -> Header {
        Header {
            date: "1970-01-01 00:00:00 UTC".to_owned(),
            machine: "4 cores, Test CPU".to_owned(),
            mode,
            command: "cargo xtask bench bounded-buffer --quick".to_owned(),
            runs: vec!["cargo bench -p benches --bench compare -- ^bounded-buffer/ --quick".into()],
            filter: Some("^bounded-buffer/".to_owned()),
        }
    }

    #[test]
    fn formats_times_and_rates() {
        assert_eq!(format_time(12.345), "12.3 ns");
        assert_eq!(format_time(4_560.0), "4.56 µs");
        assert_eq!(format_time(789_000_000.0), "789 ms");
        assert_eq!(format_time(1.5e9), "1.50 s");
        // 1000 elements in 10 µs = 100 M elements/s.
        assert_eq!(
            format_throughput(Throughput::Elements(1000), 10_000.0),
            "100 Melem/s"
        );
        // 1 MiB in 1 ms = 1000 MiB/s.
        assert_eq!(
            format_throughput(Throughput::Bytes(1 << 20), 1e6),
            "1000 MiB/s"
        );
        assert_eq!(
            format_throughput(Throughput::BytesDecimal(2_000), 1e9),
            "2.00 KB/s"
        );
    }

    #[test]
    fn renders_one_table_per_group_and_value_with_ratios() {
        let results = [
            measurement("bounded-buffer/spsc", "flume", Some("64"), 30_000.0),
            measurement("bounded-buffer/spsc", "ours", Some("64"), 10_000.0),
            measurement("bounded-buffer/spsc", "crossbeam", Some("64"), 5_000.0),
            measurement("bounded-buffer/spsc", "ours", Some("8"), 20_000.0),
            measurement("bounded-buffer/mpmc", "crossbeam", None, 1_000.0),
        ];
        let report = render(&header(Mode::Quick), &results);
        let expected = "\
## bounded-buffer/spsc (8)

| contender | median / iteration | throughput | peer ÷ ours |
| --- | ---: | ---: | ---: |
| ours | 20.0 µs | 50.0 Melem/s | 1.00 |

## bounded-buffer/spsc (64)

| contender | median / iteration | throughput | peer ÷ ours |
| --- | ---: | ---: | ---: |
| crossbeam | 5.00 µs | 200 Melem/s | 0.50 |
| ours | 10.0 µs | 100 Melem/s | 1.00 |
| flume | 30.0 µs | 33.3 Melem/s | 3.00 |
";
        assert!(report.ends_with(expected), "{report}");
        // A group without `ours` has no ratios.
        assert!(
            report.contains("## bounded-buffer/mpmc\n\n| contender | median / iteration | throughput | peer ÷ ours |\n| --- | ---: | ---: | ---: |\n| crossbeam | 1.00 µs | 1.00 Gelem/s |  |\n"),
            "{report}"
        );
        assert!(report.starts_with("# Benchmark report\n\n- Date: 1970-01-01 00:00:00 UTC\n"));
        assert!(report.contains("- Machine: 4 cores, Test CPU\n"));
        assert!(report.contains("- Mode: quick"));
        assert!(report.contains("- Command: `cargo xtask bench bounded-buffer --quick`\n"));
        assert!(report.find("spsc (8)") < report.find("spsc (64)"));
        assert!(report.find("mpmc") < report.find("spsc (8)"));
    }

    #[test]
    fn renders_smoke_runs_and_empty_runs() {
        let list = parse_list(
            "core/cancel_check/ours: benchmark\nnoise\ncore/cancel_check/tokio_util: benchmark\n",
        );
        assert_eq!(
            list,
            ["core/cancel_check/ours", "core/cancel_check/tokio_util"]
        );
        let report = render_smoke(&header(Mode::Smoke), &list);
        assert!(report.contains("- Mode: smoke"), "{report}");
        assert!(report.contains("smoke run"), "{report}");
        assert!(
            report.contains("- `core/cancel_check/tokio_util`\n"),
            "{report}"
        );
        let report = render(&header(Mode::Full), &[]);
        assert!(report
            .contains("No benchmark wrote results during this run (filter `^bounded-buffer/`)."));
    }

    const BENCHMARK_JSON: &str = r#"{"group_id":"core/cancel_check","function_id":"ours","value_str":null,"throughput":{"Elements":1},"full_id":"core/cancel_check/ours","directory_name":"core_cancel_check/ours","title":"core/cancel_check/ours"}"#;

    fn estimates_json(median: f64) -> String {
        let estimate = |v: f64| {
            format!(
                r#"{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":{v},"upper_bound":{v}}},"point_estimate":{v},"standard_error":0.1}}"#
            )
        };
        format!(
            r#"{{"mean":{},"median":{},"median_abs_dev":{},"slope":null,"std_dev":{}}}"#,
            estimate(median + 1.0),
            estimate(median),
            estimate(0.5),
            estimate(0.7)
        )
    }

    #[test]
    fn parses_criterion_json() {
        let m = parse_measurement(BENCHMARK_JSON, &estimates_json(12.5)).unwrap();
        assert_eq!(m.group_id, "core/cancel_check");
        assert_eq!(m.function_id.as_deref(), Some("ours"));
        assert_eq!(m.value_str, None);
        assert_eq!(m.throughput, Some(Throughput::Elements(1)));
        assert_eq!(m.median_ns, 12.5);
        let both = parse_throughput(
            &serde_json::json!({"ElementsAndBytes": {"elements": 3, "bytes": 24}}),
        );
        assert_eq!(
            both,
            Some(Throughput::ElementsAndBytes {
                elements: 3,
                bytes: 24
            })
        );
        assert!(parse_measurement("{}", &estimates_json(1.0)).is_err());
        assert!(parse_measurement(BENCHMARK_JSON, "{}").is_err());
    }

    /// A fake criterion tree: a fresh result, a stale one, a baseline copy, a result of
    /// another crate, and a `--test`-style directory without estimates.
    #[test]
    fn collects_fresh_results_from_a_criterion_tree() {
        let dir = std::env::temp_dir().join(format!("xtask-report-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let write = |path: &str, benchmark: &str, median: Option<f64>| {
            let path = dir.join(path);
            fs::create_dir_all(&path).unwrap();
            if let Some(median) = median {
                fs::write(path.join("estimates.json"), estimates_json(median)).unwrap();
            }
            fs::write(path.join("benchmark.json"), benchmark).unwrap();
        };
        let id = |group: &str, function: &str| {
            format!(
                r#"{{"group_id":"{group}","function_id":"{function}","value_str":null,"throughput":{{"Elements":1}},"full_id":"{group}/{function}","directory_name":"x","title":"{group}/{function}"}}"#
            )
        };
        write(
            "core_cancel_check/ours/new",
            &id("core/cancel_check", "ours"),
            Some(10.0),
        );
        write(
            "core_cancel_check/ours/base",
            &id("core/cancel_check", "ours"),
            Some(99.0),
        );
        write(
            "core_cancel_check/tokio_util/new",
            &id("core/cancel_check", "tokio_util"),
            Some(20.0),
        );
        write("core_stale/ours/new", &id("core/stale", "ours"), Some(1.0));
        write("core_untested/ours/new", &id("core/untested", "ours"), None);
        write("pool_spawn/ours/new", &id("pool/spawn", "ours"), Some(5.0));

        let start = SystemTime::now() - Duration::from_secs(60);
        let stale = fs::File::options()
            .write(true)
            .open(dir.join("core_stale/ours/new/benchmark.json"))
            .unwrap();
        stale
            .set_modified(start - Duration::from_secs(3600))
            .unwrap();
        drop(stale);

        let mut core = collect(&dir, Some(start), Some("core/")).unwrap();
        core.sort_by(|a, b| a.full_id.cmp(&b.full_id));
        let ids: Vec<(&str, f64)> = core
            .iter()
            .map(|m| (m.full_id.as_str(), m.median_ns))
            .collect();
        assert_eq!(
            ids,
            [
                ("core/cancel_check/ours", 10.0),
                ("core/cancel_check/tokio_util", 20.0)
            ]
        );
        let all = collect(&dir, None, None).unwrap();
        assert_eq!(all.len(), 4);

        let report = render(&header(Mode::Full), &core);
        assert!(report.contains("| ours | 10.0 ns | 100 Melem/s | 1.00 |\n| tokio_util | 20.0 ns | 50.0 Melem/s | 2.00 |\n"), "{report}");

        fs::remove_dir_all(&dir).unwrap();
        assert!(collect(&dir, None, None).unwrap().is_empty());
    }
}
