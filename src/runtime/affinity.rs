//! Thread-affinity checks for loop-local APIs.
//!
//! The rules:
//! * Loop-local APIs (`call_soon`, `call_later`, `call_at`, `add_reader`,
//!   `add_writer`, …) may only run on the owning loop's thread. With work
//!   stealing a `Send` task can run on a different loop between two polls,
//!   so this is a real, dynamic hazard, not only a foreign-thread one.
//! * **Debug mode**: a wrong-thread call panics with one message naming the
//!   API, the loop, the owner thread, the calling thread, the call site
//!   (`#[track_caller]`) and the thread-safe alternative.
//! * **Production**: a wrong-thread call whose argument is `Send` takes the
//!   thread-safe path instead (correct, slower) and is counted in
//!   `RuntimeMetrics::wrong_thread_calls`. Anything whose soundness depends
//!   on the thread (a `!Send` value, a pinned task, `Local<T>::get`) is
//!   checked in every mode.
//! * Blocking waits on a loop thread (`ConcurrentFuture::result`,
//!   `Handle::block_on`, a nested `Runtime::block_on`) would stall the loop:
//!   debug mode panics, production logs at warn once per call site
//!   (`handle::check_blocking_wait`).

use super::shared::Shared;
use crate::sync::atomic::Ordering::Relaxed;
use std::panic::Location;

pub(crate) fn wrong_thread_message(
    shared: &Shared,
    index: usize,
    api: &str,
    alternative: &str,
    location: &Location<'_>,
) -> String {
    let current = std::thread::current();
    let caller = current.name().unwrap_or("<unnamed>");
    let owner = &shared.loops[index].thread_name;
    format!(
        "{api} called at {location} on thread '{caller}', but loop {index} is owned by thread \
         '{owner}': loop-local APIs must run on their loop's thread (note that a Send task can \
         be stolen by another loop between two polls). Use LoopHandle::{alternative}, which \
         works from any thread"
    )
}

/// A loop-local call arrived on the wrong thread: panic in debug mode,
/// otherwise count it (the caller then takes the thread-safe path).
pub(crate) fn on_wrong_thread(
    shared: &Shared,
    index: usize,
    api: &str,
    alternative: &str,
    location: &Location<'_>,
) {
    if shared.is_debug() {
        panic!(
            "{}",
            wrong_thread_message(shared, index, api, alternative, location)
        );
    }
    shared.wrong_thread_calls.fetch_add(1, Relaxed);
    shared.sched.loops[index]
        .counters
        .wrong_thread_calls
        .fetch_add(1, Relaxed);
}
