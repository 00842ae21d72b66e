//! Diagnostics, reported through the `log` crate, target `"loopwork"`.
//!
//! Invariants: this module sits at the bottom of the layering (beside
//! `sync`): it knows tasks, callbacks and runtimes only by their `Display`
//! repr, and learns whether the current thread's runtime is in debug mode
//! through a probe the runtime hands it ([`backtrace::set_probe`]). Every
//! message is one greppable line (asyncio's habit); debug mode may append a
//! creation backtrace on the lines that follow.
//!
//! # Which message logs at which level
//!
//! | message | level | when |
//! |---|---|---|
//! | `Task exception was never retrieved: <Task …> panicked: …` | error | always; debug mode adds the spawn backtrace |
//! | `Task exception was never retrieved: <Task …> returned Err(…)` | error | always, for tasks spawned with `task::Builder::spawn_fallible`; debug adds the spawn backtrace |
//! | `Task was destroyed but it is pending! <Task …>` | error | always, at shutdown, for each pending task not spawned as `background` (at most 10 lines, then one summary line) |
//! | `<Sleep created at src/x.rs:7:5> was dropped without being awaited` | warn | always; debug mode adds the creation backtrace |
//! | `unclosed runtime <Runtime …> dropped: …` | warn in debug mode, debug otherwise | a `Runtime` dropped without `close()` / `shutdown_timeout()` |
//! | `Executing <Task …> took 0.153 seconds` | warn | debug mode: a task poll or callback at least `slow_callback_duration` long |
//! | wrong-thread call | panic | debug mode (see `runtime::affinity`) |
//!
//! The checks of the loops themselves (the watchdog, the slow reactor) add
//! their own rows in their modules.

pub(crate) mod backtrace;
pub(crate) mod unawaited;

pub(crate) use backtrace::Trace;

pub(crate) mod graph;

pub(crate) mod activity;
pub(crate) mod clock;
pub(crate) mod recorder;
pub(crate) mod watchdog;

use std::fmt::Display;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

/// At most this many "destroyed but pending" lines per runtime shutdown;
/// the rest are counted in one summary line.
pub(crate) const MAX_DESTROYED_LINES: usize = 10;

/// The fix, named in the never-retrieved report.
const RETRIEVE_HINT: &str = "(await the Task, or handle the error inside it)";

/// Renders `trace` (if any) as the lines after a message.
fn traced(label: &str, trace: Option<&Trace>) -> String {
    match trace {
        Some(t) => {
            format!("\n{label} (most recent call last; the first task spawned at this site):{t}")
        }
        None => String::new(),
    }
}

/// A task panicked and nobody awaited its `Task` (dropped, detached).
pub(crate) fn report_unretrieved_panic(task: &dyn Display, message: &str, trace: Option<&Trace>) {
    log::error!(
        target: "loopwork",
        "Task exception was never retrieved: {task} panicked: {message} {RETRIEVE_HINT}{}",
        traced("Task spawned at", trace)
    );
}

/// A task spawned with `spawn_fallible` returned `Err` and nobody awaited it.
pub(crate) fn report_unretrieved_error(task: &dyn Display, error: &str, trace: Option<&Trace>) {
    log::error!(
        target: "loopwork",
        "Task exception was never retrieved: {task} returned Err({error}) {RETRIEVE_HINT}{}",
        traced("Task spawned at", trace)
    );
}

/// Counts the pending tasks a runtime's shutdown destroys, so a shutdown
/// with thousands of them logs ten lines and a summary, not thousands.
#[derive(Default)]
pub(crate) struct DestroyedPending {
    count: AtomicUsize,
}

impl DestroyedPending {
    /// Reports one pending task destroyed at shutdown (asyncio's "Task was
    /// destroyed but it is pending!").
    pub(crate) fn report(&self, task: &dyn Display, trace: Option<&Trace>) {
        let n = self.count.fetch_add(1, Relaxed);
        if n < MAX_DESTROYED_LINES {
            log::error!(
                target: "loopwork",
                "Task was destroyed but it is pending! {task} (await or cancel it before the \
                 runtime closes; spawn it with task::Builder::background(true) if its \
                 destruction at shutdown is expected){}",
                traced("Task spawned at", trace)
            );
        }
    }

    /// End of the shutdown: one line for the tasks beyond the first ten.
    pub(crate) fn finish(&self) {
        let n = self.count.swap(0, Relaxed);
        if n > MAX_DESTROYED_LINES {
            log::error!(
                target: "loopwork",
                "Task was destroyed but it is pending! ... and {} more pending task(s) ({n} in \
                 all) destroyed at shutdown",
                n - MAX_DESTROYED_LINES
            );
        }
    }
}

/// The level of a report that is a warning in debug mode and a debug line
/// otherwise (as asyncio's `ResourceWarning`s, shown only in debug mode).
pub(crate) fn warn_in_debug_mode(debug: bool) -> log::Level {
    if debug {
        log::Level::Warn
    } else {
        log::Level::Debug
    }
}

/// A `Runtime` dropped without `close()` or `shutdown_timeout()` (asyncio's
/// `ResourceWarning: unclosed event loop`): warn in debug mode, debug otherwise.
pub(crate) fn report_unclosed_runtime(runtime: &dyn Display, debug: bool) {
    log::log!(
        target: "loopwork",
        warn_in_debug_mode(debug),
        "unclosed runtime {runtime} dropped: call close() or shutdown_timeout() to shut it down explicitly"
    );
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
