//! Fault points for the crash tests (tests/it/crash.rs): places where a run
//! can be held, with `HOMEOSTAT_FAULT_POINT` set to the point's name, so
//! that a test can kill or signal it there. The variable is unset in any
//! real run, and then every point is a no-op.

/// Whether this run is to be held at `name`; if so, says so on stderr
/// (`homeostat: fault point <name> reached`), which the test waits for.
#[must_use]
pub fn reached(name: &str) -> bool {
    let held = std::env::var_os("HOMEOSTAT_FAULT_POINT").is_some_and(|v| v == name);
    if held {
        eprintln!("homeostat: fault point {name} reached");
    }
    held
}

/// Waits here until the process is killed.
pub fn wait_to_be_killed() -> ! {
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
