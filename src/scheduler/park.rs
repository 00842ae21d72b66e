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

#[cfg(test)]
#[cfg(not(loopwork_loom))]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn the_flag_is_down_until_a_park_is_prepared_and_down_again_after_unpark() {
        let flag = ParkFlag::new();
        let read = |f: &ParkFlag| (f.is_parked(), f.parked_hint(), f.should_notify());
        assert_eq!(read(&flag), (false, false, false), "a new loop runs");
        flag.prepare_park();
        assert_eq!(read(&flag), (true, true, true), "a parking loop");
        flag.unpark();
        assert_eq!(read(&flag), (false, false, false), "running again");
    }

    #[test]
    fn a_park_with_empty_queues_waits_with_the_flag_up_and_returns_running() {
        let idle = Idle::new(1);
        let flag = ParkFlag::new();
        let waited = Cell::new(false);
        let woken_as_searcher = park_loop(
            &idle,
            &flag,
            0,
            false,
            || {
                assert!(
                    flag.is_parked(),
                    "the queues are re-checked with the flag up"
                );
                assert!(idle.is_parked(0), "and after publishing parked");
                false
            },
            || {
                assert!(flag.should_notify(), "a producer sees the loop parked");
                waited.set(true);
            },
        );
        assert!(waited.get(), "empty queues: the loop waits");
        assert!(!flag.is_parked(), "the flag is down after the wait");
        assert!(!woken_as_searcher, "no producer woke it");
        assert_eq!(idle.num_unparked(), 1);
    }

    #[test]
    fn a_park_that_finds_work_in_its_re_check_does_not_wait() {
        let idle = Idle::new(1);
        let flag = ParkFlag::new();
        let woken_as_searcher = park_loop(
            &idle,
            &flag,
            0,
            false,
            || true,
            || panic!("the re-check found work: the loop must not wait"),
        );
        assert!(!woken_as_searcher);
        assert!(!flag.is_parked());
        assert_eq!(idle.num_unparked(), 1);
    }

    #[test]
    fn a_park_woken_by_a_producer_returns_as_a_searcher() {
        let idle = Idle::new(1);
        let flag = ParkFlag::new();
        let woken_as_searcher = park_loop(
            &idle,
            &flag,
            0,
            false,
            || false,
            || {
                assert_eq!(
                    idle.notify_one(),
                    Some(0),
                    "the producer picks the parked loop"
                );
            },
        );
        assert!(woken_as_searcher, "the producer counted it as a searcher");
        assert_eq!(idle.num_searching(), 1);
    }

    #[test]
    fn stealing_from_a_running_sibling_polls_and_answers_what_the_poll_found() {
        let flag = ParkFlag::new();
        for found in [true, false] {
            let polled = Cell::new(false);
            let answer = poll_sibling(
                &flag,
                || {
                    polled.set(true);
                    found
                },
                || panic!("the sibling did not park: no notify is owed"),
            );
            assert!(polled.get());
            assert_eq!(answer, found);
        }
    }

    #[test]
    fn stealing_from_a_parked_sibling_does_not_poll() {
        let flag = ParkFlag::new();
        flag.prepare_park();
        let answer = poll_sibling(
            &flag,
            || panic!("a parked sibling collects its own events"),
            || panic!("nothing was polled: no notify was consumed"),
        );
        assert!(!answer);
    }

    #[test]
    fn a_sibling_that_parked_during_the_steal_is_notified_again() {
        let flag = ParkFlag::new();
        let notified = Cell::new(0);
        let answer = poll_sibling(
            &flag,
            || {
                // The sibling parks while the stealer waits on its poller.
                flag.prepare_park();
                false
            },
            || notified.set(notified.get() + 1),
        );
        assert!(!answer);
        assert_eq!(
            notified.get(),
            1,
            "the notify the poll may have consumed is resent"
        );
    }
}
