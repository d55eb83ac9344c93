//! Stopping on SIGTERM and SIGINT (edge). Kubernetes sends SIGTERM to a
//! Job's pod when it is deleted, evicted or past its deadline, and a person
//! presses Ctrl-C: the run stops starting new work, lets the workloads in
//! flight finish (so no file is left half written), writes nothing that
//! would look complete when it is not, says so, and exits with 128 + the
//! signal's number (143 for SIGTERM, 130 for SIGINT), as a shell reports a
//! process killed by it. A second signal has its default action and ends the
//! process at once (signal-hook's conditional default), however stuck the
//! work in flight is.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

static SIGNAL: std::sync::OnceLock<Arc<AtomicUsize>> = std::sync::OnceLock::new();

/// Installs the handlers (once per process; later calls do nothing).
pub fn install() {
    SIGNAL.get_or_init(|| {
        let signal = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(AtomicBool::new(false));
        for number in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            // The first signal sets the flags; the second, with `seen` set,
            // has its default action (the process ends).
            let handlers =
                signal_hook::flag::register_conditional_default(number, Arc::clone(&seen))
                    .and_then(|_| signal_hook::flag::register(number, Arc::clone(&seen)))
                    .and_then(|_| {
                        signal_hook::flag::register_usize(
                            number,
                            Arc::clone(&signal),
                            number as usize,
                        )
                    });
            if let Err(e) = handlers {
                tracing::warn!("cannot handle signal {number}: {e}; it will end the run at once");
            }
        }
        signal
    });
}

/// The signal that asked the run to stop, if one did.
#[must_use]
pub fn requested() -> Option<i32> {
    SIGNAL
        .get()
        .map(|s| s.load(Ordering::Relaxed))
        .filter(|&n| n != 0)
        .and_then(|n| i32::try_from(n).ok())
}

/// The signal's name, for messages.
#[must_use]
pub fn name(signal: i32) -> &'static str {
    match signal {
        signal_hook::consts::SIGTERM => "SIGTERM",
        signal_hook::consts::SIGINT => "SIGINT",
        _ => "a signal",
    }
}

/// The exit code after a stop on `signal`: 128 + its number.
#[must_use]
pub fn exit_code(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(1)
}

/// Waits here until SIGTERM or SIGINT asks the run to stop.
fn wait_until_stopped() {
    while requested().is_none() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Where a test stops a run (tests/it/crash.rs): held at `name` until SIGTERM
/// or SIGINT, then goes on (to stop).
pub fn pause_until_stopped(name: &str) {
    if crate::edge::fault::reached(name) {
        wait_until_stopped();
    }
}

/// Where a test leaves a run stuck while it stops (tests/it/crash.rs): held at
/// `name` until SIGTERM or SIGINT, then says `stopping, stuck` and never
/// goes on: only a second signal ends it.
pub fn stuck_after_stop(name: &str) {
    if crate::edge::fault::reached(name) {
        wait_until_stopped();
        eprintln!("homeostat: fault point {name}: stopping, stuck");
        crate::edge::fault::wait_to_be_killed();
    }
}
