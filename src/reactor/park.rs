//! The park flag: the handshake between a parking loop and producers that
//! push into that loop's inbox.
//!
//! Loop (parking): `prepare_park` (flag = true, SeqCst fence), then re-check
//! the inbox; sleep only if it is empty. Producer: push, then
//! `should_notify` (SeqCst fence, read the flag), and notify if it was set.
//! The two fences order the two write→read pairs, so either the loop sees the
//! item or the producer sees the flag: a wakeup is never lost. A spurious
//! notify (the loop was already waking) is harmless: the poller dedupes it
//! and a wait that returns early just goes round the loop once more.

use crate::scheduler::idle::Idle;
use crate::sync::atomic::{fence, AtomicBool, Ordering::SeqCst};

/// One loop's parking sequence: the order of steps that makes a wakeup
/// impossible to lose. Shared by `LoopCore::park` and the loom model loop, so
/// the order loom checks is the order the runtime runs.
///
/// 1. publish "parked" to producers of shared work (`Idle::transition_to_parked`)
///    and to producers of this loop's inbox (`ParkFlag::prepare_park`);
/// 2. re-check every queue (`has_work`); sleep (`wait`) only if all are empty;
/// 3. `ParkFlag::unpark`, then `Idle::transition_from_parked`.
///
/// Returns `true` when a producer woke this loop as a searcher.
pub(crate) fn park_loop(
    idle: &Idle,
    flag: &ParkFlag,
    index: usize,
    was_searching: bool,
    has_work: impl FnOnce() -> bool,
    wait: impl FnOnce(),
) -> bool {
    idle.transition_to_parked(index, was_searching);
    flag.prepare_park();
    #[cfg(not(loopwork_mutant = "park_no_recheck"))]
    let skip = has_work();
    #[cfg(loopwork_mutant = "park_no_recheck")]
    let skip = {
        drop(has_work);
        false
    };
    if !skip {
        wait();
    }
    flag.unpark();
    idle.transition_from_parked(index)
}

#[derive(Default)]
pub(crate) struct ParkFlag {
    parked: AtomicBool,
}

impl ParkFlag {
    pub(crate) fn new() -> ParkFlag {
        ParkFlag {
            parked: AtomicBool::new(false),
        }
    }

    /// The loop is about to park; it must re-check its inbox after this.
    pub(crate) fn prepare_park(&self) {
        self.parked.store(true, SeqCst);
        fence(SeqCst);
    }

    /// The loop is running again.
    pub(crate) fn unpark(&self) {
        self.parked.store(false, SeqCst);
    }

    /// Producer side, after pushing: whether the loop must be notified.
    pub(crate) fn should_notify(&self) -> bool {
        #[cfg(not(loopwork_mutant = "inbox_skip_notify"))]
        {
            fence(SeqCst);
            self.parked.load(SeqCst)
        }
        #[cfg(loopwork_mutant = "inbox_skip_notify")]
        false
    }
}
