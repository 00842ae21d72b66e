//! The watchdog (debug mode): one thread per runtime that notices a loop
//! blocked in one task poll or callback *while it is still blocked*, and
//! runs the runtime's periodic checks.
//!
//! # Life
//! * Started by `Builder::build` when debug mode is on, or by the first
//!   `Runtime::set_debug(true)`; at most one per runtime (`start` is
//!   idempotent). While debug mode is off it wakes but checks nothing.
//! * Stopped by the runtime's shutdown, after the loops have finished (a
//!   loop that holds `close()` up is still reported): `BackgroundThread::stop` sets
//!   the flag under the lock, wakes the thread and joins it.
//!
//! # What it reads
//! Only shared state, never asking a loop to cooperate: each loop's
//! activity record and flight recorder (`Slot::inspect_activity`,
//! `Slot::recent_events`), whose readers are safe while the loop runs (see
//! `debug::activity`, `debug::recorder`). It wakes every quarter of the
//! threshold (between 1 ms and 250 ms), so a block is reported between 1
//! and 1.25 thresholds after it began; the "blocked" line is logged once
//! per episode (the record's `REPORTED` bit), and the loop itself logs
//! the episode's end.

use super::shared::Shared;
use crate::debug::clock;
use crate::debug::recorder::{EventKind, EventList};
use crate::debug::watchdog::{report_blocked, Blocked};
use crate::sync::Arc;
use std::time::Duration;

/// Events of the blocked loop shown in its report.
const REPORT_EVENTS: usize = 16;

/// Starts the watchdog thread of `shared` unless it runs (or the runtime
/// has stopped it); its handle is `shared.watchdog`.
pub(crate) fn start(shared: &Arc<Shared>) {
    // Under loom there is no real time to watch, and a thread outside the
    // model must not touch the model's locks.
    if cfg!(loopwork_loom) {
        return;
    }
    let started = shared.watchdog.start(|| {
        clock::init();
        let shared2 = shared.clone();
        std::thread::Builder::new()
            .name(format!("{}-watchdog", shared.config.thread_name))
            .spawn(move || run(&shared2))
    });
    if let Err(e) = started {
        log::error!(
            target: "loopwork",
            "debug mode: cannot start the watchdog thread ({e}); blocked loops are reported only when their poll ends"
        );
    }
}

/// The thread's body: check, then sleep a quarter threshold, until stopped.
fn run(shared: &Arc<Shared>) {
    let threshold = shared.config.watchdog_threshold;
    let period = (threshold / 4).clamp(Duration::from_millis(1), Duration::from_millis(250));
    let threshold_ticks = clock::from_duration(threshold);
    loop {
        if shared.is_debug() {
            check_blocked(shared, threshold_ticks);
            periodic_checks(shared);
        }
        if !shared.watchdog.sleep(period) {
            return;
        }
    }
}

/// Reports each loop that has run one task poll or callback for at least
/// the threshold, once per episode.
fn check_blocked(shared: &Shared, threshold_ticks: u64) {
    let now = clock::now();
    for slot in shared.sched.loops.iter() {
        // The cheap look first: only loads, no handshake with the loop.
        let Some((since, reported)) = slot.activity.peek() else {
            continue;
        };
        if reported || now.saturating_sub(since) < threshold_ticks {
            continue;
        }
        let Some(snap) = slot.inspect_activity(Some(since)) else {
            continue; // it ended meanwhile
        };
        if snap.reported || clock::instant_of(since) != snap.since {
            continue; // reported already, or a later run
        }
        let events = shared.sched.loop_events(snap.index, REPORT_EVENTS);
        report_blocked(&Blocked {
            index: snap.index,
            thread: &snap.thread,
            running_for: snap.running_for,
            what: &snap.what,
            stealable_waiting: snap.stealable_waiting,
            stolen_since: stolen_since(shared, snap.index, since),
            pinned_waiting: snap.pinned_waiting,
            events: &EventList(&events),
        });
    }
}

/// Tasks the siblings of loop `index` took from its deque since tick
/// `since`, from their flight recorders (a steal is recorded by the thief).
fn stolen_since(shared: &Shared, index: usize, since: u64) -> u64 {
    shared
        .sched
        .loops
        .iter()
        .filter(|l| l.index != index)
        .flat_map(|l| l.recent_events(crate::debug::recorder::CAPACITY))
        .filter(|e| e.at >= since)
        .map(|e| match e.kind {
            EventKind::StealIn { from, count } if from as usize == index => count,
            _ => 0,
        })
        .sum()
}

/// The runtime's periodic checks, run by the watchdog thread on every
/// wake-up while debug mode is on, over shared state only (a loop may be
/// blocked). Each check must be cheap next to the period (at least 1 ms)
/// and must not block.
///
/// The checks beyond blocked loops: the await graph's deadlock cycles,
/// each new one logged once at error (see `introspect::check_cycles`).
fn periodic_checks(shared: &Shared) {
    super::introspect::check_cycles(shared);
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_watchdog_runs_in_debug_mode_and_stops_at_close() {
        let rt = crate::Runtime::builder()
            .loops(1)
            .debug(false)
            .build()
            .unwrap();
        let shared = rt.shared().clone();
        assert!(!shared.watchdog.is_running(), "not started in production");
        rt.set_debug(true);
        assert!(shared.watchdog.is_running(), "started by set_debug(true)");
        rt.close();
        assert!(!shared.watchdog.is_running(), "stopped at close");
    }

    #[test]
    fn the_activity_reader_names_a_running_callback_from_another_thread() {
        let rt = crate::Runtime::builder()
            .loops(1)
            .debug(true)
            .build()
            .unwrap();
        let shared = rt.shared().clone();
        let slot = &shared.sched.loops[0];
        let (entered_tx, entered) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let before = std::time::Instant::now();
        rt.loop_handle(0)
            .call_soon_threadsafe(move || {
                entered_tx.send(()).unwrap();
                released
                    .recv_timeout(std::time::Duration::from_secs(30))
                    .unwrap();
            })
            .unwrap();
        entered
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap();
        let snap = slot.activity().expect("the loop runs the callback");
        assert!(
            snap.what
                .starts_with("<Callback scheduled at src/runtime/watchdog.rs:"),
            "{snap}"
        );
        assert_eq!(
            (snap.index, snap.task, snap.thread.as_str()),
            (0, None, "loopwork-loop-0")
        );
        assert!(
            snap.since + std::time::Duration::from_millis(1) >= before,
            "started after the submission"
        );
        assert!(!snap.reported, "the reader does not mark it reported");
        assert!(
            snap.to_string().starts_with("loop 0 blocked for "),
            "{snap}"
        );
        let events = slot.recent_events(4);
        assert!(
            events.iter().any(|e| matches!(
                e.kind,
                crate::debug::recorder::EventKind::CallbackStart { .. }
            )),
            "the recorder has the callback's start: {events:?}"
        );
        release.send(()).unwrap();
        rt.close();
        assert!(slot.activity().is_none(), "idle after close");
    }

    #[test]
    fn a_loops_events_include_its_siblings_steals_from_it() {
        use crate::debug::recorder::EventKind;
        let rt = crate::Runtime::builder()
            .loops(2)
            .debug(true)
            .build()
            .unwrap();
        let shared = rt.shared().clone();
        let (ran_tx, ran) = std::sync::mpsc::channel::<String>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (queued_tx, queued) = std::sync::mpsc::channel::<()>();
        rt.loop_handle(0)
            .call_soon_threadsafe(move || {
                for _ in 0..3 {
                    let tx = ran_tx.clone();
                    crate::spawn(async move {
                        tx.send(std::thread::current().name().unwrap().to_owned())
                            .unwrap();
                    })
                    .detach();
                }
                queued_tx.send(()).unwrap();
                // Holds loop 0 until the test has read its events.
                released
                    .recv_timeout(std::time::Duration::from_secs(60))
                    .unwrap();
            })
            .unwrap();
        queued
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap();
        for _ in 0..3 {
            let thread = ran
                .recv_timeout(std::time::Duration::from_secs(30))
                .unwrap();
            assert_eq!(thread, "loopwork-loop-1", "stolen while loop 0 is held");
        }
        let events = shared.sched.loop_events(0, 16);
        let out: u64 = events
            .iter()
            .map(|e| match e.kind {
                EventKind::StealOut { to: 1, count } => count,
                _ => 0,
            })
            .sum();
        assert_eq!(out, 3, "{events:#?}");
        release.send(()).unwrap();
        rt.close();
    }
}
