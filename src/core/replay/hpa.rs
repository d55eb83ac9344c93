//! The simulated HPA (pure): one policy's bounds against the real load,
//! and the oracle.
//!
//! The simulated HPA follows the Kubernetes controller's documented rules:
//! - every `sync` (15 s) it wants `desired = ⌈load / target_per_replica⌉`
//!   (the load per *ready* replica against the target), unless that is
//!   within `tolerance` (10%) of the replicas it has;
//! - it scales up at once, but a new pod serves only `startup` (90 s) after
//!   it was asked for;
//! - it scales down only to the highest desire of the last
//!   `stabilization` (300 s);
//! - always within the `[min, max]` in force at that moment (a raised min
//!   starts pods at once, a lowered max stops them at once).
//!
//! Load is held constant within a step of the data (the data's step is
//! 1–30 minutes, the sync 15 s): the HPA sees each step's value for the
//! whole step, as it would see a metric scraped once per step.
//!
//! A ready replica serves `target_per_replica / target_utilization` before
//! it is overloaded (at the HPA's target of 70% it carries
//! `target_per_replica`). Load above the ready replicas' capacity is
//! unserved; a step with any is an overloaded step.
//!
//! The oracle knows the load: its replicas are always the fewest that serve
//! it, started `startup` ahead. No policy can overload less, and none can
//! use fewer replica-hours without overloading.

use crate::core::series::Series;
use serde::Serialize;
use std::collections::VecDeque;

/// The simulated HPA's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hpa {
    pub target_per_replica: f64,
    /// Relative change the HPA ignores (0.1).
    pub tolerance: f64,
    /// Seconds from asking for a pod until it serves.
    pub startup: i64,
    /// Scale-down stabilization window, seconds.
    pub stabilization: i64,
    /// Seconds between the HPA's evaluations.
    pub sync: i64,
    /// Share of a replica's capacity the target stands for (0.7).
    pub target_utilization: f64,
}

impl Hpa {
    /// Kubernetes' defaults around `target_per_replica`.
    #[must_use]
    pub fn new(target_per_replica: f64) -> Hpa {
        Hpa {
            target_per_replica,
            tolerance: crate::core::bounds::HPA_TOLERANCE,
            startup: 90,
            stabilization: crate::core::bounds::HPA_SCALE_DOWN_STABILIZATION,
            sync: 15,
            target_utilization: 0.7,
        }
    }

    /// The replicas the HPA wants for `load`: `⌈load / target⌉`, at least 1.
    #[must_use]
    pub fn desired(&self, load: f64) -> u32 {
        (load / self.target_per_replica).ceil().max(1.0) as u32
    }

    /// Load one ready replica serves before it is overloaded.
    #[must_use]
    pub fn capacity(&self) -> f64 {
        self.target_per_replica / self.target_utilization
    }
}

/// Bounds in force from `from` (unix seconds) until the next entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BoundsAt {
    #[serde(serialize_with = "crate::core::time::serialize_timestamp")]
    pub from: i64,
    pub min: u32,
    pub max: u32,
}

/// What a policy did over the replayed time.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Outcome {
    /// Minutes with load above the ready replicas' capacity.
    pub overload_minutes: f64,
    /// Their share of the replayed time.
    pub overload_share: f64,
    /// Overload minutes while the HPA was held at its max: only a higher
    /// max would have helped (the rest is pods not ready yet).
    pub overload_at_max_minutes: f64,
    /// Share of the demand above capacity.
    pub unserved_share: f64,
    /// Replicas × hours (starting pods count: they are paid for).
    pub replica_hours: f64,
    /// How many times min or max changed.
    pub changes: usize,
    /// 95th percentile of load over the ready replicas' capacity.
    pub utilization_p95: f64,
    /// Minutes whose load the data does not know (a gap longer than the
    /// workload's `max_gap`): left out of every count above, for every
    /// policy alike (a gap held at the load before it once made a
    /// baseline overload through 12 hours nobody measured).
    pub unknown_minutes: f64,
}

/// The load at `t`: the value of the data step holding `t`, and whether
/// it is known; where it is not, the last known one (0 before any), which
/// the HPA keeps acting on and the counts leave out.
fn load_at(series: &Series, t: i64, last: &mut f64) -> (f64, bool) {
    let i = (t - series.start).div_euclid(series.step);
    let known = usize::try_from(i)
        .ok()
        .and_then(|i| series.values.get(i))
        .filter(|v| v.is_finite());
    if let Some(v) = known {
        *last = v.max(0.0);
    }
    (*last, known.is_some())
}

fn bounds_at(schedule: &[BoundsAt], t: i64) -> Option<BoundsAt> {
    let after = schedule.partition_point(|b| b.from <= t);
    after.checked_sub(1).map(|i| schedule[i])
}

/// Counts the changes of min or max over `[from, to)`: at `from` too,
/// against the bounds in force before it when the schedule has them (the
/// first run's move from today's range is a change the owner sees).
fn changes(schedule: &[BoundsAt], from: i64, to: i64) -> usize {
    let mut previous = bounds_at(schedule, from - 1);
    let mut count = 0;
    for b in schedule.iter().filter(|b| b.from >= from && b.from < to) {
        if previous.is_some_and(|p| p.min != b.min || p.max != b.max) {
            count += 1;
        }
        previous = Some(*b);
    }
    count
}

/// Tallies one sync period.
#[derive(Default)]
struct Tally {
    seconds: f64,
    overload_seconds: f64,
    overload_at_max_seconds: f64,
    demand: f64,
    unserved: f64,
    replica_seconds: f64,
    utilization: Vec<f64>,
    unknown_seconds: f64,
}

impl Tally {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        dt: f64,
        load: (f64, bool),
        ready: u32,
        running: u32,
        capacity: f64,
        at_max: bool,
    ) {
        let (load, known) = load;
        if !known {
            self.unknown_seconds += dt;
            return;
        }
        let served = f64::from(ready) * capacity;
        self.seconds += dt;
        self.demand += load * dt;
        if load > served * (1.0 + 1e-9) {
            self.overload_seconds += dt;
            if at_max {
                self.overload_at_max_seconds += dt;
            }
            self.unserved += (load - served) * dt;
        }
        self.replica_seconds += f64::from(running) * dt;
        if served > 0.0 {
            self.utilization.push(load / served);
        } else if load > 0.0 {
            self.utilization.push(f64::INFINITY);
        }
    }

    fn outcome(mut self, bound_changes: usize) -> Outcome {
        let p95 = crate::core::stats::nearest_rank(&mut self.utilization, 0.95).unwrap_or(0.0);
        Outcome {
            overload_minutes: self.overload_seconds / 60.0,
            overload_share: self.overload_seconds / self.seconds.max(1.0),
            overload_at_max_minutes: self.overload_at_max_seconds / 60.0,
            unserved_share: if self.demand > 0.0 {
                self.unserved / self.demand
            } else {
                0.0
            },
            replica_hours: self.replica_seconds / 3600.0,
            changes: bound_changes,
            utilization_p95: p95,
            unknown_minutes: self.unknown_seconds / 60.0,
        }
    }
}

/// [`simulate_traced`]'s outcome alone (the replay keeps the trace).
#[cfg(test)]
#[must_use]
pub fn simulate(load: &Series, from: i64, to: i64, schedule: &[BoundsAt], hpa: &Hpa) -> Outcome {
    simulate_traced(load, from, to, schedule, hpa).0
}

/// Simulates the HPA on `load` over `[from, to)` under `schedule` (sorted
/// by `from`; its first entry at or before `from`), starting with the
/// replicas it would want then, all ready: its outcome, and the ready
/// replicas over time, `(t, ready)` at `from` and at every change (a step
/// function, for the backtest's chart).
#[must_use]
pub fn simulate_traced(
    load: &Series,
    from: i64,
    to: i64,
    schedule: &[BoundsAt],
    hpa: &Hpa,
) -> (Outcome, Vec<(i64, u32)>) {
    let mut last = 0.0;
    let first = bounds_at(schedule, from).unwrap_or(BoundsAt {
        from,
        min: 1,
        max: u32::MAX,
    });
    let (start_load, _) = load_at(load, from, &mut last);
    let mut replicas = hpa
        .desired(start_load)
        .clamp(first.min, first.max.max(first.min));
    // Pods asked for and not yet ready: when each will be.
    let mut starting: VecDeque<i64> = VecDeque::new();
    let mut ready = replicas;
    let mut desires: VecDeque<(i64, u32)> = VecDeque::new();
    let mut tally = Tally::default();
    let mut trace = vec![(from, ready)];
    let mut t = from;
    while t < to {
        while starting.front().is_some_and(|&at| at <= t) {
            starting.pop_front();
            ready += 1;
        }
        let now_load = load_at(load, t, &mut last);
        let (now_load, known) = now_load;
        let bounds = bounds_at(schedule, t).unwrap_or(first);
        let (min, max) = (bounds.min, bounds.max.max(bounds.min));
        // The HPA's desire from the ready replicas' load.
        // Without a metric the HPA does not scale (its `ScalingActive`
        // condition false): it keeps its replicas, within the bounds.
        let desired = if !known {
            replicas
        } else if ready == 0 {
            hpa.desired(now_load)
        } else {
            let ratio = now_load / (f64::from(ready) * hpa.target_per_replica);
            if (ratio - 1.0).abs() <= hpa.tolerance {
                replicas
            } else {
                hpa.desired(now_load)
            }
        };
        desires.push_back((t, desired));
        while desires
            .front()
            .is_some_and(|&(at, _)| at < t - hpa.stabilization)
        {
            desires.pop_front();
        }
        let mut target = if desired > replicas {
            desired
        } else {
            let highest = desires.iter().map(|&(_, d)| d).max().unwrap_or(desired);
            highest.min(replicas)
        };
        let at_max = desired > max;
        target = target.clamp(min, max);
        if target > replicas {
            for _ in replicas..target {
                starting.push_back(t + hpa.startup);
            }
        } else {
            // Pods still starting go first.
            for _ in target..replicas {
                if starting.pop_back().is_none() {
                    ready -= 1;
                }
            }
        }
        replicas = target;
        if trace.last().is_some_and(|&(_, r)| r != ready) {
            trace.push((t, ready));
        }
        let dt = (hpa.sync.min(to - t)) as f64;
        tally.add(
            dt,
            (now_load, known),
            ready,
            replicas,
            hpa.capacity(),
            at_max,
        );
        t += hpa.sync;
    }
    (tally.outcome(changes(schedule, from, to)), trace)
}

/// The oracle over `[from, to)`: at every sync, the fewest replicas that
/// serve the load, each started `startup` ahead (and paid for from then).
#[must_use]
pub fn oracle(load: &Series, from: i64, to: i64, hpa: &Hpa) -> Outcome {
    let mut last = 0.0;
    let needed: Vec<u32> = (from..to + hpa.startup)
        .step_by(hpa.sync as usize)
        .map(|t| {
            (load_at(load, t, &mut last).0 / hpa.capacity())
                .ceil()
                .max(1.0) as u32
        })
        .collect();
    let ahead = (hpa.startup / hpa.sync).max(0) as usize;
    let mut tally = Tally::default();
    // The load read again from `from`, as the pass above read it: in a
    // gap the replay starts in, nothing known yet (not the value that pass
    // ended on: the oracle overloaded through every such gap).
    let mut last = 0.0;
    for (k, t) in (from..to).step_by(hpa.sync as usize).enumerate() {
        let running = needed[k..(k + ahead + 1).min(needed.len())]
            .iter()
            .copied()
            .max()
            .unwrap_or(1);
        let now_load = load_at(load, t, &mut last);
        let dt = (hpa.sync.min(to - t)) as f64;
        tally.add(dt, now_load, needed[k], running, hpa.capacity(), false);
    }
    tally.outcome(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::series::GridStats;

    const T0: i64 = 1_700_000_000 / 3600 * 3600;

    fn series(step: i64, values: Vec<f64>) -> Series {
        Series {
            start: T0,
            step,
            values,
            stats: GridStats::default(),
        }
    }

    fn fixed(min: u32, max: u32) -> Vec<BoundsAt> {
        vec![BoundsAt { from: T0, min, max }]
    }

    #[test]
    fn a_gap_in_the_load_is_left_out_of_every_count() {
        // An hour at 30 replicas' worth under a max of 10, then an hour
        // unknown, then an hour at 30 again: the unknown hour is neither
        // overload nor demand nor replica-hours, for the oracle too.
        let mut values = vec![300.0; 12];
        values.extend([f64::NAN; 12]);
        values.extend([300.0; 12]);
        let load = series(300, values);
        let to = T0 + 36 * 300;
        let hpa = Hpa::new(10.0);
        let capped = simulate(&load, T0, to, &fixed(1, 10), &hpa);
        assert_eq!(capped.unknown_minutes, 60.0);
        assert_eq!(capped.overload_minutes, 120.0);
        assert_eq!(capped.replica_hours, 20.0);
        let oracle = oracle(&load, T0, to, &hpa);
        assert_eq!(oracle.unknown_minutes, 60.0);
        assert_eq!(oracle.overload_minutes, 0.0);
    }

    #[test]
    fn a_step_up_overloads_for_exactly_the_startup_time() {
        // 4 replicas' worth, then 8: the HPA asks at once, pods serve 90 s later.
        let mut values = vec![40.0; 12];
        values.extend(vec![80.0; 12]);
        let load = series(300, values);
        let hpa = Hpa::new(10.0);
        let out = simulate(&load, T0, T0 + 24 * 300, &fixed(1, 20), &hpa);
        assert!((out.overload_minutes - 1.5).abs() < 1e-9, "{out:?}");
        let oracle = oracle(&load, T0, T0 + 24 * 300, &hpa);
        assert_eq!(oracle.overload_minutes, 0.0);
    }

    #[test]
    fn a_short_dip_does_not_scale_down_inside_the_stabilization_window() {
        // 60 s steps: 5 minutes at 100, 3 minutes at 30, back to 100.
        let mut values = vec![100.0; 5];
        values.extend(vec![30.0; 3]);
        values.extend(vec![100.0; 5]);
        let load = series(60, values);
        let hpa = Hpa::new(10.0);
        let out = simulate(&load, T0, T0 + 13 * 60, &fixed(1, 20), &hpa);
        // Never fewer than 10 replicas: 13 minutes × 10 replicas.
        assert!(
            (out.replica_hours - 13.0 * 10.0 / 60.0).abs() < 1e-9,
            "{out:?}"
        );
        assert_eq!(out.overload_minutes, 0.0);
    }

    #[test]
    fn a_change_within_tolerance_is_no_action() {
        // 100 then 108: +8% on 10 replicas, inside the 10% tolerance.
        let mut values = vec![100.0; 5];
        values.extend(vec![108.0; 5]);
        let load = series(60, values);
        let out = simulate(&load, T0, T0 + 600, &fixed(1, 20), &Hpa::new(10.0));
        assert!(
            (out.replica_hours - 10.0 * 10.0 / 60.0).abs() < 1e-9,
            "{out:?}"
        );
    }

    #[test]
    fn bounds_clamp_and_their_changes_are_counted() {
        let load = series(300, vec![10.0; 24]);
        let schedule = vec![
            BoundsAt {
                from: T0,
                min: 1,
                max: 5,
            },
            BoundsAt {
                from: T0 + 3600,
                min: 4,
                max: 5,
            },
            BoundsAt {
                from: T0 + 7200,
                min: 4,
                max: 5,
            },
        ];
        let out = simulate(&load, T0, T0 + 24 * 300, &schedule, &Hpa::new(10.0));
        // 1 replica for an hour, then 4 (a raised min) for an hour.
        assert!((out.replica_hours - 5.0).abs() < 1e-9, "{out:?}");
        assert_eq!(out.changes, 1);
        // The bounds in force before the replay (today's range) and the
        // first run's move from them: a change too.
        let mut from_today = vec![BoundsAt {
            from: T0 - 1,
            min: 2,
            max: 5,
        }];
        from_today.extend(schedule);
        let out = simulate(&load, T0, T0 + 24 * 300, &from_today, &Hpa::new(10.0));
        assert_eq!(out.changes, 2);
    }

    #[test]
    fn the_oracle_sizes_and_scores_a_gap_alike() {
        // Quiet, forty steps unknown, then busy to the end, replayed from
        // inside the gap: the sizing and the scoring read the same load
        // there (none known yet), not the busy end of the data.
        let mut values = vec![10.0; 100];
        values.extend(vec![f64::NAN; 40]);
        values.extend(vec![200.0; 20]);
        let load = series(300, values);
        let out = oracle(&load, T0 + 110 * 300, T0 + 160 * 300, &Hpa::new(10.0));
        assert_eq!(out.overload_minutes, 0.0, "{out:?}");
        assert_eq!(out.unserved_share, 0.0);
    }

    #[test]
    fn the_oracle_never_overloads_and_pays_for_pods_ahead() {
        let values: Vec<f64> = (0..288)
            .map(|i: i32| 50.0 + 40.0 * (f64::from(i) / 20.0).sin())
            .collect();
        let load = series(300, values);
        let hpa = Hpa::new(10.0);
        let out = oracle(&load, T0, T0 + 288 * 300, &hpa);
        assert_eq!(out.overload_minutes, 0.0);
        assert!(out.utilization_p95 <= 1.0);
        let reactive = simulate(&load, T0, T0 + 288 * 300, &fixed(1, 100), &hpa);
        assert!(out.replica_hours < reactive.replica_hours);
    }
}
