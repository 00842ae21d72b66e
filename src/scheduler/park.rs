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
//!
//! The flag is raised before the loop publishes "parked" to the idle
//! protocol and lowered after its wait, so it also tells siblings that steal
//! I/O events (`poll_sibling`) that the loop is not running.

use crate::scheduler::idle::Idle;
use crate::sync::atomic::{fence, AtomicBool, Ordering::Relaxed, Ordering::SeqCst};

/// One loop's parking sequence: the order of steps that makes a wakeup
/// impossible to lose. Shared by `LoopCore::park` and the loom model loop, so
/// the order loom checks is the order the runtime runs.
///
/// 1. publish "parked" to producers of this loop's inbox and to event
///    stealers (`ParkFlag::prepare_park`), then to producers of shared work
///    (`Idle::transition_to_parked`);
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
    flag.prepare_park();
    idle.transition_to_parked(index, was_searching);
    let skip = has_work();
    if !skip {
        wait();
    }
    flag.unpark();
    idle.transition_from_parked(index)
}

/// I/O event stealing, the stealer's side: `poll` is a zero-timeout wait on
/// a sibling's poller, made from another loop's thread, which dispatches
/// what it collects; returns what `poll` returns.
///
/// * Skipped (`false`) while the sibling's `flag` is up: it is parking or
///   parked, so it is idle and its own wait collects its events (and a wait
///   of ours would make its wait return at once, empty, since `polling`
///   lets one thread wait at a time).
/// * The wait may consume a notify meant for the sibling (`polling` clears
///   its notification after every wait, whoever waits). Every notify is
///   sent to a loop that has raised its flag (`should_notify` reads it; the
///   idle protocol only picks loops that published "parked", after raising
///   it), so if the flag is up after the wait, the sibling is notified
///   again; if it is down, the sibling has not parked since, or has woken
///   since, and will look at its queues before it sleeps.
pub(crate) fn poll_sibling(
    flag: &ParkFlag,
    poll: impl FnOnce() -> bool,
    notify: impl FnOnce(),
) -> bool {
    if flag.is_parked() {
        return false;
    }
    let found = poll();
    if flag.is_parked() {
        notify();
    }
    found
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
        // Pairs with the fence in `should_notify`: this store against a
        // producer's push to the inbox. Either the producer reads the flag
        // up (and notifies), or the loop's re-check after this sees the
        // item.
        fence(SeqCst);
    }

    /// The loop is running again.
    pub(crate) fn unpark(&self) {
        self.parked.store(false, SeqCst);
    }

    /// Whether the loop is parking or parked (not running): for event
    /// stealers, see [`poll_sibling`].
    pub(crate) fn is_parked(&self) -> bool {
        // Pairs with the fence in `prepare_park`: an event stealer's wait
        // on the sibling's poller (before its post-check) against the
        // sibling raising its flag (see `poll_sibling`).
        fence(SeqCst);
        self.parked.load(SeqCst)
    }

    /// Whether the loop is parking or parked, as a hint only (no fence; it
    /// may be stale at once): a submitter uses it to guess whether its work
    /// will start soon (see `ConcurrentFuture::result`'s spin).
    pub(crate) fn parked_hint(&self) -> bool {
        self.parked.load(Relaxed)
    }

    /// Producer side, after pushing: whether the loop must be notified.
    pub(crate) fn should_notify(&self) -> bool {
        {
            // Pairs with the fence in `prepare_park` (see there).
            fence(SeqCst);
            self.parked.load(SeqCst)
        }
    }
}
