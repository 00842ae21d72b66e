//! Thread-affinity checks for loop-local APIs (ARCHITECTURE §4).
//!
//! A loop-local call on a thread that does not own the loop — a foreign
//! thread, or a `Send` task stolen by another loop between two polls — panics
//! in debug mode with one message naming the API, the loop, the owner
//! thread, the calling thread, the call site and the thread-safe alternative.
//! In production, a call whose argument is `Send` takes the thread-safe path
//! instead and is counted in `RuntimeMetrics::wrong_thread_calls`.

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
}
