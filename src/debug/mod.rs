//! Debug-mode diagnostics, reported through the `log` crate, target `"loopwork"`.
//!
//! Always on (as in asyncio): a task error that nobody retrieved, and a
//! pending task destroyed at shutdown. Debug mode adds the timing checks
//! (slow task polls) and the wrong-thread panics of the affinity rules.

use crate::task::{Panic, TaskMeta};

/// Logged when a task panicked and its `Task` handle was dropped (or had been
/// detached) without awaiting it: the error would otherwise vanish.
pub(crate) fn report_unretrieved_panic(meta: &TaskMeta, panic: &Panic) {
    log::error!(
        target: "loopwork",
        "Task exception was never retrieved: {meta} panicked: {}",
        panic.message()
    );
}

/// Logged at shutdown for each task that was still pending when its loop
/// dropped it (asyncio's "Task was destroyed but it is pending!").
pub(crate) fn report_destroyed_pending(meta: &TaskMeta) {
    log::debug!(target: "loopwork", "Task was destroyed but it is pending! {meta}");
}
