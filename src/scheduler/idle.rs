//! The idle protocol: which loops are searching for work and which are parked.
//!
//! Follows tokio's idle protocol in spirit. One atomic word counts loops that
//! are *searching* (looking for work to steal) and loops that are *unparked*
//! (not sleeping); a bitset records which loops are parked and may be woken.
//!
//! **Producer** (a spawn, a remote wake): push the work, then
//! [`Idle::notify_one`]. It wakes a parked loop only when *no* loop is
//! searching — a searching loop will find the work — and the woken loop is
//! counted as searching at once, so a burst of spawns wakes one loop, not all.
//!
//! **Searcher**: a loop that finds its own queues empty becomes a searcher
//! ([`Idle::transition_to_searching`]; at most half the loops search at once),
//! takes a batch from the injector or steals half a sibling's deque. When it
//! starts running what it found it stops searching; if it was the *last*
//! searcher and work is left it wakes the next loop (passing the baton).
//!
//! **Parking** (no lost wakeup): a loop about to park first publishes that it
//! is parked ([`Idle::transition_to_parked`]: sets its bit, leaves the
//! searching and unparked counts) and only then re-checks every queue. A
//! producer pushes first and reads the counts after. Both sides put a
//! `SeqCst` fence between their write and their read, so at least one of them
//! sees the other: either the producer sees the parked loop and wakes it, or
//! the parking loop sees the work and does not sleep.

use crate::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering::SeqCst};

const SEARCH_ONE: usize = 1;
const SEARCH_MASK: usize = (1 << 16) - 1;
const UNPARKED_SHIFT: usize = 16;
const UNPARKED_ONE: usize = 1 << UNPARKED_SHIFT;

pub(crate) struct Idle {
    /// Low 16 bits: searching loops. Upper bits: unparked loops.
    state: AtomicUsize,
    /// Bit `i` set: loop `i` is parked and nobody has claimed waking it.
    sleepers: Box<[AtomicU64]>,
    num_loops: usize,
}

impl Idle {
    pub(crate) fn new(num_loops: usize) -> Idle {
        assert!(
            num_loops > 0 && num_loops < SEARCH_MASK,
            "bad loop count {num_loops}"
        );
        Idle {
            state: AtomicUsize::new(num_loops * UNPARKED_ONE),
            sleepers: (0..num_loops.div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
            num_loops,
        }
    }

    pub(crate) fn num_searching(&self) -> usize {
        self.state.load(SeqCst) & SEARCH_MASK
    }

    #[cfg_attr(not(loopwork_loom), allow(dead_code))]
    pub(crate) fn num_unparked(&self) -> usize {
        self.state.load(SeqCst) >> UNPARKED_SHIFT
    }

    /// A loop with no local work wants to search. Refused (`false`) when half
    /// the loops are searching already: they will find the work.
    pub(crate) fn transition_to_searching(&self) -> bool {
        let state = self.state.load(SeqCst);
        if 2 * (state & SEARCH_MASK) >= self.num_loops {
            return false;
        }
        self.state.fetch_add(SEARCH_ONE, SeqCst);
        true
    }

    /// A searcher found work. `true` if it was the last searcher: the caller
    /// must then wake another loop if work is left (see the module docs).
    pub(crate) fn transition_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(SEARCH_ONE, SeqCst);
        debug_assert!(prev & SEARCH_MASK > 0);
        prev & SEARCH_MASK == 1
    }

    /// Announces that loop `index` is about to park. The caller must re-check
    /// all queues afterwards. Returns `true` if it was the last searcher.
    pub(crate) fn transition_to_parked(&self, index: usize, is_searching: bool) -> bool {
        let (word, bit) = (index / 64, 1u64 << (index % 64));
        self.sleepers[word].fetch_or(bit, SeqCst);
        let dec = UNPARKED_ONE + usize::from(is_searching) * SEARCH_ONE;
        let prev = self.state.fetch_sub(dec, SeqCst);
        // Pairs with the fence at the top of `notify_one`: this loop's
        // "parked" (the bit and the count above) against the producer's
        // push. Either the producer's read of the counts sees this loop
        // parked, or this loop's re-check of the queues (next, in
        // `park_loop`) sees the producer's work.
        fence(SeqCst);
        is_searching && prev & SEARCH_MASK == 1
    }

    /// Loop `index` is awake again (woken, timed out, or it found work in its
    /// re-check). Returns `true` if a producer woke it, in which case it was
    /// counted as searching and must behave as a searcher.
    pub(crate) fn transition_from_parked(&self, index: usize) -> bool {
        let (word, bit) = (index / 64, 1u64 << (index % 64));
        let prev = self.sleepers[word].fetch_and(!bit, SeqCst);
        if prev & bit != 0 {
            // Nobody claimed us: count ourselves back in, not searching.
            self.state.fetch_add(UNPARKED_ONE, SeqCst);
            false
        } else {
            true
        }
    }

    /// Called by a producer after pushing work. Returns the loop to wake, if
    /// one should be woken; that loop is already counted as unparked and
    /// searching.
    pub(crate) fn notify_one(&self) -> Option<usize> {
        // Pairs with the fence in `transition_to_parked`: the caller's push
        // (before this call) against a parking loop's publication (see the
        // module docs).
        fence(SeqCst);
        'retry: loop {
            let mut state = self.state.load(SeqCst);
            loop {
                if state & SEARCH_MASK != 0 || state >> UNPARKED_SHIFT >= self.num_loops {
                    return None;
                }
                let next = state + SEARCH_ONE + UNPARKED_ONE;
                match self.state.compare_exchange(state, next, SeqCst, SeqCst) {
                    Ok(_) => break,
                    Err(actual) => state = actual,
                }
            }
            // We hold one wake ticket: claim a parked loop's bit.
            for (w, word) in self.sleepers.iter().enumerate() {
                let mut bits = word.load(SeqCst);
                while bits != 0 {
                    let bit = bits & bits.wrapping_neg();
                    match word.compare_exchange(bits, bits & !bit, SeqCst, SeqCst) {
                        Ok(_) => return Some(w * 64 + bit.trailing_zeros() as usize),
                        Err(actual) => bits = actual,
                    }
                }
            }
            // The parked loop woke on its own meanwhile: give the ticket back
            // and look again. While we held it, the ticket counted as a
            // searcher, so a loop parking in that window may have left the
            // shared work to "the searcher" (`keeps_awake`) and gone to
            // sleep: returning here would lose its wakeup (found by loom at
            // LOOM_MAX_PREEMPTIONS=3). Each retry follows progress by another
            // loop (it cleared its own bit), and the retry ends by waking a
            // parked loop, by seeing a real searcher or another producer's
            // ticket (which then carries the responsibility), or by seeing
            // every loop awake (a loop parking later re-checks the queues).
            self.state.fetch_sub(SEARCH_ONE + UNPARKED_ONE, SeqCst);
            crate::sync::spin_loop();
            continue 'retry;
        }
    }

    /// The park re-check's rule (after `transition_to_parked`): work only
    /// this loop can run (`local`) always keeps it awake; work in shared
    /// queues (`shared`: the injector, siblings' deques) only when no loop is
    /// searching. A searcher is responsible for shared work: it takes it, or
    /// — being the last searcher — finds it in its own re-check before it
    /// parks, or wakes the next loop when it stops searching with work left.
    /// Without this rule a loop refused permission to search would spin on
    /// work it may not take instead of sleeping.
    pub(crate) fn keeps_awake(&self, local: bool, shared: impl FnOnce() -> bool) -> bool {
        local || (self.num_searching() == 0 && shared())
    }

    /// Whether loop `index` is currently marked parked.
    #[cfg_attr(not(loopwork_loom), allow(dead_code))]
    pub(crate) fn is_parked(&self, index: usize) -> bool {
        self.sleepers[index / 64].load(SeqCst) & (1u64 << (index % 64)) != 0
    }
}

// The protocol's bookkeeping, one call at a time. The integration tests see
// it only through wake-ups: a miscount that wakes one loop too many, or a
// searcher too few, changes how much work is spread, not whether it all runs
// (see TESTING.md, cargo-mutants); the lost wake-ups are loom's (park_notify).
#[cfg(test)]
#[cfg(not(loopwork_loom))]
mod tests {
    use super::*;

    #[test]
    fn a_new_idle_counts_every_loop_unparked_and_none_searching_or_parked() {
        let idle = Idle::new(130);
        assert_eq!(idle.num_unparked(), 130);
        assert_eq!(idle.num_searching(), 0);
        assert_eq!(idle.sleepers.len(), 3);
        assert!((0..130).all(|i| !idle.is_parked(i)));
        assert_eq!(SEARCH_MASK, 0xffff);
        assert_eq!(UNPARKED_ONE, 0x1_0000);
    }

    #[test]
    #[should_panic(expected = "bad loop count 0")]
    fn an_idle_of_no_loops_is_refused() {
        Idle::new(0);
    }

    #[test]
    fn at_most_half_the_loops_search_at_once() {
        for (loops, allowed) in [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3)] {
            let idle = Idle::new(loops);
            for _ in 0..allowed {
                assert!(idle.transition_to_searching(), "{loops} loops");
            }
            assert!(!idle.transition_to_searching(), "{loops} loops");
            assert_eq!(idle.num_searching(), allowed);
            assert_eq!(idle.num_unparked(), loops);
        }
    }

    #[test]
    fn only_the_last_searcher_to_stop_is_told_so() {
        let idle = Idle::new(4);
        assert!(idle.transition_to_searching());
        assert!(idle.transition_to_searching());
        assert!(!idle.transition_from_searching());
        assert_eq!(idle.num_searching(), 1);
        assert!(idle.transition_from_searching());
        assert_eq!(idle.num_searching(), 0);
        assert_eq!(idle.num_unparked(), 4);
    }

    #[test]
    fn parking_marks_the_loop_and_leaves_the_counts() {
        let idle = Idle::new(130);
        assert!(!idle.transition_to_parked(70, false));
        assert!(idle.is_parked(70));
        assert!((0..130).filter(|&i| i != 70).all(|i| !idle.is_parked(i)));
        assert_eq!(idle.sleepers[1].load(SeqCst), 1 << 6);
        assert_eq!(idle.num_unparked(), 129);
        assert_eq!(idle.num_searching(), 0);

        assert!(!idle.transition_to_parked(3, false));
        assert_eq!(idle.sleepers[0].load(SeqCst), 1 << 3);
        assert!(idle.is_parked(3) && !idle.is_parked(0) && !idle.is_parked(67));
        assert_eq!(idle.num_unparked(), 128);
    }

    #[test]
    fn a_parking_searcher_is_told_when_it_was_the_last() {
        let idle = Idle::new(4);
        idle.transition_to_searching();
        idle.transition_to_searching();
        assert!(
            !idle.transition_to_parked(1, true),
            "another searcher remains"
        );
        assert_eq!(idle.num_searching(), 1);
        assert!(!idle.transition_to_parked(2, false), "not a searcher");
        assert_eq!(idle.num_searching(), 1);
        assert!(idle.transition_to_parked(3, true), "the last searcher");
        assert_eq!(idle.num_searching(), 0);
        assert_eq!(idle.num_unparked(), 1);
    }

    #[test]
    fn a_loop_waking_on_its_own_counts_itself_back_unparked_not_searching() {
        let idle = Idle::new(130);
        idle.transition_to_parked(70, false);
        assert!(!idle.transition_from_parked(70));
        assert!(!idle.is_parked(70));
        assert_eq!(idle.sleepers[1].load(SeqCst), 0);
        assert_eq!(idle.num_unparked(), 130);
        assert_eq!(idle.num_searching(), 0);
    }

    #[test]
    fn a_notified_loop_is_woken_once_and_counted_searching() {
        let idle = Idle::new(130);
        idle.transition_to_parked(70, false);
        idle.transition_to_parked(66, false);
        idle.transition_to_parked(129, false);
        assert_eq!(idle.num_unparked(), 127);
        // The lowest parked loop is woken, and counted as searching at once.
        assert_eq!(idle.notify_one(), Some(66));
        assert!(!idle.is_parked(66) && idle.is_parked(70) && idle.is_parked(129));
        assert_eq!(idle.num_searching(), 1);
        assert_eq!(idle.num_unparked(), 128);
        // A searcher exists: the next producer wakes nobody.
        assert_eq!(idle.notify_one(), None);
        // The woken loop learns it was woken (its bit is gone).
        assert!(idle.transition_from_parked(66));
        assert_eq!(idle.num_unparked(), 128);
        assert_eq!(idle.num_searching(), 1);
        assert!(idle.transition_from_searching());
        assert_eq!(idle.notify_one(), Some(70));
        assert!(idle.transition_from_searching());
        assert_eq!(idle.notify_one(), Some(129));
        assert_eq!(idle.num_unparked(), 130);
    }

    #[test]
    fn no_loop_is_woken_when_all_are_awake() {
        let idle = Idle::new(2);
        assert_eq!(idle.notify_one(), None);
        assert_eq!(idle.num_searching(), 0);
        assert_eq!(idle.num_unparked(), 2);
    }

    #[test]
    fn a_producer_whose_parked_loop_woke_on_its_own_gives_its_ticket_back() {
        let idle = std::sync::Arc::new(Idle::new(2));
        idle.transition_to_parked(1, false);
        // Loop 1 is between the two halves of `transition_from_parked`: its
        // bit is cleared, it is not counted unparked yet. A producer sees a
        // parked loop but no bit to claim, and retries until loop 1 is back.
        idle.sleepers[0].fetch_and(!0b10, SeqCst);
        let producer = {
            let idle = idle.clone();
            std::thread::spawn(move || idle.notify_one())
        };
        // Wait until the producer holds a ticket (counted as a searcher), so
        // the retry path is the one tested, then let loop 1 finish waking.
        while idle.num_searching() == 0 {
            std::thread::yield_now();
        }
        idle.state.fetch_add(UNPARKED_ONE, SeqCst);
        assert_eq!(producer.join().unwrap(), None);
        assert_eq!(idle.num_searching(), 0, "the ticket was given back");
        assert_eq!(idle.num_unparked(), 2);
    }

    #[test]
    fn local_work_always_keeps_a_loop_awake_and_shared_work_only_without_searchers() {
        let idle = Idle::new(4);
        assert!(idle.keeps_awake(true, || false));
        assert!(idle.keeps_awake(true, || true));
        assert!(idle.keeps_awake(false, || true));
        assert!(!idle.keeps_awake(false, || false));
        idle.transition_to_searching();
        assert!(idle.keeps_awake(true, || true));
        assert!(!idle.keeps_awake(false, || true));
    }
}
