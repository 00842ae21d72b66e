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
