//! Configuration: the YAML file of DESIGN.md, parsed raw and then validated
//! once into [`Config`], so that no bad value reaches the pipeline.
//!
//! Unknown keys are rejected (a misspelt `headrom` must not be silently
//! ignored), as are duplicate workloads, floors above ceilings and a
//! `target_per_replica` that is not positive. Relative `file:` paths
//! resolve against the folder of the config file.

use crate::core::workload::{LoadSource, Workload};
use crate::edge::http::Endpoint;
use crate::edge::prometheus::Prometheus;
use std::path::{Path, PathBuf};

mod ical;
mod raw;
mod validate;

use raw::{RawConfig, RawWorkload};
use validate::validate;

/// Why a configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // `cause`, not `source`: the message already says it, and a chained
    // source would make `{:#}` print it twice.
    #[error("{path}: cannot read config: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}: invalid config: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
}

impl ConfigError {
    /// A stable name for the kind of failure, for logs and the run summary.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            ConfigError::Io { .. } => "config_unreadable",
            ConfigError::Parse { .. } | ConfigError::Invalid { .. } => "config_invalid",
        }
    }
}

/// Defaults when the config says nothing.
pub const DEFAULT_HISTORY: &str = "28d";
pub const DEFAULT_HORIZON: &str = "7d";
pub const DEFAULT_LEVEL_PERCENT: f64 = 90.0;
pub const DEFAULT_HEADROOM: f64 = 1.2;
/// Grid step of a Prometheus-backed workload when the config gives none
/// (a file's step is read off its timestamps).
pub const DEFAULT_QUERY_STEP: &str = "5m";
/// Ceiling when a range gives none: far above any HPA a person would write,
/// low enough that a units mistake shows up as "needs operator".
pub const DEFAULT_CEILING: u32 = 1000;
/// The lowest min when the config sets no floor.
pub const DEFAULT_MIN_FLOOR: u32 = 2;

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    pub prometheus: Option<Prometheus>,
    pub alertmanager: Option<Endpoint>,
    pub pushgateway: Option<Endpoint>,
    /// Model store folder (resolved against the config's folder).
    pub store: Option<PathBuf>,
    /// `apply`'s safety rules.
    pub apply_rules: crate::core::apply::ApplyRules,
    pub workloads: Vec<Workload>,
    /// The workloads that cannot run as written, in config order: each is
    /// reported as failed while the others run (one team's mistake in a
    /// shared config stops no one else's bounds).
    pub rejected: Vec<Rejected>,
    /// The shard of the fleet this run plans (`--shard`), when one.
    pub shard: Option<Shard>,
}

/// A workload of the config that cannot run as written: why, and the
/// names it was given when they are valid Kubernetes names (to report it
/// as a failed workload, and to keep its HPA's document in a `GitOps`
/// YAML).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Its place in `workloads:` (from 0).
    pub index: usize,
    /// `namespace`, `name` and `hpa`, when all three are valid names and
    /// no other workload of the config has the same `namespace/name`.
    pub names: Option<(String, String, String)>,
    /// What is wrong, naming the workload and the key.
    pub problem: String,
}

impl Rejected {
    /// `namespace/name`, or `workload #N` without valid names.
    #[must_use]
    pub fn id(&self) -> String {
        match &self.names {
            Some((namespace, name, _)) => format!("{namespace}/{name}"),
            None => format!("workload #{} (counting from 1)", self.index + 1),
        }
    }
}

/// One of `count` shards of a fleet (`--shard index/count`, index from 0
/// as Kubernetes' `JOB_COMPLETION_INDEX`): the workloads whose
/// `namespace/name` hashes to `index`. The hash ([`shard_hash`]) is fixed
/// here, not the standard library's, so that a workload stays in its shard
/// across versions, machines and config edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Whether the workload `namespace/name` belongs to this shard.
    #[must_use]
    pub fn holds(&self, namespace: &str, name: &str) -> bool {
        shard_hash(namespace, name) % self.count == self.index
    }
}

/// 64-bit FNV-1a of `namespace/name`, then `SplitMix64`'s finaliser: FNV's
/// low bits follow only the bytes' low bits, so names that differ in a
/// digit would fall into a few shards of a small count without the mix.
#[must_use]
pub fn shard_hash(namespace: &str, name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in namespace.bytes().chain(*b"/").chain(name.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let wrong = || {
            format!("`{text}`: expected INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/4 (INDEX as Kubernetes' JOB_COMPLETION_INDEX)")
        };
        let (index, count) = text.split_once('/').ok_or_else(wrong)?;
        let index: u64 = index.trim().parse().map_err(|_| wrong())?;
        let count: u64 = count.trim().parse().map_err(|_| wrong())?;
        if count == 0 || index >= count {
            return Err(wrong());
        }
        Ok(Shard { index, count })
    }
}

impl Config {
    /// Misuse that is not an error but deserves a word before the run:
    /// see [`query_warnings`], for every query workload.
    #[must_use]
    pub fn warnings(&self) -> Vec<String> {
        self.workloads
            .iter()
            .flat_map(|w| {
                let mut warnings: Vec<String> = match (&w.source, w.step) {
                    (LoadSource::Query { query, .. }, Some(step)) => {
                        query_warnings(query, step.secs())
                    }
                    _ => Vec::new(),
                };
                // `1m` is a minute: a month written so made bounds for
                // the next minute (min 3 → 13 on the taxi trace).
                if w.horizon.secs() < 3_600 {
                    warnings.push(format!(
                        "horizon: {} is under an hour (`m` is minutes; a month is `30d`): the bounds are sized for the next {} only",
                        w.horizon, w.horizon
                    ));
                }
                warnings
                    .into_iter()
                    .map(|warning| format!("workload {}: {warning}", w.id()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The workload `wanted` names: `namespace/name`, or a name only one
    /// workload of the config has. A name two namespaces share is refused
    /// with both ids (each command picked a different one of them).
    pub fn workload_named(&self, wanted: &str) -> Result<&Workload, String> {
        if let Some(w) = self.workloads.iter().find(|w| w.id() == wanted) {
            return Ok(w);
        }
        let named: Vec<&Workload> = self.workloads.iter().filter(|w| w.name == wanted).collect();
        match named.as_slice() {
            [one] => Ok(one),
            [] => Err(format!(
                "{wanted}: no workload of that name in {}",
                self.path.display()
            )),
            many => Err(format!(
                "{wanted}: {} workloads of {} have that name ({}): give it as namespace/name",
                many.len(),
                self.path.display(),
                many.iter().map(|w| w.id()).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// Keeps only the workloads of `shard` (a rejected workload without
    /// valid names, in shard 0's).
    pub fn select_shard(&mut self, shard: Shard) {
        self.workloads
            .retain(|w| shard.holds(&w.namespace, &w.name));
        self.rejected.retain(|r| match &r.names {
            Some((namespace, name, _)) => shard.holds(namespace, name),
            None => shard.index == 0,
        });
        self.shard = Some(shard);
    }

    /// The config as `config check` judges it: any rejected workload makes
    /// it invalid, with every problem listed.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming each rejected workload's problem.
    pub fn all_valid(self) -> Result<Config, ConfigError> {
        if self.rejected.is_empty() {
            return Ok(self);
        }
        let problems: Vec<String> = self.rejected.iter().map(|r| r.problem.clone()).collect();
        Err(ConfigError::Invalid {
            path: self.path,
            problem: validate::problems_text(problems),
        })
    }
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let bytes = std::fs::read(path).map_err(|cause| ConfigError::Io {
        path: path.into(),
        cause,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| ConfigError::Parse {
        path: path.into(),
        message: not_utf8(e.as_bytes(), e.utf8_error().valid_up_to()),
    })?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    parse(&text, path, base)
}

/// Where a config stops being UTF-8 (`bytes` are valid up to `valid`),
/// said as a line, a column and the byte: the reader's own "stream did
/// not contain valid UTF-8" left a person to search the whole file.
fn not_utf8(bytes: &[u8], valid: usize) -> String {
    let before = String::from_utf8_lossy(&bytes[..valid]);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!(
        "line {line} column {column}: byte 0x{:02X} is not UTF-8: the config must be UTF-8 text (saved as Latin-1 or another code page?)",
        bytes[valid]
    )
}

/// The YAML parser's message as the user should read it: its snippet
/// names the file instead of `<input>`, without a second `error:` after
/// ours.
fn parse_message(message: &str, path: &Path) -> String {
    let mut message = message
        .strip_prefix("error: ")
        .unwrap_or(message)
        .replace("<input>", &path.display().to_string());
    // The parser names Rust types and its own options; a person writing
    // YAML needs what to write instead.
    // On a line too long to show whole, the parser crops it and its
    // `--> file:line:column` gives the column in the cropped text
    // (`line 2 column 86` above `--> c.yaml:2:66`): the message's column
    // is the one an editor goes to.
    if let Some(fixed) = arrow_with_message_column(&message, path) {
        message = fixed;
    }
    for (parser, person) in [
        // The range too: `99999999999` is a whole number, but too large.
        (
            "invalid u32",
            "expected a whole number from 0 to 4294967295",
        ),
        (
            "invalid u64",
            "expected a whole number from 0 to 18446744073709551615",
        ),
        (
            "invalid usize",
            "expected a whole number from 0 to 18446744073709551615",
        ),
        (
            "invalid floating point",
            "expected a number (such as 25 or 0.5)",
        ),
        (
            ", set DuplicateKeyPolicy in Options if acceptable",
            " (each key once in a mapping: which one is meant?)",
        ),
    ] {
        message = message.replace(parser, person);
    }
    message
}

/// A tab in a line's indentation, which YAML does not allow, said where
/// it is: the parser stops at the end of the line before it ("line 3
/// column 16 … found a tab" for a tab that starts line 4). `None` when
/// the parser's `message` is about something else.
fn tab_in_indentation(text: &str, message: &str, path: &Path) -> Option<String> {
    if !message.contains("tab") {
        return None;
    }
    let (index, line) = text.lines().enumerate().find(|(_, line)| {
        let content = line.trim_start();
        !content.is_empty()
            && !content.starts_with('#')
            && line[..line.len() - content.len()].contains('\t')
    })?;
    let column = line.chars().take_while(|&c| c != '\t').count() + 1;
    Some(format!(
        "line {} column {column}: a tab in the indentation ({line:?}): YAML indents with spaces only; replace the tab with spaces\n --> {}:{}:{column}",
        index + 1,
        path.display(),
        index + 1
    ))
}

/// `message` with its `--> path:line:column` given the column of its
/// own `line L column C`, when the two name the same line and differ.
fn arrow_with_message_column(message: &str, path: &Path) -> Option<String> {
    let at = message.find("line ")?;
    let mut words = message[at..].split_whitespace();
    let (_, line, _, column) = (words.next()?, words.next()?, words.next()?, words.next()?);
    let column: String = column.chars().take_while(char::is_ascii_digit).collect();
    let line: usize = line.parse().ok()?;
    let arrow = format!("--> {}:{line}:", path.display());
    let from = message.find(&arrow)? + arrow.len();
    let digits = message[from..]
        .chars()
        .take_while(char::is_ascii_digit)
        .count();
    if column.is_empty() || message[from..from + digits] == column {
        return None;
    }
    Some(format!(
        "{}{column}{}",
        &message[..from],
        &message[from + digits..]
    ))
}

/// Parses and validates config `text`; `path` names it in errors and `base`
/// is the folder relative paths resolve against.
pub fn parse(text: &str, path: &Path, base: &Path) -> Result<Config, ConfigError> {
    let (raw, rejected) =
        match serde_saphyr::from_str_with_options::<RawConfig>(text, yaml_options(text.len())) {
            Ok(mut raw) => {
                let workloads = std::mem::take(&mut raw.workloads)
                    .into_iter()
                    .enumerate()
                    .collect();
                (raw.with_workloads(workloads), Vec::new())
            }
            Err(e) => match workloads_one_by_one(text, path) {
                // The whole config's error, with its line and snippet, unless
                // another workload can run.
                Some((raw, rejected)) if !raw.workloads.is_empty() => (raw, rejected),
                _ => {
                    let message = e.to_string();
                    return Err(ConfigError::Parse {
                        path: path.into(),
                        message: tab_in_indentation(text, &message, path)
                            .unwrap_or_else(|| parse_message(&message, path)),
                    });
                }
            },
        };
    validate(raw, rejected, path, base).map_err(|problem| ConfigError::Invalid {
        path: path.into(),
        problem,
    })
}

/// A config with each workload beside its place in `workloads:`.
type Placed = RawConfig<(usize, RawWorkload)>;

/// A config the schema refuses, read again with each workload on its own:
/// the workloads the schema refuses (an unknown key, a word where a number
/// goes) are rejected, each with its line, and the others kept with their
/// places. `None` when the rest of the config is what was refused, or
/// every workload reads on its own (the whole config's error says it).
///
/// Each workload is read from its own lines by the same typed reading as
/// the whole config's (`learning: off` is the word `off` there, where a
/// reading without types takes it for `false`), and only when that fails,
/// as a YAML value (an alias to another workload's anchor is not in its
/// lines).
fn workloads_one_by_one(text: &str, path: &Path) -> Option<(Placed, Vec<Rejected>)> {
    // Where each workload is, whatever is wrong inside it (a key written
    // twice in one workload is found when it is read on its own) ...
    let mut options = yaml_options(text.len());
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::FirstWins;
    let mut raw: RawConfig<serde_saphyr::Spanned<serde_json::Value>> =
        serde_saphyr::from_str_with_options(text, options).ok()?;
    let entries = std::mem::take(&mut raw.workloads);
    let lines = yaml_lines(text);
    let starts: Vec<usize> = entries
        .iter()
        .map(|e| usize::try_from(e.defined.line()).unwrap_or(0))
        .collect();
    // ... while the rest of the config must be right as it is: read with
    // the workloads' lines left out (one empty entry in their place).
    let rest = match starts.first().and_then(|first| first.checked_sub(1)) {
        Some(first) => {
            let end = block_end(&lines, first);
            let indent: String = lines
                .get(first)?
                .chars()
                .take_while(|c| *c == ' ')
                .collect();
            let placeholder = format!("{indent}- ~");
            lines
                .iter()
                .enumerate()
                .map(|(i, line)| match i {
                    i if i == first => placeholder.as_str(),
                    i if (first..end).contains(&i) => "",
                    _ => line,
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        None => text.to_string(),
    };
    serde_saphyr::from_str_with_options::<RawConfig<serde::de::IgnoredAny>>(
        &rest,
        yaml_options(rest.len()),
    )
    .ok()?;
    let mut workloads = Vec::new();
    let mut rejected = Vec::new();
    for (index, entry) in entries.into_iter().enumerate() {
        let own_lines = entry_lines(&lines, &starts, index);
        let read = own_lines
            .as_deref()
            .map_or_else(|| Err(String::new()), |own| read_entry(own, path));
        let problem = match read {
            Ok(w) => {
                workloads.push((index, w));
                continue;
            }
            // The parser's words for it ("expected mapping start") say
            // nothing to whoever wrote `- [1, 2]` or `- cart`.
            Err(_) if !entry.value.is_object() => format!(
                "{}:{}:{}: a workload is a mapping of keys (`- name: …` with `namespace:`, `file:` or `query:`, …), not {}",
                path.display(),
                entry.defined.line(),
                entry.defined.column(),
                match &entry.value {
                    serde_json::Value::Null => "an empty entry".to_string(),
                    serde_json::Value::Array(_) => "a list".to_string(),
                    serde_json::Value::String(text) =>
                        format!("the text `{}`", crate::core::time::shown(text)),
                    other => format!("the value `{other}`"),
                }
            ),
            // Its lines are not all it is (an alias to another entry's
            // anchor), or they could not be cut out (an entry sharing its
            // line): read as a value.
            Err(problem) if problem.is_empty() || problem.contains("anchor") => {
                match serde_json::from_value::<RawWorkload>(entry.value.clone()) {
                    Ok(w) => {
                        workloads.push((index, w));
                        continue;
                    }
                    Err(e) => format!(
                        "{}:{}: {}",
                        path.display(),
                        entry.defined.line(),
                        parse_message(&e.to_string(), path)
                    ),
                }
            }
            Err(problem) => problem,
        };
        let key = |k: &str| {
            entry
                .value
                .get(k)
                .and_then(|v| v.as_str())
                .map(String::from)
        };
        let names = key("name").and_then(|name| {
            let namespace = key("namespace").unwrap_or_else(raw::default_namespace);
            let hpa = key("hpa").unwrap_or_else(|| name.clone());
            validate::valid_names(&namespace, &name, &hpa).then_some((namespace, name, hpa))
        });
        let who = names.as_ref().map_or_else(
            || format!("workload #{} (counting from 1)", index + 1),
            |(namespace, name, _)| format!("workload {namespace}/{name}"),
        );
        rejected.push(Rejected {
            index,
            names,
            problem: format!("{who} ({problem})"),
        });
    }
    if rejected.is_empty() {
        return None;
    }
    Some((raw.with_workloads(workloads), rejected))
}

/// The text of workload `index`, whose entries begin at lines `starts`
/// (from 1), with as many empty lines before it as it has in the file
/// (so that a parser's line numbers are the file's): from its first line
/// to the next entry's, or for the last to the next top-level key. `None`
/// when two entries share a line (a flow sequence).
fn entry_lines(lines: &[&str], starts: &[usize], index: usize) -> Option<String> {
    let first = starts[index].checked_sub(1)?;
    let end = match starts.get(index + 1) {
        Some(&next) => next.checked_sub(1).filter(|&next| next > first)?,
        None => block_end(lines, first),
    };
    let mut own = "\n".repeat(first);
    for line in lines.get(first..end)? {
        own.push_str(line);
        own.push('\n');
    }
    Some(own)
}

/// `text`'s lines as YAML counts them: a lone carriage return ends a line
/// too (`str::lines` does not), or a parser's line number points past the
/// lines (a config with a stray `\r` made the parser panic, found by the
/// fuzz test).
fn yaml_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(&text[start..i]);
                start = i + 1;
            }
            b'\r' => {
                lines.push(&text[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// The line after the `workloads:` block whose entry begins at line
/// `from` (from 0): the next top-level key, or the end.
fn block_end(lines: &[&str], from: usize) -> usize {
    (from + 1..lines.len())
        .find(|&i| {
            let line = lines[i];
            !line.is_empty() && !line.starts_with([' ', '-', '#', '\t'])
        })
        .unwrap_or(lines.len())
}

/// One workload's lines, read as the whole config's reading reads a
/// workload: `file:line:column: problem` when the schema refuses it.
fn read_entry(own: &str, path: &Path) -> Result<RawWorkload, String> {
    let options = yaml_options(own.len());
    let result = if own.trim_start().starts_with('-') {
        match serde_saphyr::from_str_with_options::<Vec<RawWorkload>>(own, options) {
            Ok(mut ws) if ws.len() == 1 => Ok(ws.remove(0)),
            Ok(_) => return Err(String::new()),
            Err(e) => Err(e),
        }
    } else {
        serde_saphyr::from_str_with_options::<RawWorkload>(own, options)
    };
    result.map_err(|e| {
        let message = parse_message(&e.to_string(), path);
        // `line L column C: what`, as `file:L:C: what` on one line.
        let first = message.lines().next().unwrap_or_default();
        let (at, what) = first.split_once(": ").unwrap_or(("", first));
        let mut words = at.split_whitespace();
        match (words.next(), words.next(), words.next(), words.next()) {
            (Some("line"), Some(line), Some("column"), Some(column)) => {
                // The line itself: the parser's snippet, on one line.
                let source = line
                    .parse::<usize>()
                    .ok()
                    .and_then(|l| own.lines().nth(l.checked_sub(1)?))
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| format!(" (in `{}`)", crate::core::time::shown(l)))
                    .unwrap_or_default();
                format!("{}:{line}:{column}: {what}{source}", path.display())
            }
            _ => format!("{}: {first}", path.display()),
        }
    })
}

/// The YAML parser's options for a text of `len` bytes. Its budget stops
/// documents that expand (aliases, merge keys) beyond their size; the
/// node, event and scalar counts are raised to what the text itself can
/// hold (a node takes at least two bytes), so that a fleet's size is
/// limited by memory, not by a default that refused 8,700 workloads.
/// Aliases keep the parser's own limits.
fn yaml_options(len: usize) -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: len.max(250_000),
            max_events: (2 * len).max(1_000_000),
            max_total_scalar_bytes: len.max(64 << 20),
        },
    }
}

/// What a `PromQL` query asked for every `step` seconds looks wrong for:
/// a counter read without a rate (it only grows: its value is no load, and
/// the bounds would grow with its age), and a range window shorter than
/// the step (`rate(x[5m])` every 15 minutes sees a third of the time, and
/// peaks between the samples are lost). Heuristics on the text, so
/// warnings, never errors.
#[must_use]
pub fn query_warnings(query: &str, step: i64) -> Vec<String> {
    let mut warnings = Vec::new();
    let counter = query
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .find(|word| {
            ["_total", "_count", "_sum", "_bucket"]
                .iter()
                .any(|suffix| word.len() > suffix.len() && word.ends_with(suffix))
        });
    let rated = [
        "rate(",
        "irate(",
        "increase(",
        "deriv(",
        "delta(",
        "idelta(",
    ]
    .iter()
    .any(|f| query.contains(f));
    if let (Some(counter), false) = (counter, rated) {
        warnings.push(format!(
            "query `{}` reads `{counter}`, which looks like a counter, without rate(): a counter only grows, so its value is no load (sum(rate({counter}[5m])) is)",
            crate::core::time::shown(query)
        ));
    }
    // Range selectors `[5m]` and subqueries `[1h:1m]` (their range).
    let windows: Vec<i64> = query
        .split('[')
        .skip(1)
        .filter_map(|rest| rest.split([']', ':']).next())
        .filter_map(|window| window.trim().parse::<crate::core::time::Span>().ok())
        .map(crate::core::time::Span::secs)
        .collect();
    if let Some(&shortest) = windows.iter().min() {
        if step > shortest {
            warnings.push(format!(
                "the step {} is longer than the query's range window [{}]: each point sees only that much of its step, and peaks in between are lost (make the window at least the step)",
                crate::core::time::Span::from_secs(step).map_or_else(|| format!("{step}s"), |s| s.to_string()),
                crate::core::time::Span::from_secs(shortest).map_or_else(|| format!("{shortest}s"), |s| s.to_string())
            ));
        }
    }
    warnings
}

/// The two forms of Kubernetes object names (RFC 1123).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// A DNS label (a namespace): at most 63 of `a-z`, `0-9` and `-`,
    /// beginning and ending with a letter or digit.
    Label,
    /// A DNS subdomain (a Deployment, an HPA): at most 253 characters,
    /// labels joined by `.`.
    Subdomain,
}

/// Whether `value` is a valid Kubernetes name of `kind`; the error says
/// which rule it breaks, with the value quoted (escaped, cut).
pub fn check_kubernetes_name(value: &str, kind: NameKind) -> Result<(), String> {
    let (longest, what) = match kind {
        NameKind::Label => (63, "a DNS label"),
        NameKind::Subdomain => (253, "a DNS subdomain"),
    };
    let label_ok = |label: &str| {
        let bytes = label.as_bytes();
        !bytes.is_empty()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && bytes[0] != b'-'
            && bytes[bytes.len() - 1] != b'-'
    };
    let ok = value.len() <= longest
        && match kind {
            NameKind::Label => label_ok(value),
            NameKind::Subdomain => value.split('.').all(|l| l.len() <= 63 && label_ok(l)),
        };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{}\" is not a Kubernetes name: expected {what} (at most {longest} characters of a-z, 0-9, '-'{}, beginning and ending with a letter or digit)",
            crate::core::time::shown(value),
            if kind == NameKind::Subdomain { " and '.'" } else { "" }
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shards_split_a_fleet_exactly_once_and_the_hash_is_fixed() {
        // Fixed for good: a workload must not move between releases.
        assert_eq!(super::shard_hash("shop", "cart"), 0x35f0_667b_92a5_642c); // checked in Python
        let shards: Vec<super::Shard> = (0..4).map(|i| format!("{i}/4").parse().unwrap()).collect();
        let mut sizes = [0; 4];
        for i in 0..1000 {
            // Names alike but for digits, as fleets name them.
            let (namespace, name) = (format!("team-{:02}", i % 50), format!("svc-{i:05}"));
            let holders: Vec<usize> = (0..4)
                .filter(|&k| shards[k].holds(&namespace, &name))
                .collect();
            assert_eq!(holders.len(), 1, "{name}");
            sizes[holders[0]] += 1;
        }
        assert!(sizes.iter().all(|&n| (200..300).contains(&n)), "{sizes:?}");
        for bad in ["4/4", "1/0", "x/2", "3", "-1/2"] {
            assert!(bad.parse::<super::Shard>().is_err(), "{bad}");
        }
    }

    use super::*;
    use crate::core::workload::Aggregate;
    use crate::edge::http::SecretSource;
    use crate::edge::prometheus::Lookback;
    use std::fmt::Write as _;

    #[test]
    fn a_rerun_window_is_a_duration_or_zero() {
        let window = |apply: &str| with_apply(apply).map(|c| c.apply_rules.rerun_window);
        assert_eq!(window("{}").unwrap(), 600);
        assert_eq!(window("{rerun_window: 5m}").unwrap(), 300);
        assert_eq!(window("{rerun_window: 0}").unwrap(), 0);
        for bad in ["{rerun_window: 7}", "{rerun_window: soon}"] {
            let e = window(bad).unwrap_err().to_string();
            assert!(e.contains("apply.rerun_window"), "{bad}: {e}");
        }
    }

    #[test]
    fn apply_every_is_the_run_interval_each_workloads_schedule_is_made_for() {
        let every = |apply: &str| {
            with_apply(apply).map(|c| (c.apply_rules.every, c.workloads[0].run_every.secs()))
        };
        assert_eq!(every("{}").unwrap(), (900, 900));
        assert_eq!(every("{every: 5m}").unwrap(), (300, 300));
        for bad in ["{every: 0}", "{every: soon}"] {
            assert!(every(bad).is_err(), "{bad}");
        }
        // A rerun is a run within `rerun_window` of the last: its default
        // stays under a shorter interval, and one set at or above it is
        // refused (every run would be a rerun, none would step).
        let window = |apply: &str| with_apply(apply).map(|c| c.apply_rules.rerun_window);
        assert_eq!(window("{every: 5m}").unwrap(), 200);
        assert_eq!(window("{every: 1h}").unwrap(), 600);
        let e = window("{every: 5m, rerun_window: 10m}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("must be shorter than apply.every"), "{e}");
    }

    /// A one-workload config with `apply: {apply}`.
    fn with_apply(apply: &str) -> Result<Config, ConfigError> {
        parse_text(&format!(
            "apply: {apply}\nworkloads:\n  - {{name: a, file: a.csv, target_per_replica: 1}}\n"
        ))
    }

    /// `text` as `config check` judges it: every workload valid.
    fn parse_text(text: &str) -> Result<Config, ConfigError> {
        parse(
            text,
            Path::new("homeostat.yaml"),
            Path::new("/etc/homeostat"),
        )
        .and_then(Config::all_valid)
    }

    /// One workload's mistake, of the schema or of a value, rejects that
    /// workload only: the others are kept, in order, and the rejected ones
    /// keep their names (for the report and the `GitOps` YAML) when those
    /// are valid and not another's.
    #[test]
    fn a_workloads_mistake_rejects_it_and_keeps_the_others() {
        // `learning: off` is the word there, not YAML 1.1's `false`; the
        // HPA of a workload refused for a typo is still its.
        let text = "workloads:
  - {name: a, file: a.csv, target_per_replica: 10}
  - {name: typo, namespace: shop, hpa: typo-hpa, file: a.csv, target_per_replcia: 10}
  - {name: b, file: a.csv, target_per_replica: 0}
  - name: c
    file: a.csv
    target_per_replica: 10
    learning: off
  - {name: a, file: a.csv, target_per_replica: 10}
  - {name: Bad_Name, file: a.csv, target_per_replica: 10}
  - {name: d, namespace: shop, hpa: typo-hpa, file: a.csv, target_per_replica: 10}
  - {name: typo, namespace: shop, file: a.csv, target_per_replica: 10}
";
        let config = parse(text, Path::new("h.yaml"), Path::new("/etc")).unwrap();
        let ids: Vec<String> = config.workloads.iter().map(Workload::id).collect();
        assert_eq!(ids, ["default/a", "default/c"]);
        let rejected: Vec<_> = config
            .rejected
            .iter()
            .map(|r| (r.index, r.names.clone()))
            .collect();
        let named = |ns: &str, name: &str, hpa: &str| Some((ns.into(), name.into(), hpa.into()));
        assert_eq!(
            rejected,
            [
                (1, named("shop", "typo", "typo-hpa")),
                (2, named("default", "b", "b")),
                // The first `a` runs: the second has no row of its own.
                (4, None),
                (5, None),
                (6, named("shop", "d", "typo-hpa")),
                // A second `shop/typo`: the first holds the name.
                (7, None),
            ]
        );
        assert!(
            config.rejected[0]
                .problem
                .starts_with("workload shop/typo (h.yaml:3:63: unknown field `target_per_replcia`"),
            "{}",
            config.rejected[0].problem
        );
        assert!(
            config.rejected[4]
                .problem
                .contains("hpa typo-hpa is workload shop/typo's too"),
            "{}",
            config.rejected[4].problem
        );
        assert_eq!(config.rejected[3].id(), "workload #6 (counting from 1)");
        assert_eq!(
            config.workloads[1].learning,
            crate::core::workload::Learning::Off
        );
        // `config check`: all six, at once.
        let e = config.all_valid().unwrap_err().to_string();
        assert!(e.starts_with("h.yaml: 6 problems:"), "{e}");
        // A key twice in one workload is that workload's mistake; twice
        // in `defaults:`, the config's.
        let twice = "workloads:\n  - {name: a, file: a.csv, target_per_replica: 10}\n  - name: b\n    file: a.csv\n    target_per_replica: 5\n    target_per_replica: 6\n";
        let config = parse(twice, Path::new("h.yaml"), Path::new("/etc")).unwrap();
        assert_eq!(config.workloads.len(), 1);
        assert!(
            config.rejected[0].problem.starts_with(
                "workload default/b (h.yaml:6:5: duplicate mapping key: target_per_replica"
            ),
            "{}",
            config.rejected[0].problem
        );
        // The first of two entries of one name runs, whichever is broken;
        // the broken second has no row of that name (the first's is).
        let dup = "workloads:\n  - {name: a, file: a.csv, target_per_replica: 10}\n  - {name: a, file: a.csv, target_per_replica: lots}\n";
        let config = parse(dup, Path::new("h.yaml"), Path::new("/etc")).unwrap();
        assert_eq!(config.workloads.len(), 1, "{:?}", config.rejected);
        assert_eq!(config.rejected[0].names, None);
        assert!(
            config.rejected[0]
                .problem
                .ends_with("(and default/a is defined twice: the first holds the name)"),
            "{}",
            config.rejected[0].problem
        );
        // A broken first holds the name: the second is refused as a second.
        let dup = "workloads:\n  - {name: a, file: a.csv, target_per_replica: lots}\n  - {name: a, file: a.csv, target_per_replica: 10}\n";
        let e = parse(dup, Path::new("h.yaml"), Path::new("/etc"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("2 problems") && e.contains("default/a: defined twice"),
            "{e}"
        );
        let defaults = format!("{twice}defaults:\n  level: 90\n  level: 80\n");
        assert!(parse(&defaults, Path::new("h.yaml"), Path::new("/etc")).is_err());
        // An entry that is not a mapping is said in words, not as the
        // parser's "expected mapping start".
        for (entry, what) in [
            ("[1, 2]", "not a list"),
            ("cart", "not the text `cart`"),
            ("42", "not the value `42`"),
            ("", "not an empty entry"),
        ] {
            let text = format!("{MINIMAL}  - {entry}\n");
            let config = parse(&text, Path::new("h.yaml"), Path::new("/etc")).unwrap();
            let problem = &config.rejected[0].problem;
            assert!(
                problem.starts_with("workload #2 (counting from 1) (h.yaml:5:")
                    && problem.contains("a workload is a mapping of keys")
                    && problem.ends_with(&format!("{what})")),
                "{problem}"
            );
        }
        // Every workload wrong: nothing to run, the config is refused.
        let none = "workloads:\n  - {name: b, file: a.csv, target_per_replica: 0}\n";
        assert!(parse(none, Path::new("h.yaml"), Path::new("/etc")).is_err());
    }

    const MINIMAL: &str =
        "workloads:\n  - name: cart\n    file: cart.csv\n    target_per_replica: 50\n";

    #[test]
    fn every_problem_of_a_workload_is_said_at_once() {
        let text = "workloads:\n  - {name: www, file: a.csv, target_per_replica: 0, headroom: -1, min_replicas: {floor: 5, ceiling: 2}, like: www}\n  - {name: ok, file: a.csv, target_per_replica: 5}\n";
        let config = parse(text, Path::new("h.yaml"), Path::new("/etc")).unwrap();
        assert_eq!(config.workloads.len(), 1);
        let problem = &config.rejected[0].problem;
        for said in [
            "workload default/www: target_per_replica must be a positive number",
            "; min_replicas: floor 5 and ceiling 2",
            "; headroom must be a factor of at least 1",
            "; like: expected `namespace/name`",
        ] {
            assert!(problem.contains(said), "{said} in {problem}");
        }
    }

    #[test]
    fn a_byte_that_is_not_utf8_is_said_with_its_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latin1.yaml");
        std::fs::write(&path, b"workloads:\n  - name: caf\xe9\n    file: x.csv\n").unwrap();
        let message = load(&path).unwrap_err().to_string();
        assert!(
            message.ends_with("invalid config: line 2 column 14: byte 0xE9 is not UTF-8: the config must be UTF-8 text (saved as Latin-1 or another code page?)"),
            "{message}"
        );
    }

    #[test]
    fn a_tab_in_the_indentation_is_said_on_its_own_line() {
        let text =
            "workloads:\n  - name: a\n    namespace: b\n\tfile: x.csv\n    target_per_replica: 5\n";
        let message = parse_text(text).unwrap_err().to_string();
        assert_eq!(
            message,
            "homeostat.yaml: invalid config: line 4 column 1: a tab in the indentation (\"\\tfile: x.csv\"): YAML indents with spaces only; replace the tab with spaces\n --> homeostat.yaml:4:1"
        );
        // A tab after spaces: its own column.
        let text = "workloads:\n  - name: a\n    namespace: b\n  \t  file: x.csv\n";
        let message = parse_text(text).unwrap_err().to_string();
        assert!(
            message.contains("line 4 column 3: a tab in the indentation"),
            "{message}"
        );
    }

    #[test]
    fn a_yaml_syntax_error_names_the_file_and_the_line_once() {
        let text = format!("{MINIMAL}    history: [oops\n");
        let message = parse_text(&text).unwrap_err().to_string();
        assert!(
            message.starts_with("homeostat.yaml: invalid config: line 5"),
            "{message}"
        );
        assert!(message.contains("--> homeostat.yaml:5:"), "{message}");
        assert!(
            !message.contains("<input>") && !message.contains("error: "),
            "{message}"
        );
    }

    #[test]
    fn a_long_line_error_points_at_the_column_the_message_names() {
        // Inline, the line is too long to show whole: the parser crops it.
        let text = "workloads:\n  - {name: a, file: nab__nyc_taxi.csv, target_per_replica: 10, min_replicas: {floor: -2}}\n";
        let message = parse_text(text).unwrap_err().to_string();
        let column = text.lines().nth(1).unwrap().find("-2").unwrap() + 1;
        assert!(
            message.contains(&format!("line 2 column {column}"))
                && message.contains(&format!("--> homeostat.yaml:2:{column}\n")),
            "{message}"
        );
    }

    #[test]
    fn a_wrong_number_or_a_repeated_key_says_what_to_write() {
        for bad in ["-2", "2.5", "99999999999"] {
            let text = format!("{MINIMAL}    min_replicas: {{floor: {bad}}}\n");
            let message = parse_text(&text).unwrap_err().to_string();
            assert!(
                message.contains("expected a whole number from 0 to 4294967295")
                    && !message.contains("u32"),
                "{bad}: {message}"
            );
        }
        let text = format!("{MINIMAL}    headroom: ten\n");
        let message = parse_text(&text).unwrap_err().to_string();
        assert!(
            message.contains("expected a number (such as 25 or 0.5)")
                && !message.contains("floating point"),
            "{message}"
        );
        let text = format!("{MINIMAL}    name: again\n");
        let message = parse_text(&text).unwrap_err().to_string();
        assert!(
            message.contains("duplicate mapping key: name (each key once")
                && !message.contains("DuplicateKeyPolicy"),
            "{message}"
        );
    }

    #[test]
    fn like_names_a_workload_as_namespace_slash_name() {
        let good = format!("{MINIMAL}    like: shop/cart\n");
        assert_eq!(
            parse_text(&good).unwrap().workloads[0].like.as_deref(),
            Some("shop/cart")
        );
        for bad in ["cart", "shop/", "/cart", "a/b/c"] {
            let text = format!("{MINIMAL}    like: {bad}\n");
            let message = parse_text(&text).unwrap_err().to_string();
            assert!(
                message.contains("cart") && message.contains("like: expected `namespace/name`"),
                "{bad}: {message}"
            );
        }
    }

    #[test]
    fn known_events_come_from_the_defaults_the_workload_and_ical_files() {
        let dir = std::env::temp_dir().join(format!("homeostat-known-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("sales.ics"),
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:spring sale\nDTSTART:20270301T080000Z\nDTEND:20270302T080000Z\nEND:VEVENT\nEND:VCALENDAR\n",
        )
        .unwrap();
        let text = "defaults:\n  events:\n    calendar:\n      - {name: black-friday, start: 2026-11-27T00:00:00Z, end: 2026-11-28T00:00:00Z, factor: 3, recurring: yearly}\nworkloads:\n  - name: cart\n    file: cart.csv\n    target_per_replica: 50\n    events:\n      min_z: 4\n      ical: [{file: sales.ics, factor: 2}]\n  - name: search\n    file: search.csv\n    target_per_replica: 50\n";
        let config = parse(text, Path::new("h.yaml"), &dir).unwrap();
        let names = |w: &Workload| {
            w.calendar
                .iter()
                .map(|e| e.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&config.workloads[0]), ["black-friday", "spring sale"]);
        assert_eq!(config.workloads[0].calendar[1].factor, Some(2.0));
        assert_eq!(config.workloads[0].events.detection.min_z, 4.0);
        assert_eq!(names(&config.workloads[1]), ["black-friday"]);

        let bad = text.replace("factor: 3,", "factor: 3, load: 10,");
        let e = parse(&bad, Path::new("h.yaml"), &dir)
            .and_then(Config::all_valid)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "defaults: events.calendar: known event `black-friday`: give exactly one of factor"
            ),
            "{e}"
        );
        let missing = text.replace("sales.ics", "nope.ics");
        let e = parse(&missing, Path::new("h.yaml"), &dir)
            .and_then(Config::all_valid)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("workload default/cart: events.ical: cannot read") && e.contains("nope.ics"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn minimal_config_gets_the_documented_defaults() {
        let config = parse_text(MINIMAL).unwrap();
        let w = &config.workloads[0];
        assert_eq!(w.id(), "default/cart");
        assert_eq!(w.hpa, "cart");
        assert_eq!(w.source, LoadSource::File("/etc/homeostat/cart.csv".into()));
        assert_eq!(w.horizon.to_string(), "7d");
        assert_eq!(w.history.to_string(), "28d");
        assert_eq!(w.policy.level.fraction(), 0.9);
        assert_eq!(w.policy.headroom, 1.2);
        assert_eq!(w.policy.min_replicas.floor(), 2);
    }

    #[test]
    fn the_design_example_parses() {
        let text = include_str!("../../../deploy/example-config.yaml");
        let config = parse_text(text).unwrap();
        assert_eq!(config.workloads[0].id(), "shop/cart");
        assert_eq!(config.prometheus.unwrap().max_concurrency, 4);
    }

    #[test]
    fn names_are_kubernetes_names_so_that_no_path_escapes_and_no_two_share_a_file() {
        for good in ["cart", "a", "svc-00001", "team-07", &"x".repeat(63)] {
            assert_eq!(
                check_kubernetes_name(good, NameKind::Label),
                Ok(()),
                "{good}"
            );
        }
        for good in ["cart.v2", "a.b-c.d", &format!("{}.{}", "x".repeat(63), "y")] {
            assert_eq!(
                check_kubernetes_name(good, NameKind::Subdomain),
                Ok(()),
                "{good}"
            );
        }
        for bad in [
            "",
            "../escaped",
            "/etc",
            "a/b",
            "a_b",
            "Cart",
            "café",
            "-a",
            "a-",
            "a..b",
            ".a",
            "a.",
            "tab\there",
            "\u{1b}[31mred",
            "\u{202e}txt.exe",
        ] {
            assert!(
                check_kubernetes_name(bad, NameKind::Subdomain).is_err(),
                "{bad:?}"
            );
            assert!(
                check_kubernetes_name(bad, NameKind::Label).is_err(),
                "{bad:?}"
            );
        }
        assert!(check_kubernetes_name("a.b", NameKind::Label).is_err());
        assert!(check_kubernetes_name(&"x".repeat(64), NameKind::Label).is_err());
        assert!(check_kubernetes_name(&"x".repeat(64), NameKind::Subdomain).is_err());
        // Control characters are escaped and a long value cut, in the config
        // error as everywhere a message quotes a value.
        let escape = MINIMAL.replace("name: cart", "name: \"a\\u001b[2Jb\"");
        let message = parse_text(&escape).unwrap_err().to_string();
        assert!(!message.contains('\u{1b}'), "{message:?}");
        assert!(
            message.contains("workload #1") && message.contains("\\u{1b}"),
            "{message}"
        );
        let long = MINIMAL.replace("name: cart", &format!("name: {}", "X".repeat(100_000)));
        let message = parse_text(&long).unwrap_err().to_string();
        assert!(message.len() < 1000, "{} bytes", message.len());
        assert!(message.contains("… (100000 characters)"), "{message}");
        for (field, text) in [
            ("namespace", format!("{MINIMAL}    namespace: ../escaped\n")),
            ("namespace", format!("{MINIMAL}    namespace: /tmp\n")),
            ("hpa", format!("{MINIMAL}    hpa: a/b\n")),
        ] {
            let message = parse_text(&text).unwrap_err().to_string();
            assert!(message.contains(&format!("{field} ")), "{message}");
            assert!(message.contains("is not a Kubernetes name"), "{message}");
        }
    }

    #[test]
    fn a_fleet_parses_whatever_its_size_and_an_alias_bomb_still_does_not() {
        // 10,000 workloads with every key: about 300,000 YAML nodes, over the
        // parser's default budget of 250,000 (it refused 8,700).
        let mut text = String::from("workloads:\n");
        for i in 0..10_000 {
            let _ = write!(
                text,
                "  - name: cart-{i}\n    namespace: shop-{}\n    hpa: cart-{i}\n    file: cart.csv\n    target_per_replica: 50\n    min_replicas: {{floor: 2, ceiling: 20}}\n    max_replicas: {{floor: 4, ceiling: 60}}\n    current: {{min_replicas: 3, max_replicas: 10}}\n    headroom: 1.3\n    level: 90\n    horizon: 7d\n    history: 28d\n    events: {{persistence: 6h, min_z: 3}}\n",
                i % 100
            );
        }
        assert_eq!(parse_text(&text).unwrap().workloads.len(), 10_000);
        // A billion laughs: nine levels of ten aliases each. The budget for
        // aliases is the parser's own.
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..9 {
            let p = level - 1;
            let _ = writeln!(
                bomb,
                "a{level}: &a{level} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]"
            );
        }
        let error = serde_saphyr::from_str_with_options::<serde_json::Value>(
            &bomb,
            yaml_options(bomb.len()),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("budget breached"), "{error}");
    }

    #[test]
    fn a_counter_without_rate_and_a_step_past_the_range_window_are_warned_of() {
        let warned = |query: &str, step: i64| query_warnings(query, step);
        assert!(warned("sum(rate(http_requests_total[5m]))", 300).is_empty());
        assert!(warned("sum(increase(jobs_total[15m]))", 900).is_empty());
        assert!(warned("sum(container_memory_working_set_bytes)", 3600).is_empty());
        let counter = warned("sum(http_requests_total{app=\"cart\"})", 300);
        assert_eq!(counter.len(), 1, "{counter:?}");
        assert!(
            counter[0].contains("`http_requests_total`") && counter[0].contains("without rate()")
        );
        let coarse = warned("sum(rate(http_requests_total[5m]))", 900);
        assert_eq!(coarse.len(), 1, "{coarse:?}");
        assert!(coarse[0].contains("the step 15m is longer than the query's range window [5m]"));
        // A subquery's range counts, not its resolution.
        assert!(warned("max_over_time(rate(x_total[1m])[1h:1m])", 300).len() == 1);
        assert!(warned("max_over_time(rate(x_total[10m])[1h:1m])", 300).is_empty());
        let text = "prometheus: {url: http://p:9090}\nworkloads:\n  - {name: cart, query: 'sum(http_requests_total)', step: 15m, target_per_replica: 5}\n";
        let config = parse_text(text).unwrap();
        assert_eq!(config.warnings().len(), 1);
        assert!(config.warnings()[0].starts_with("workload default/cart: query"));
        // A month written as `1m` is a minute: said.
        let text = format!("{MINIMAL}    horizon: 1m\n");
        let config = parse_text(&text).unwrap();
        assert_eq!(
            config.warnings(),
            ["workload default/cart: horizon: 1m is under an hour (`m` is minutes; a month is `30d`): the bounds are sized for the next 1m only"]
        );
        // A percentage written as a factor is refused with what was meant.
        let e = parse_text(&MINIMAL.replace(
            "target_per_replica: 50",
            "target_per_replica: 50\n    headroom: 20",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("got 20: did you mean 1.2?"), "{e}");
    }

    #[test]
    fn bad_configs_name_the_workload_and_the_value() {
        let cases = [
            (
                MINIMAL.replace(
                    "target_per_replica: 50",
                    "target_per_replica: 50\n    headrom: 2",
                ),
                "headrom",
            ),
            (
                MINIMAL.replace("50", "0"),
                "target_per_replica must be a positive number",
            ),
            (MINIMAL.replace("50", "-3"), "got -3"),
            (MINIMAL.replace("50", "\"many\""), "many"),
            (
                format!("{MINIMAL}{}", &MINIMAL[11..]),
                "default/cart: defined twice",
            ),
            (
                format!(
                    "{MINIMAL}{}",
                    MINIMAL[11..].replace("name: cart", "name: cart-eu\n    hpa: cart")
                ),
                "workload default/cart-eu: hpa cart is workload default/cart's too",
            ),
            (
                format!(
                    "{MINIMAL}    min_replicas: {{floor: 9}}\n    max_replicas: {{ceiling: 5}}\n"
                ),
                "min_replicas.floor 9 is above max_replicas.ceiling 5",
            ),
            (
                format!("{MINIMAL}    min_replicas: {{floor: 4, ceiling: 2}}\n"),
                "floor 4 and ceiling 2",
            ),
            (
                MINIMAL.replace("file: cart.csv", "query: up"),
                "no `prometheus:` section",
            ),
            (format!("{MINIMAL}    level: 150\n"), "got 150"),
            ("workloads: []\n".to_string(), "no workloads"),
        ];
        for (text, expected) in cases {
            let err = parse_text(&text).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{err:?} should contain {expected:?}"
            );
            assert!(err.starts_with("homeostat.yaml"), "{err}");
        }
    }

    const PROMETHEUS: &str = "prometheus: {url: http://prometheus:9090}\nworkloads:\n  - name: cart\n    query: sum(rate(requests[5m]))\n    target_per_replica: 50\n";

    #[test]
    fn a_query_workload_gets_the_issue_defaults_and_its_aggregate() {
        let config = parse_text(PROMETHEUS).unwrap();
        let w = &config.workloads[0];
        assert_eq!(w.step.unwrap().to_string(), "5m");
        assert_eq!(w.history.to_string(), "28d");
        let p = config.prometheus.unwrap();
        assert_eq!((p.max_concurrency, p.max_retries), (4, 3));
        assert_eq!(p.timeout.to_string(), "30s");
        assert_eq!(p.lookback.to_string(), "5m");
        assert_eq!(p.lookback.secs(60), 300);
        let with = |lookback: &str| {
            parse_text(&PROMETHEUS.replace(
                "prometheus:9090}",
                &format!("prometheus:9090, lookback: {lookback}}}"),
            ))
        };
        let victoria = with("step").unwrap().prometheus.unwrap().lookback;
        assert_eq!(
            (victoria, victoria.secs(60), victoria.secs(300)),
            (Lookback::Step, 60, 300)
        );
        assert_eq!(
            with("2m").unwrap().prometheus.unwrap().lookback.secs(60),
            120
        );
        let wrong = with("soon").unwrap_err().to_string();
        assert!(wrong.contains("or `step`"), "{wrong}");
        assert_eq!(p.max_points_per_request, 11_001);
        let points = |n: &str| {
            parse_text(&PROMETHEUS.replace(
                "prometheus:9090}",
                &format!("prometheus:9090, max_points_per_request: {n}}}"),
            ))
        };
        assert_eq!(
            points("3000")
                .unwrap()
                .prometheus
                .unwrap()
                .max_points_per_request,
            3000
        );
        let one = points("1").unwrap_err().to_string();
        assert!(
            one.contains("max_points_per_request must be at least 2, got 1"),
            "{one}"
        );
        let summed = parse_text(&format!("{PROMETHEUS}    aggregate: sum\n")).unwrap();
        assert_eq!(
            summed.workloads[0].source,
            LoadSource::Query {
                query: "sum(rate(requests[5m]))".into(),
                aggregate: Some(Aggregate::Sum)
            }
        );
    }

    #[test]
    fn secrets_come_from_files_or_the_environment_never_the_yaml() {
        let with = |prometheus: &str| {
            parse_text(&PROMETHEUS.replace(
                "prometheus: {url: http://prometheus:9090}",
                &format!("prometheus: {{url: http://prometheus:9090, {prometheus}}}"),
            ))
        };
        let p = with("basic_auth: {username: h, password_file: secret/pw}")
            .unwrap()
            .prometheus
            .unwrap();
        assert_eq!(
            p.basic_auth,
            Some((
                "h".into(),
                SecretSource::File("/etc/homeostat/secret/pw".into())
            ))
        );
        let p = with("bearer_token_env: TOKEN").unwrap().prometheus.unwrap();
        assert_eq!(p.bearer_token, Some(SecretSource::Env("TOKEN".into())));
        let refused = [
            ("basic_auth: {username: h, password: hunter2}", "password"),
            (
                "basic_auth: {username: h}",
                "give `password_file` (a path) or `password_env`",
            ),
            (
                "basic_auth: {username: h, password_file: a, password_env: B}",
                "not both",
            ),
            (
                "bearer_token_file: t, basic_auth: {username: h, password_env: B}",
                "basic_auth or a bearer token, not both",
            ),
            (
                "headers: {Authorization: Bearer abc}",
                "credentials do not belong in the YAML",
            ),
            (
                "headers: {X-Api-Key: abc}",
                "headers.X-Api-Key: credentials do not belong",
            ),
        ];
        for (setting, expected) in refused {
            let err = with(setting).unwrap_err().to_string();
            assert!(err.contains(expected), "{setting}: {err}");
            assert!(!err.contains("hunter2") || expected == "password", "{err}");
        }
        for (url, expected) in [
            (
                "http://homeostat:hunter2@prometheus:9090",
                "must not hold credentials",
            ),
            ("prometheus:9090", "must start with http:// or https://"),
            (
                "HTTPS://homeostat:hunter2@prometheus",
                "must start with http://",
            ),
            ("https:///api", "has no host"),
            (
                "http://prometheus:99999",
                "prometheus.url is not a URL the client can use: invalid port number",
            ),
            (
                "http://prometheus:9090/api/v1/query",
                "without the API path homeostat adds: drop `/api/v1/query`",
            ),
        ] {
            let err = parse_text(&PROMETHEUS.replace("http://prometheus:9090", url))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{url}: {err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    /// Found by the fuzz test: YAML ends a line at a lone carriage return,
    /// `str::lines` does not, and a workload's line number pointed past
    /// the lines read.
    #[test]
    fn a_lone_carriage_return_is_a_line_end_for_the_workloads_lines_too() {
        let text = "# The configuration of DESIGN.md: a workload read from Prometheus.\n# (The bundled runnable example over files is data/homeostat.yaml.)\nprometheus:                      # needed when a workload has `query`\n  url: http://prometheus.monitoring:9090\n  timeout: 30s\n  max_concurrency: 4\n  basic_auth: {username: homeostat, password_file: /etc/homeostat/promet\r\r\u{fffd}heus-password}\nalertmanager: {url: http://alertmanager.monitoring:9093}   # optional\npushgateway: {url: http://pushgateway.monitoring:9091}     # optional\nstore: models/                   # model store\ndefaults:\n  history: 28d\n  step: 5m\n  horizon: 7d\n  level: 90                      # central interval, percent\n  headroom: 1.2\nworkloads:\n  - name: cart\n    ";
        let _ = parse(text, Path::new("h.yaml"), Path::new("/etc"));
        assert_eq!(yaml_lines("a\rb\r\nc\nd"), ["a", "b", "c", "d"]);
    }

    #[test]
    fn a_replica_range_written_as_a_number_is_said_as_a_range() {
        let err = parse_text(&MINIMAL.replace(
            "target_per_replica: 50",
            "target_per_replica: 50\n    min_replicas: 2",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("is a range of replicas, not a number: write `{floor: 2}`"),
            "{err}"
        );
        // A mapping still names its unknown key.
        let err = parse_text(&MINIMAL.replace(
            "target_per_replica: 50",
            "target_per_replica: 50\n    max_replicas: {flor: 3}",
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("flor"), "{err}");
        let ok = parse_text(&MINIMAL.replace(
            "target_per_replica: 50",
            "target_per_replica: 50\n    max_replicas: {floor: 3, ceiling: 9}",
        ))
        .unwrap();
        assert_eq!(ok.workloads[0].policy.max_replicas.ceiling(), 9);
    }

    #[test]
    fn the_store_is_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("taxi.csv"), "timestamp,value\n").unwrap();
        let with = |store: &str| {
            parse(
                &format!("store: {store}\n{MINIMAL}"),
                Path::new("h.yaml"),
                dir.path(),
            )
        };
        let err = with("\"\"").unwrap_err().to_string();
        assert!(err.contains("store: is empty"), "{err}");
        let err = with("taxi.csv").unwrap_err().to_string();
        assert!(err.contains("taxi.csv is a file, not a folder"), "{err}");
        assert_eq!(
            with("models").unwrap().store,
            Some(dir.path().join("models"))
        );
    }

    #[test]
    fn a_notified_servers_url_is_its_address_not_its_api_path() {
        for (section, url, path) in [
            (
                "alertmanager",
                "http://am:9093/api/v2/alerts",
                "/api/v2/alerts",
            ),
            (
                "pushgateway",
                "http://pg:9091/metrics/job/homeostat",
                "/metrics/job/homeostat",
            ),
        ] {
            let err = parse_text(&format!("{section}: {{url: {url}}}\n{MINIMAL}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("drop `{path}`")), "{err}");
        }
        // A path prefix of a server behind a proxy is its address.
        assert!(parse_text(&format!(
            "alertmanager: {{url: http://proxy/alertmanager}}\n{MINIMAL}"
        ))
        .is_ok());
        // The API server's service proxy is a path prefix too.
        assert!(parse_text(&format!("prometheus: {{url: https://kubernetes.default.svc/api/v1/namespaces/monitoring/services/prometheus-k8s:9090/proxy}}\n{MINIMAL}")).is_ok());
        assert!(parse_text(&format!(
            "prometheus: {{url: 'http://[::1]:9090/prometheus-api/'}}\n{MINIMAL}"
        ))
        .is_ok());
        let err = parse_text(&format!(
            "prometheus: {{url: http://p:9090/api/v1/}}\n{MINIMAL}"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("drop `/api/v1`"), "{err}");
        let err = parse_text(&MINIMAL.replace(
            "target_per_replica: 50",
            "target_per_replica: 50\n    headroom: 120",
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("got 120: did you mean 1.2?"), "{err}");
    }

    #[test]
    fn identity_labels_are_label_names_of_our_own_with_values() {
        let with = |section: &str, labels: &str| {
            parse_text(&format!(
                "{section}: {{url: http://{section}:1, labels: {labels}}}\n{MINIMAL}"
            ))
        };
        let config = with("alertmanager", "{cluster: eu-1, region: \"eu/west\"}").unwrap();
        let labels = &config.alertmanager.unwrap().labels;
        assert_eq!(labels["cluster"], "eu-1");
        assert_eq!(labels["region"], "eu/west");
        for (section, labels, expected) in [
            (
                "alertmanager",
                "{workload: x}",
                "\"workload\" is a label homeostat sets itself",
            ),
            ("alertmanager", "{severity: x}", "homeostat sets itself"),
            (
                "pushgateway",
                "{job: x}",
                "\"job\" is a label homeostat sets itself",
            ),
            ("pushgateway", "{command: x}", "homeostat sets itself"),
            ("pushgateway", "{1st: x}", "\"1st\" is not a label name"),
            ("pushgateway", "{__name__: x}", "not a label name"),
            ("alertmanager", "{my-cluster: x}", "not a label name"),
            (
                "alertmanager",
                "{cluster: \"\"}",
                "alertmanager.labels.cluster is empty",
            ),
        ] {
            let err = with(section, labels).unwrap_err().to_string();
            assert!(err.contains(expected), "{section} {labels}: {err}");
            assert!(err.contains(&format!("{section}.labels")), "{err}");
        }
        // Each server has its own: `workload` is on the pushed metrics,
        // `severity` only on alerts.
        assert!(with("pushgateway", "{workload: x}").is_err());
        assert!(with("pushgateway", "{severity: x}").is_ok());
    }

    #[test]
    fn aggregate_belongs_to_queries_only() {
        let err = parse_text(&format!("{MINIMAL}    aggregate: sum\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`aggregate` applies to a Prometheus `query`"),
            "{err}"
        );
        let err = parse_text(&format!("{PROMETHEUS}    aggregate: median\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("median"), "{err}");
    }
}
