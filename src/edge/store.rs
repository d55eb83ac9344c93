//! Model store (edge): per workload, the model that was chosen, the last
//! recommendation and the history of recommendations and applied values,
//! as versioned JSON (`<store>/<namespace>/<name>.json`).
//!
//! Written atomically: a temporary file in the same folder, fsync, rename,
//! fsync of the folder; a crash leaves the old file or the new one, never a
//! mix. A file that cannot be read back (corrupt, truncated, written by a
//! newer homeostat) is renamed aside, never deleted, and reported; the run
//! goes on as if there were none.
//!
//! One writer at a time: a run that writes the store holds an advisory
//! lock on `<store>/.lock` ([`Store::lock`]); a second run (a manual one
//! during the scheduled job's) waits for it briefly, then gives up saying who
//! holds it, rather than interleave and lose records. The kernel releases
//! the lock when the holder exits, however it exits.

use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The schema version this homeostat writes and reads.
pub const STORE_VERSION: u32 = 1;
/// Runs kept per workload (about 10 days at one run every 15 minutes).
pub const HISTORY_KEPT: usize = 1000;
/// Seconds back from the store's latest run whose runs keep their
/// `schedule_ahead` (see `WorkloadState::record`): two hours, twice
/// [`crate::core::apply::SCHEDULE_AGREE_WITHIN`].
pub const SCHEDULES_KEPT_FOR: i64 = 2 * crate::core::apply::SCHEDULE_AGREE_WITHIN;

/// The model a run chose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelState {
    pub model: String,
    pub seasonality: Option<String>,
}

/// One run's outcome for a workload (a plain record of the core, kept
/// here run after run).
pub use crate::core::incident::RunRecord;

/// Everything kept about one workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadState {
    pub version: u32,
    pub namespace: String,
    pub name: String,
    pub model: Option<ModelState>,
    /// Oldest first; the last is the latest run.
    pub history: Vec<RunRecord>,
    /// What homeostat could not heal, oldest first (open ones and the
    /// latest closed; absent from files written before issue 21).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incidents: Vec<crate::core::incident::Incident>,
    /// The config's settings at the last run, to see what an operator
    /// changed between runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<crate::core::incident::Fingerprint>,
    /// Settings the operator chose during incidents, suggested for the
    /// config until it takes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learned: Vec<crate::core::incident::Learned>,
    /// Known events learned from recurring incidents, until the config's
    /// calendar takes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learned_events: Vec<crate::core::recurring::LearnedEvent>,
    /// The config file (absolute) of the last `apply` that recorded the
    /// workload: a store shared by several configs closes the incidents
    /// of a workload that left a config only for that config's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// The highest incident number given so far (`ns/name#n`): a file set
    /// aside as corrupt took its incidents with it, and the next one was
    /// `#1` again, an id an earlier incident had had.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub incidents_counted: u32,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl WorkloadState {
    #[must_use]
    pub fn new(namespace: &str, name: &str) -> WorkloadState {
        WorkloadState {
            version: STORE_VERSION,
            namespace: namespace.to_string(),
            name: name.to_string(),
            model: None,
            history: Vec::new(),
            incidents: Vec::new(),
            settings: None,
            learned: Vec::new(),
            learned_events: Vec::new(),
            config: None,
            incidents_counted: 0,
        }
    }

    /// The latest run, if any.
    #[must_use]
    pub fn last(&self) -> Option<&RunRecord> {
        self.history.last()
    }

    /// Adds a run, keeping the last [`HISTORY_KEPT`].
    pub fn record(&mut self, run: RunRecord) {
        self.history.push(run);
        let excess = self.history.len().saturating_sub(HISTORY_KEPT);
        self.history.drain(..excess);
        // Only the schedule of the last run before a moment is read (by
        // the run at that moment, within the hour): kept on the runs of
        // the last two hours by their moment, however many reruns of one
        // moment there are (counted by runs, 8 reruns pushed out the run
        // before them, and its hold went back to the old rule). A week of
        // entries on each of 1,000 runs would make the file far larger.
        // Only the runs still holding one are read (this runs on every
        // workload's every run; the history is in time order, the new
        // run last, and the older runs were trimmed when they aged).
        let at = |r: &RunRecord| crate::core::time::parse_timestamp(&r.at).ok();
        let holding = |r: &&mut RunRecord| !r.schedule_ahead.is_empty();
        let newest = self
            .history
            .iter()
            .filter(|r| !r.schedule_ahead.is_empty())
            .chain(self.history.last())
            .filter_map(at)
            .max();
        for run in self.history.iter_mut().filter(holding) {
            let kept = at(run)
                .zip(newest)
                .is_some_and(|(t, n)| n - t <= SCHEDULES_KEPT_FOR);
            if !kept {
                run.schedule_ahead = Vec::new();
            }
        }
    }
}

/// The store folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    root: PathBuf,
}

/// What loading found: the state (none if new or set aside) and, when a
/// file was set aside, what happened to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub state: Option<WorkloadState>,
    pub set_aside: Option<String>,
    /// The file is there but could not be read (permissions, an I/O
    /// error): it must not be written over, or its history is lost.
    pub unreadable: bool,
    /// The highest incident number a file set aside still showed (its
    /// text, however broken): the next incident is numbered after it.
    pub incidents_before: u32,
}

/// The highest `n` of an incident id `namespace/name#n` in `text` (0 for
/// none): what a state file too broken to read still says.
fn highest_incident_number(text: &str, namespace: &str, name: &str) -> u32 {
    let prefix = format!("{namespace}/{name}#");
    text.match_indices(&prefix)
        .filter_map(|(at, _)| {
            let digits: String = text[at + prefix.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .max()
        .unwrap_or(0)
}

/// Why a workload's state file cannot be used; the message names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    /// The file exists but cannot be read.
    #[error("{0}")]
    Unreadable(String),
    /// Not this version's valid state: `tag` (`corrupt`, `newer`, `older`)
    /// names the file it is set aside as, `why` says what is wrong.
    #[error("{}: {why}", path.display())]
    Invalid {
        path: PathBuf,
        tag: &'static str,
        why: String,
    },
}

/// Why the model store could not be taken or written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("model store {} is in use by another homeostat run ({holder}); waited {waited} s for it: run again once it has finished", root.display())]
    InUse {
        root: PathBuf,
        holder: String,
        waited: u64,
    },
    #[error("model store {}: cannot {what}: {cause} (a run that writes the store needs a writable folder)", root.display())]
    Unwritable {
        root: PathBuf,
        what: &'static str,
        // `cause`, not `source`: the message already says it.
        cause: std::sync::Arc<std::io::Error>,
    },
    #[error("cannot {what} {}: {cause}", path.display())]
    NotSaved {
        path: PathBuf,
        what: &'static str,
        // `cause`, not `source`: the message already says it.
        cause: std::sync::Arc<std::io::Error>,
    },
}

impl StoreError {
    /// A stable name for the kind of failure, for logs and the run summary.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            StoreError::InUse { .. } => "store_in_use",
            StoreError::Unwritable { .. } | StoreError::NotSaved { .. } => "store_unwritable",
        }
    }
}

/// The store's lock, held until dropped (a shard's: the store's, shared,
/// and its shard's own).
#[derive(Debug)]
pub struct StoreLock {
    _files: Vec<fs::File>,
}

/// How long a run waits for another one's lock on the store.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl Store {
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// Takes the store's lock, waiting up to `wait` for another run to
    /// let go of it. The holder's process id and start are written into
    /// the lock file, so that the next run can say who holds it.
    ///
    /// # Errors
    /// The store is held by another run past `wait`, or cannot be written.
    pub fn lock(&self, wait: std::time::Duration) -> Result<StoreLock, StoreError> {
        self.lock_shard(None, wait)
    }

    /// [`Store::lock`] for the run of one shard (`(index, count)`) of a
    /// sharded fleet: the shards hold disjoint workloads, so they share
    /// the store's lock (which keeps a whole-fleet run, or `incident note`,
    /// out while any runs) and each takes its shard's own,
    /// `.lock-shard-<index>-of-<count>`: four shards' `apply` run at once,
    /// where one lock made each wait for the others (and give up after
    /// `wait`).
    ///
    /// # Errors
    /// The store or the shard is held by another run past `wait`, or the
    /// store cannot be written.
    pub fn lock_shard(
        &self,
        shard: Option<(u64, u64)>,
        wait: std::time::Duration,
    ) -> Result<StoreLock, StoreError> {
        fs::create_dir_all(&self.root).map_err(|e| self.unwritable("create it", e))?;
        let deadline = std::time::Instant::now() + wait;
        let store = self.take(".lock", shard.is_some(), deadline, wait)?;
        let mut files = vec![store];
        if let Some((index, count)) = shard {
            let name = format!(".lock-shard-{index}-of-{count}");
            files.push(self.take(&name, false, deadline, wait)?);
        }
        // Who holds it, for the next run's message (best effort: the lock
        // holds whether or not this is written), in the file held alone.
        // The wall clock: when the holder took the lock, for a person.
        #[allow(clippy::disallowed_methods)]
        let _ = files.last_mut().map(|file| {
            file.set_len(0).and_then(|()| {
                write!(
                    file,
                    "process {} since {}",
                    std::process::id(),
                    crate::core::time::format_timestamp(chrono::Utc::now().timestamp())
                )
            })
        });
        Ok(StoreLock { _files: files })
    }

    fn unwritable(&self, what: &'static str, source: std::io::Error) -> StoreError {
        StoreError::Unwritable {
            root: self.root.clone(),
            what,
            cause: std::sync::Arc::new(source),
        }
    }

    /// Locks the file `name` of the store (`shared` or alone), waiting
    /// until `deadline` for its holders to let go.
    fn take(
        &self,
        name: &str,
        shared: bool,
        deadline: std::time::Instant,
        wait: std::time::Duration,
    ) -> Result<fs::File, StoreError> {
        let path = self.root.join(name);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| {
                let what = if shared || name == ".lock" {
                    "open its lock file .lock"
                } else {
                    "open its shard's lock file"
                };
                self.unwritable(what, e)
            })?;
        loop {
            let tried = if shared {
                file.try_lock_shared()
            } else {
                file.try_lock()
            };
            match tried {
                Ok(()) => {
                    if shared {
                        // Held by shards now: a whole-fleet run that waits
                        // names them, not the last whole-fleet run written
                        // here (truncated only once held: the lock is
                        // advisory, and a holder's text must stay).
                        let _ = file.set_len(0);
                    }
                    return Ok(file);
                }
                Err(fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    let holder = fs::read_to_string(&path).unwrap_or_default();
                    let holder = if holder.trim().is_empty() {
                        "the shards of a sharded run".to_string()
                    } else {
                        crate::core::time::shown(holder.trim())
                    };
                    return Err(StoreError::InUse {
                        root: self.root.clone(),
                        holder,
                        waited: wait.as_secs(),
                    });
                }
                Err(fs::TryLockError::Error(e)) => return Err(self.unwritable("lock it", e)),
            }
        }
    }

    /// The store's folder.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a workload's state lives. Names are Kubernetes names (DNS
    /// labels), safe as path parts; anything else is escaped.
    #[must_use]
    pub fn path(&self, namespace: &str, name: &str) -> PathBuf {
        let safe = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
                .trim_start_matches('.')
                .to_string()
        };
        self.root
            .join(safe(namespace))
            .join(format!("{}.json", safe(name)))
    }

    /// Reads a workload's state. A file that is not this version's valid
    /// JSON is renamed to `<file>.<why>-<unix seconds>` and reported.
    #[must_use]
    pub fn load(&self, namespace: &str, name: &str, now: i64) -> Loaded {
        let path = self.path(namespace, name);
        let (tag, why) = match self.read(namespace, name) {
            Ok(state) => {
                return Loaded {
                    state,
                    set_aside: None,
                    unreadable: false,
                    incidents_before: 0,
                }
            }
            Err(Unusable::Unreadable(why)) => {
                return Loaded {
                    state: None,
                    set_aside: Some(why),
                    unreadable: true,
                    incidents_before: 0,
                }
            }
            Err(Unusable::Invalid { tag, why, .. }) => (tag, why),
        };
        let incidents_before = fs::read(&path).map_or(0, |bytes| {
            highest_incident_number(&String::from_utf8_lossy(&bytes), namespace, name)
        });
        // Never over an earlier file set aside.
        let mut aside = path.with_extension(format!("json.{tag}-{now}"));
        let mut n = 1;
        while aside.exists() {
            aside = path.with_extension(format!("json.{tag}-{now}-{n}"));
            n += 1;
        }
        let moved = match fs::rename(&path, &aside) {
            Ok(()) => format!("set aside as {}", aside.display()),
            Err(e) => format!("could not be set aside ({e})"),
        };
        Loaded {
            state: None,
            set_aside: Some(format!("{}: {why}; {moved}", path.display())),
            unreadable: false,
            incidents_before,
        }
    }

    /// Reads a workload's state, touching nothing: `None` when it has none.
    /// A time that is not one (a hand edit: `"at": "yesterday"`) makes it
    /// invalid: the order of runs and incidents rests on them.
    ///
    /// # Errors
    /// The file cannot be read, or is not this version's valid state.
    pub fn read(&self, namespace: &str, name: &str) -> Result<Option<WorkloadState>, Unusable> {
        let path = self.path(namespace, name);
        let text = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Unusable::Unreadable(format!(
                    "{}: cannot read: {e}",
                    path.display()
                )))
            }
        };
        let (tag, why) = match serde_json::from_slice::<serde_json::Value>(&text) {
            Err(e) => ("corrupt", format!("not valid JSON ({e})")),
            Ok(value) => match value.get("version").and_then(serde_json::Value::as_u64) {
                Some(v) if v > u64::from(STORE_VERSION) => (
                    "newer",
                    format!(
                        "written by a newer homeostat (version {v}; this one reads {STORE_VERSION})"
                    ),
                ),
                _ => match serde_json::from_value::<WorkloadState>(value) {
                    Ok(state) if state.version == STORE_VERSION => match bad_time(&state) {
                        None => return Ok(Some(state)),
                        Some(bad) => ("corrupt", format!("not a workload state: {bad}")),
                    },
                    Ok(state) => (
                        "older",
                        format!("schema version {} is not {STORE_VERSION}", state.version),
                    ),
                    // Read again from the text for the line and column (a
                    // value has none).
                    Err(e) => (
                        "corrupt",
                        format!(
                            "not a workload state ({})",
                            serde_json::from_slice::<WorkloadState>(&text)
                                .err()
                                .map_or_else(|| e.to_string(), |e| e.to_string())
                        ),
                    ),
                },
            },
        };
        Err(Unusable::Invalid { path, tag, why })
    }

    /// Writes a workload's state atomically.
    ///
    /// # Errors
    /// The file (or its folder) cannot be written.
    pub fn save(&self, state: &WorkloadState) -> Result<(), StoreError> {
        let path = self.path(&state.namespace, &state.name);
        let folder = path.parent().expect("a store path has a folder");
        let failed = |what: &'static str, path: &Path, source| StoreError::NotSaved {
            path: path.to_path_buf(),
            what,
            cause: std::sync::Arc::new(source),
        };
        fs::create_dir_all(folder).map_err(|e| failed("create", folder, e))?;
        let text = serde_json::to_vec_pretty(state).expect("a state always serialises");
        write_atomically(&path, &text).map_err(|e| failed("write", &path, e))
    }
}

impl Store {
    /// The workload state files of the store (`<namespace>/<name>.json`),
    /// whichever workloads they belong to; none when the store is not
    /// there yet.
    #[must_use]
    pub fn workload_files(&self) -> Vec<PathBuf> {
        let Ok(folders) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = folders
            .flatten()
            .filter(|f| f.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|f| fs::read_dir(f.path()).ok())
            .flat_map(|entries| entries.flatten().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
    }

    /// Where the fleet's shapes live: `<store>/fleet-shapes.json`.
    #[must_use]
    pub fn shapes_path(&self) -> PathBuf {
        self.root.join(SHAPES_FILE)
    }

    /// The fleet's shapes a run learned, `None` when none were kept.
    ///
    /// # Errors
    /// The file cannot be read, or is not this version's shapes (the run
    /// goes on without them; the next run that learns writes it anew).
    pub fn read_shapes(&self) -> Result<Option<crate::core::shapes::FleetShapes>, String> {
        let path = self.shapes_path();
        let text = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
        };
        let shapes: crate::core::shapes::FleetShapes = serde_json::from_slice(&text)
            .map_err(|e| format!("{}: not the fleet's shapes ({e})", path.display()))?;
        if shapes.version != crate::core::shapes::SHAPES_VERSION {
            return Err(format!(
                "{}: version {} is not {}",
                path.display(),
                shapes.version,
                crate::core::shapes::SHAPES_VERSION
            ));
        }
        shapes
            .check()
            .map_err(|e| format!("{}: not usable: {e}", path.display()))?;
        Ok(Some(shapes))
    }

    /// Writes the fleet's shapes atomically (two runs writing at once:
    /// the last one's, whole).
    ///
    /// # Errors
    /// The file (or its folder) cannot be written.
    pub fn save_shapes(&self, shapes: &crate::core::shapes::FleetShapes) -> Result<(), StoreError> {
        let path = self.shapes_path();
        let failed = |what: &'static str, path: &Path, source| StoreError::NotSaved {
            path: path.to_path_buf(),
            what,
            cause: std::sync::Arc::new(source),
        };
        fs::create_dir_all(&self.root).map_err(|e| failed("create", &self.root, e))?;
        let text = serde_json::to_vec_pretty(shapes).expect("shapes always serialise");
        write_atomically(&path, &text).map_err(|e| failed("write", &path, e))
    }
}

/// The fleet's shapes' file name in the store.
pub const SHAPES_FILE: &str = "fleet-shapes.json";

/// Where a crash test kills the process (tests/it/crash.rs).
fn fault_point(name: &str) {
    if crate::edge::fault::reached(name) {
        crate::edge::fault::wait_to_be_killed();
    }
}

/// The state's JSON, through [`crate::edge::atomic::write_atomically`], with the
/// crash test's two fault points: half the file written; all of it written,
/// before the sync and the rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::edge::atomic::write_atomically(path, |file| {
        let half = bytes.len() / 2;
        file.write_all(&bytes[..half])?;
        fault_point("store-mid-write");
        file.write_all(&bytes[half..])?;
        fault_point("store-before-rename");
        Ok(())
    })
}

/// The first time in `state` that is not an RFC 3339 one, in words.
fn bad_time(state: &WorkloadState) -> Option<String> {
    // Empty: a run that had no "now" (its history could not be read).
    let bad = |field: String, at: &str| {
        (!at.is_empty() && crate::core::time::parse_timestamp(at).is_err())
            .then(|| format!("{field} {at:?} is not an RFC 3339 time"))
    };
    for (i, run) in state.history.iter().enumerate() {
        if let Some(b) = bad(format!("history[{i}].at"), &run.at) {
            return Some(b);
        }
    }
    for (i, incident) in state.incidents.iter().enumerate() {
        let times = [
            ("opened", Some(&incident.opened)),
            ("last_seen", Some(&incident.last_seen)),
            ("closed", incident.closed.as_ref()),
            ("started", incident.started.as_ref()),
        ];
        for (name, at) in times {
            if let Some(b) = at.and_then(|at| bad(format!("incidents[{i}].{name}"), at)) {
                return Some(b);
            }
        }
        for (j, change) in incident.operator_changes.iter().enumerate() {
            if let Some(b) = bad(
                format!("incidents[{i}].operator_changes[{j}].at"),
                &change.at,
            ) {
                return Some(b);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(at: &str, min: u32) -> RunRecord {
        RunRecord {
            at: at.into(),
            status: "ok".into(),
            recommended_min: Some(min),
            recommended_max: Some(10),
            applied_min: Some(min),
            applied_max: Some(10),
            dry_run: false,
            seen: None,
            outside_change: None,
            step_from: None,
            left: None,
            ran_at: None,
            scheduled_min: None,
            schedule_ahead: Vec::new(),
        }
    }

    #[test]
    fn two_runs_in_a_row_keep_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        assert_eq!(store.load("shop", "cart", 0).state, None);
        let mut state = WorkloadState::new("shop", "cart");
        state.record(record("2026-11-26T12:00:00Z", 3));
        store.save(&state).unwrap();
        let mut again = store.load("shop", "cart", 0).state.unwrap();
        again.record(record("2026-11-26T12:15:00Z", 4));
        store.save(&again).unwrap();
        let read = store.load("shop", "cart", 0).state.unwrap();
        assert_eq!(read.history.len(), 2);
        assert_eq!(read.last().unwrap().recommended_min, Some(4));
        // No temporary file is left behind.
        let files: Vec<_> = fs::read_dir(dir.path().join("shop")).unwrap().collect();
        assert_eq!(files.len(), 1);
    }

    #[test]
    fn a_truncated_or_newer_file_is_set_aside_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let mut state = WorkloadState::new("shop", "cart");
        state.record(record("2026-11-26T12:00:00Z", 3));
        store.save(&state).unwrap();
        let path = store.path("shop", "cart");
        let full = fs::read(&path).unwrap();
        fs::write(&path, &full[..full.len() / 2]).unwrap();
        let loaded = store.load("shop", "cart", 1_764_158_400);
        assert_eq!((loaded.state.as_ref(), loaded.incidents_before), (None, 0));
        let why = loaded.set_aside.unwrap();
        assert!(why.contains("not valid JSON"), "{why}");
        let aside = dir.path().join("shop/cart.json.corrupt-1764158400");
        assert_eq!(
            fs::read(&aside).unwrap(),
            &full[..full.len() / 2],
            "kept, not deleted"
        );
        assert!(!path.exists());

        let newer = String::from_utf8(full)
            .unwrap()
            .replace("\"version\": 1", "\"version\": 7");
        fs::write(&path, newer).unwrap();
        let why = store.load("shop", "cart", 5).set_aside.unwrap();
        assert!(why.contains("newer homeostat (version 7"), "{why}");
        assert!(dir.path().join("shop/cart.json.newer-5").exists());
        // A second one set aside at the same second does not replace it.
        fs::write(&path, "{").unwrap();
        let again = store.load("shop", "cart", 1_764_158_400);
        assert!(again.set_aside.is_some());
        assert!(dir
            .path()
            .join("shop/cart.json.corrupt-1764158400-1")
            .exists());
        assert!(dir
            .path()
            .join("shop/cart.json.corrupt-1764158400")
            .exists());
        // The next run starts afresh.
        store.save(&state).unwrap();
        assert_eq!(store.load("shop", "cart", 6).state, Some(state));
        // What a broken file still shows of its incidents numbers the next.
        fs::write(
            &path,
            r#"{"version": 1, "incidents": [{"id": "shop/cart#4"}, {"id": "shop/cart#12"}, {"id": "shop/carts#40"}, {"id": "shop/cart#"#,
        )
        .unwrap();
        assert_eq!(store.load("shop", "cart", 7).incidents_before, 12);
    }

    #[test]
    fn a_hand_edit_that_breaks_a_time_or_a_type_is_named_with_where_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let mut state = WorkloadState::new("shop", "cart");
        state.record(record("2026-11-26T12:00:00Z", 3));
        state.record(record("2026-11-26T18:00:00Z", 3));
        store.save(&state).unwrap();
        let path = store.path("shop", "cart");
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, text.replace("2026-11-26T18:00:00Z", "yesterday")).unwrap();
        let why = store.load("shop", "cart", 1).set_aside.unwrap();
        assert!(
            why.contains("history[1].at \"yesterday\" is not an RFC 3339 time"),
            "{why}"
        );
        store.save(&state).unwrap();
        fs::write(
            &path,
            text.replacen(
                "\"recommended_min\": 3",
                "\"recommended_min\": \"three\"",
                1,
            ),
        )
        .unwrap();
        let why = store.load("shop", "cart", 2).set_aside.unwrap();
        assert!(
            why.contains("expected u32") && why.contains("line "),
            "{why}"
        );
    }

    #[test]
    fn a_file_written_before_incidents_reads_as_having_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let path = store.path("shop", "cart");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            r#"{"version": 1, "namespace": "shop", "name": "cart", "model": null, "history": []}"#,
        )
        .unwrap();
        let loaded = store.load("shop", "cart", 0);
        assert_eq!(loaded.set_aside, None);
        let state = loaded.state.unwrap();
        assert!(state.incidents.is_empty() && state.settings.is_none());
        // And a state without incidents is written as before.
        store.save(&state).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("incidents") && !text.contains("settings"),
            "{text}"
        );
    }

    #[test]
    fn the_shards_of_a_run_lock_the_store_together_and_a_whole_run_apart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("models"));
        let none = std::time::Duration::ZERO;
        let first = store.lock_shard(Some((0, 4)), none).unwrap();
        // Another shard runs beside it; the same shard does not.
        let second = store.lock_shard(Some((1, 4)), none).unwrap();
        let again = store.lock_shard(Some((1, 4)), none).unwrap_err();
        assert!(
            again
                .to_string()
                .contains("in use by another homeostat run (process "),
            "{again}"
        );
        // A whole-fleet run waits for the shards, and says whose they are.
        let whole = store.lock(none).unwrap_err();
        assert!(
            whole.to_string().contains("(the shards of a sharded run)"),
            "{whole}"
        );
        drop((first, second));
        let whole = store.lock(none).unwrap();
        let shard = store.lock_shard(Some((0, 4)), none).unwrap_err();
        // The whole run's holder text stays for the next to read.
        assert!(shard.to_string().contains("(process "), "{shard}");
        let text = std::fs::read_to_string(dir.path().join("models/.lock")).unwrap();
        assert!(text.starts_with("process "), "{text}");
        drop(whole);
        assert!(store.lock_shard(Some((0, 4)), none).is_ok());
    }

    #[test]
    fn names_cannot_escape_the_store() {
        let store = Store::new("/var/lib/homeostat");
        assert_eq!(
            store.path("../etc", "pass/wd"),
            PathBuf::from("/var/lib/homeostat/_etc/pass_wd.json")
        );
    }

    #[test]
    fn the_history_is_capped() {
        let mut state = WorkloadState::new("shop", "cart");
        for i in 0..HISTORY_KEPT + 5 {
            state.record(record(&i.to_string(), 1));
        }
        assert_eq!(state.history.len(), HISTORY_KEPT);
        assert_eq!(state.history[0].at, "5");
    }

    #[test]
    fn only_the_runs_of_the_last_two_hours_keep_their_schedule() {
        let mut state = WorkloadState::new("shop", "cart");
        let entry = crate::core::bounds::ScheduledMin {
            from: 0,
            min_replicas: 3,
        };
        let t = 1_428_000_000;
        let at = |secs: i64| crate::core::time::format_timestamp(secs);
        // A run every 15 minutes for three hours, then ten reruns of the
        // last moment: the runs of the two hours before it keep theirs.
        let moments = (0..=12).map(|k| t + k * 900).chain([t + 12 * 900; 10]);
        for moment in moments {
            state.record(RunRecord {
                schedule_ahead: vec![entry],
                ..record(&at(moment), 1)
            });
        }
        let kept: Vec<bool> = state
            .history
            .iter()
            .map(|r| !r.schedule_ahead.is_empty())
            .collect();
        assert_eq!(kept[..4], [false; 4], "{kept:?}");
        assert!(kept[4..].iter().all(|&k| k), "{kept:?}");
        // Written and read back.
        let text = serde_json::to_string(&state).unwrap();
        let back: WorkloadState = serde_json::from_str(&text).unwrap();
        assert_eq!(back, state);
    }
}
