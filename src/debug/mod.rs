//! Debug-mode diagnostics, reported through the `log` crate, target `"loopwork"`.
//!
//! Always on (as in asyncio): a task error that nobody retrieved, and a
//! pending task destroyed at shutdown. Debug mode adds the timing checks
//! (slow task polls and callbacks) and the wrong-thread panics of the
//! affinity rules.
//!
//! This module sits at the bottom of the layering (beside `sync`): it knows
//! tasks and callbacks only by their `Display` repr.

pub(crate) mod activity;
pub(crate) mod clock;
pub(crate) mod recorder;
pub(crate) mod watchdog;

use std::fmt::Display;
use std::time::Duration;

/// Logged when a task panicked and its `Task` handle was dropped (or had been
/// detached) without awaiting it: the error would otherwise vanish.
pub(crate) fn report_unretrieved_panic(task: &dyn Display, message: &str) {
    log::error!(
        target: "loopwork",
        "Task exception was never retrieved: {task} panicked: {message}"
    );
}

/// Logged at shutdown for each task that was still pending when its loop
/// dropped it (asyncio's "Task was destroyed but it is pending!").
pub(crate) fn report_destroyed_pending(task: &dyn Display) {
    log::debug!(target: "loopwork", "Task was destroyed but it is pending! {task}");
}

/// Debug mode: a task poll or a callback ran for `took`, at least the slow
/// threshold (asyncio's "Executing <Handle …> took 0.153 seconds").
pub(crate) fn report_slow(what: &dyn Display, took: Duration) {
    log::warn!(
        target: "loopwork",
        "Executing {what} took {:.3} seconds",
        took.as_secs_f64()
    );
}
