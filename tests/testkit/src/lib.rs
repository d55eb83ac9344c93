//! Real servers on loopback for homeostat's tests and benchmarks — the
//! Debian-packaged Prometheus, Alertmanager and Pushgateway,
//! VictoriaMetrics, and a Kubernetes control plane built from Go modules —
//! each on a free port with its own data folder, stopped by PID when
//! dropped; and the binary run as the benchmarks run it.
//!
//! A crate of its own (a dev-dependency) so that the integration tests and
//! the benchmarks share it without `#[path]`. Its dependencies are
//! homeostat's own, at the same versions.

pub mod fleet;
pub mod kube;
pub mod notify;
pub mod prometheus;
pub mod victoria;

use std::path::PathBuf;

/// Where the servers keep their data: `target/tmp` of the build running
/// them (never tmpfs: promtool needs a real disk). Cargo gives a test or
/// bench `CARGO_TARGET_TMPDIR` at compile time only, so it is found from
/// the running binary (`target/<profile>/deps/<test>`).
#[must_use]
pub fn scratch_root() -> PathBuf {
    let root = std::env::var_os("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            let target = exe.ancestors().find(|p| p.ends_with("target"))?;
            Some(target.join("tmp"))
        })
        .unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&root).expect("the scratch folder can be made");
    root
}
