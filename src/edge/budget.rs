//! The run's memory budget. Reading a history is where a run's memory
//! goes (a 100 MB CSV file takes about 270 MB while it is parsed; a
//! query's answers are held until they are combined), and it happens on
//! every thread at once. Each read reserves what it will need before it
//! allocates: reads that would together pass the budget wait their turn,
//! and a workload that alone needs more than the whole budget fails with
//! its own error instead of taking the pod down with the others.
//!
//! A reservation is taken whole before anything is held, so a waiting
//! reader never holds part of the budget: no two readers can wait on each
//! other. What a read finds beyond its estimate (a server's answer longer
//! than one series) it adds without waiting, or fails.

use std::sync::{Condvar, Mutex, OnceLock, PoisonError};

/// How much of the memory the process may use goes to reading histories
/// by default: the rest is the fits, the reports and the allocator's slack.
pub const DEFAULT_SHARE: f64 = 0.75;

/// A budget of bytes shared by every reader of a run.
#[derive(Debug)]
pub struct MemoryBudget {
    total: u64,
    /// Where `total` comes from, for messages ("half of the container's
    /// 1024 MiB limit", "--memory-budget 512Mi").
    origin: String,
    used: Mutex<u64>,
    freed: Condvar,
    freed_async: tokio::sync::Notify,
}

/// Why a reservation could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    #[error("needs about {} MiB, more than the run's whole memory budget of {} MiB ({origin})", mib(*.needed), mib(*.total))]
    TooLarge {
        needed: u64,
        total: u64,
        origin: String,
    },
    #[error("needed {} MiB more while the run's memory budget of {} MiB ({origin}) had {} MiB left", mib(*.more), mib(*.total), mib(*.left))]
    Exhausted {
        more: u64,
        left: u64,
        total: u64,
        origin: String,
    },
}

fn mib(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

/// Part of a budget, given back when dropped.
#[derive(Debug)]
pub struct Reservation<'a> {
    budget: &'a MemoryBudget,
    bytes: u64,
}

impl MemoryBudget {
    #[must_use]
    pub fn new(total: u64, origin: impl Into<String>) -> MemoryBudget {
        MemoryBudget {
            total,
            origin: origin.into(),
            used: Mutex::new(0),
            freed: Condvar::new(),
            freed_async: tokio::sync::Notify::new(),
        }
    }

    #[must_use]
    pub fn total(&self) -> u64 {
        self.total
    }

    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Bytes reserved now.
    #[must_use]
    pub fn in_use(&self) -> u64 {
        *self.used.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn too_large(&self, bytes: u64) -> Result<(), BudgetError> {
        if bytes > self.total {
            return Err(BudgetError::TooLarge {
                needed: bytes,
                total: self.total,
                origin: self.origin.clone(),
            });
        }
        Ok(())
    }

    /// `bytes` of the budget when they are free now, `None` otherwise.
    fn try_take(&self, bytes: u64) -> Option<Reservation<'_>> {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        (*used + bytes <= self.total).then(|| {
            *used += bytes;
            Reservation {
                budget: self,
                bytes,
            }
        })
    }

    /// `bytes` of the budget, waiting (this thread) until other readers
    /// have given back enough; an error at once when the whole budget
    /// would not do.
    pub fn reserve(&self, bytes: u64) -> Result<Reservation<'_>, BudgetError> {
        self.too_large(bytes)?;
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        while *used + bytes > self.total {
            used = self
                .freed
                .wait(used)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *used += bytes;
        Ok(Reservation {
            budget: self,
            bytes,
        })
    }

    /// [`reserve`](Self::reserve) for async code: waits without holding a
    /// runtime thread.
    pub async fn reserve_async(&self, bytes: u64) -> Result<Reservation<'_>, BudgetError> {
        self.too_large(bytes)?;
        loop {
            let mut freed = std::pin::pin!(self.freed_async.notified());
            // Registered before looking, so a release in between is seen.
            freed.as_mut().enable();
            if let Some(reservation) = self.try_take(bytes) {
                return Ok(reservation);
            }
            freed.await;
        }
    }

    fn give_back(&self, bytes: u64) {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        *used -= bytes;
        drop(used);
        self.freed.notify_all();
        self.freed_async.notify_waiters();
    }
}

impl Reservation<'_> {
    /// Adds `more` bytes without waiting (a reader that waited while
    /// holding part of the budget could wait on another that does the
    /// same), or says how short the budget is.
    pub fn grow(&mut self, more: u64) -> Result<(), BudgetError> {
        let budget = self.budget;
        let mut used = budget.used.lock().unwrap_or_else(PoisonError::into_inner);
        if *used + more > budget.total {
            return Err(BudgetError::Exhausted {
                more,
                left: budget.total - *used,
                total: budget.total,
                origin: budget.origin.clone(),
            });
        }
        *used += more;
        self.bytes += more;
        Ok(())
    }

    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

static RUN_BUDGET: OnceLock<MemoryBudget> = OnceLock::new();

/// Sets the run's budget (`--memory-budget`); the first call wins.
pub fn set_run_budget(budget: MemoryBudget) {
    let _ = RUN_BUDGET.set(budget);
}

/// The run's budget: as set, else [`DEFAULT_SHARE`] of what this process
/// may use ([`detect_limit`]).
pub fn run_budget() -> &'static MemoryBudget {
    RUN_BUDGET.get_or_init(automatic)
}

/// [`DEFAULT_SHARE`] of the memory limit found on this machine.
#[must_use]
pub fn automatic() -> MemoryBudget {
    let (limit, what) = detect_limit();
    MemoryBudget::new(
        (limit as f64 * DEFAULT_SHARE) as u64,
        format!(
            "three quarters of {what}, {} MiB; --memory-budget sets it",
            mib(limit)
        ),
    )
}

/// The memory this process may use and what sets it: its cgroup's limit
/// (v2 `memory.max` or v1 `memory.limit_in_bytes`: a container's or a
/// systemd scope's), else the machine's RAM.
#[must_use]
pub fn detect_limit() -> (u64, &'static str) {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let cgroups = read("/proc/self/cgroup").unwrap_or_default();
    let limit = cgroup_limit_files(&cgroups)
        .iter()
        .filter_map(|file| read(file).and_then(|text| parse_cgroup_limit(&text)))
        .min();
    let ram = read("/proc/meminfo").and_then(|text| parse_mem_total(&text));
    match (limit, ram) {
        (Some(limit), Some(ram)) if limit < ram => (limit, "the cgroup memory limit"),
        (Some(limit), None) => (limit, "the cgroup memory limit"),
        (_, Some(ram)) => (ram, "this machine's RAM"),
        // Nothing readable (not Linux): what a small pod has.
        (None, None) => (1 << 30, "an assumed 1 GiB"),
    }
}

/// The files that may hold this process' memory limit, from the text of
/// `/proc/self/cgroup`: its own cgroup's and the hierarchy's root (inside
/// a container's cgroup namespace, the root is the container).
#[must_use]
pub fn cgroup_limit_files(proc_self_cgroup: &str) -> Vec<String> {
    let mut files = Vec::new();
    for line in proc_self_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let path = path.trim_end_matches('/');
        if controllers.is_empty() {
            files.push(format!("/sys/fs/cgroup{path}/memory.max"));
        } else if controllers.split(',').any(|c| c == "memory") {
            files.push(format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"));
        }
    }
    files.push("/sys/fs/cgroup/memory.max".to_string());
    files.push("/sys/fs/cgroup/memory/memory.limit_in_bytes".to_string());
    files
}

/// A cgroup limit file's bytes; `None` for no limit (`max`, or v1's
/// near-2⁶³ "unlimited").
#[must_use]
pub fn parse_cgroup_limit(text: &str) -> Option<u64> {
    let bytes: u64 = text.trim().parse().ok()?;
    (bytes < 1 << 60).then_some(bytes)
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
#[must_use]
pub fn parse_mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A size as Kubernetes writes memory: `512Mi`, `1Gi`, `800M`, `1G`,
/// `65536` (bytes).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size: expected e.g. 512Mi, 1Gi or 800M"))?;
    let factor: f64 = match unit {
        "" => 1.0,
        "K" | "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}` (expected Ki, Mi, Gi, K, M or G)"
            ))
        }
    };
    let bytes = number * factor;
    if !(1.0..1e18).contains(&bytes) {
        return Err(format!("`{text}`: expected a size of at least one byte"));
    }
    Ok(bytes as u64)
}

/// The process' peak resident memory (`VmHWM`, Linux), 0 where unknown.
#[must_use]
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_beyond_the_whole_budget_fails_at_once_and_holds_nothing() {
        let budget = MemoryBudget::new(100, "test");
        let error = budget.reserve(101).unwrap_err();
        assert!(matches!(error, BudgetError::TooLarge { needed: 101, .. }));
        assert_eq!(budget.in_use(), 0);
        assert!(error.to_string().contains("(test)"), "{error}");
    }

    #[test]
    fn readers_wait_their_turn_and_dropping_gives_back() {
        let budget = std::sync::Arc::new(MemoryBudget::new(100, "test"));
        let first = budget.reserve(70).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiting = {
            let budget = budget.clone();
            std::thread::spawn(move || {
                let second = budget.reserve(50).unwrap();
                tx.send(second.bytes()).unwrap();
            })
        };
        // The second waits while the first holds 70 of 100.
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(200))
            .is_err());
        drop(first);
        assert_eq!(rx.recv().unwrap(), 50);
        waiting.join().unwrap();
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn async_readers_wait_their_turn_too() {
        use futures_util::FutureExt as _;
        let budget = MemoryBudget::new(100, "test");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let first = budget.reserve_async(70).await.unwrap();
            let mut second = std::pin::pin!(budget.reserve_async(50));
            // Not ready while the first holds the budget.
            assert!(second.as_mut().now_or_never().is_none());
            drop(first);
            let second = second.await.unwrap();
            assert_eq!(second.bytes(), 50);
        });
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn growing_never_waits_and_says_how_short_the_budget_is() {
        let budget = MemoryBudget::new(100, "test");
        let mut one = budget.reserve(40).unwrap();
        let _other = budget.reserve(40).unwrap();
        one.grow(10).unwrap();
        let error = one.grow(20).unwrap_err();
        assert_eq!(
            error,
            BudgetError::Exhausted {
                more: 20,
                left: 10,
                total: 100,
                origin: "test".into()
            }
        );
        assert_eq!(one.bytes(), 50);
        drop(one);
        assert_eq!(budget.in_use(), 40);
    }

    #[test]
    fn cgroup_limits_are_read_from_v1_and_v2_and_unlimited_is_none() {
        let v1 = "4:memory:/process_api/abc\n1:cpu:/\n0::/\n";
        let files = cgroup_limit_files(v1);
        assert_eq!(
            files[0],
            "/sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes"
        );
        assert_eq!(files[1], "/sys/fs/cgroup/memory.max");
        let v2 = "0::/kubepods/pod1/c1\n";
        assert_eq!(
            cgroup_limit_files(v2)[0],
            "/sys/fs/cgroup/kubepods/pod1/c1/memory.max"
        );
        assert_eq!(parse_cgroup_limit("1073741824\n"), Some(1 << 30));
        assert_eq!(parse_cgroup_limit("max\n"), None);
        assert_eq!(parse_cgroup_limit("9223372036854771712\n"), None);
        assert_eq!(
            parse_mem_total("MemTotal:       24683664 kB\nMemFree: 1 kB\n"),
            Some(24_683_664 * 1024)
        );
    }

    #[test]
    fn sizes_are_read_as_kubernetes_writes_them() {
        assert_eq!(parse_size("512Mi"), Ok(512 << 20));
        assert_eq!(parse_size("1Gi"), Ok(1 << 30));
        assert_eq!(parse_size("800M"), Ok(800_000_000));
        assert_eq!(parse_size("1.5Gi"), Ok(3 << 29));
        assert_eq!(parse_size("65536"), Ok(65536));
        assert!(parse_size("lots").unwrap_err().contains("512Mi"));
        assert!(parse_size("5MB").unwrap_err().contains("unknown unit"));
        assert!(parse_size("0").is_err());
    }
}
