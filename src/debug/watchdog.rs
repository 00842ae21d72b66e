//! The messages about a loop as a whole (debug mode): blocked right now,
//! running again, a late reactor wait. The watchdog thread that notices a
//! blocked loop is the runtime's (`runtime::watchdog`); this module only
//! says it, in one greppable line each (plus the recorder's events).
//!
//! | message | level |
//! |---|---|
//! | `loop 1 (thread 'loopwork-loop-1') has been blocked for 1.20 s by <Task …>` | warn, once per episode, while it lasts |
//! | `loop 1 (thread 'loopwork-loop-1') is running again: <Task …> blocked it for 3.214 s in total` | warn, when such an episode ends |
//! | `<Task …> panicked on loop 1 (thread …): boom; the loop's last scheduling events before the panic: …` | warn, at the panic |
//! | `loop 1 (thread 'loopwork-loop-1') waited 2.0 ms for I/O (timeout 2.0 ms): no I/O events` | debug, every wait |
//! | `loop 1 (thread 'loopwork-loop-1'): the poller's wait returned 0.412 s after its timeout of 10.0 ms …` | info, only when late by at least the slow threshold |

use std::fmt::Display;
use std::time::Duration;

/// What the watchdog knows about a blocked loop.
pub(crate) struct Blocked<'a> {
    pub(crate) index: usize,
    pub(crate) thread: &'a str,
    pub(crate) running_for: Duration,
    /// The task's repr or the callback's creation site.
    pub(crate) what: &'a str,
    /// Stealable tasks in its deque now.
    pub(crate) stealable_waiting: usize,
    /// Tasks siblings took from its deque since the block began.
    pub(crate) stolen_since: u64,
    /// Pinned tasks and inbox items waiting for it.
    pub(crate) pinned_waiting: usize,
    /// Its flight recorder's last events, one per line.
    pub(crate) events: &'a dyn Display,
}

/// Debug mode, from the watchdog thread while the loop is still blocked.
pub(crate) fn report_blocked(b: &Blocked<'_>) {
    log::warn!(
        target: "loopwork",
        "loop {} (thread '{}') has been blocked for {:.2} s by {}, still running: its siblings \
         steal its stealable work ({} task(s) in its deque, {} stolen since the block began) \
         while its {} pinned task(s) and inbox item(s) wait; a task must not block its loop \
         (use spawn_blocking for blocking calls). Its last scheduling events:{}",
        b.index,
        b.thread,
        b.running_for.as_secs_f64(),
        b.what,
        b.stealable_waiting,
        b.stolen_since,
        b.pinned_waiting,
        b.events
    );
}

/// Debug mode, from the loop itself when a run the watchdog reported ends.
pub(crate) fn report_unblocked(index: usize, thread: &str, what: &dyn Display, took: Duration) {
    log::warn!(
        target: "loopwork",
        "loop {index} (thread '{thread}') is running again: {what} blocked it for {:.3} s in total",
        took.as_secs_f64()
    );
}

/// Debug mode, on the loop right after a task's poll panicked: the loop's
/// last scheduling events, which led to it (the panic itself is reported
/// as usual, when its `Task` is awaited or dropped).
pub(crate) fn report_panic_events(
    task: &dyn Display,
    index: usize,
    thread: &str,
    message: &str,
    events: &dyn Display,
) {
    log::warn!(
        target: "loopwork",
        "{task} panicked on loop {index} (thread '{thread}'): {message}; the loop's last \
         scheduling events before the panic:{events}"
    );
}

/// Debug mode: one reactor wait (`timeout` `None`: no limit); logs at debug,
/// and at info when the wait returned later than its timeout by `slow` or
/// more (the thread was descheduled, or the machine is overloaded). Normal
/// idle waits log nothing above debug: asyncio's per-wait info lines were
/// removed upstream as noise.
pub(crate) fn report_wait(
    index: usize,
    thread: &str,
    timeout: Option<Duration>,
    took: Duration,
    io: bool,
    slow: Duration,
) {
    log::debug!(
        target: "loopwork",
        "loop {index} (thread '{thread}') waited {:.1} ms for I/O (timeout {}): {}",
        took.as_secs_f64() * 1e3,
        timeout.map_or_else(|| "none".to_owned(), |t| format!("{:.1} ms", t.as_secs_f64() * 1e3)),
        if io { "I/O events" } else { "no I/O events" }
    );
    if let Some(timeout) = timeout {
        if took >= timeout.saturating_add(slow) {
            log::info!(
                target: "loopwork",
                "loop {index} (thread '{thread}'): the poller's wait returned {:.3} s after its timeout of {:.1} ms (it took \
                 {:.3} s): the loop's thread was descheduled or the machine is overloaded, so its \
                 timers fire late",
                (took - timeout).as_secs_f64(),
                timeout.as_secs_f64() * 1e3,
                took.as_secs_f64()
            );
        }
    }
}
