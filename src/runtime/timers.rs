//! Each loop's timer store, and the timer entries it holds.
//!
//! # The store
//! Each loop owns a binary min-heap of timer entries ordered by deadline (ties
//! by arming order). Costs: arming O(log n); cancelling O(1) — the entry is
//! only marked, and stays in the heap until it would fire or a compaction
//! drops it; firing O(log n) per timer. A compaction (O(n)) runs when the
//! heap has doubled since the last one, so cancelled entries cost amortised
//! O(1) and never hold more than half the heap for long. A heap was chosen
//! over a hierarchical wheel because its cost does not depend on how far away
//! deadlines are, it has no tick granularity (timers fire at their exact
//! instant, never early), and loops with few timers pay almost nothing.
//!
//! # Cross-thread rules
//! A timer entry may be armed by a `Sleep` polled on one loop, stolen, and
//! polled or dropped on another. It is therefore shared (`Arc`) and its
//! state is atomic: the heap that holds it belongs to the loop that armed it,
//! and any thread may cancel it or replace its waker. An entry armed off any
//! loop (inside `block_on` on a foreign thread) reaches a loop of its runtime
//! through that loop's inbox (see `time::Sleep`).
//!
//! A closing loop fires (wakes) every sleep armed on it, and a foreign
//! sleep arms only through the runtime's gate, so no sleep waits on a timer
//! that will never fire (see `time::Sleep`'s "On a closed runtime").
//!
//! Deadlines that cannot be represented (`Duration::MAX`, instants centuries
//! away) are clamped to about 30 years from now: they never panic or
//! overflow, and they never fire in practice.

use super::callbacks::LocalCallback;
use crate::sync::atomic::{AtomicU8, Ordering::*};
use crate::sync::{Arc, Mutex};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::task::Waker;
use std::time::{Duration, Instant};

const WAITING: u8 = 0;
const FIRED: u8 = 1;
const CANCELLED: u8 = 2;

/// About thirty years: the horizon for deadlines that would overflow `Instant`.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

pub(crate) fn deadline_after(delay: Duration) -> Instant {
    let now = crate::sync::now();
    now.checked_add(delay).unwrap_or_else(|| now + FAR_FUTURE)
}

/// One armed timer, shared between its `Sleep` and the heap that holds it.
pub(crate) struct TimerEntry {
    deadline: Instant,
    state: AtomicU8,
    waker: Mutex<Option<Waker>>,
}

impl TimerEntry {
    pub(crate) fn new(deadline: Instant, waker: Waker) -> TimerEntry {
        TimerEntry {
            deadline,
            state: AtomicU8::new(WAITING),
            waker: Mutex::new(Some(waker)),
        }
    }

    /// Called by the owning loop when the deadline has passed.
    pub(crate) fn fire(&self) {
        if self
            .state
            .compare_exchange(WAITING, FIRED, AcqRel, Acquire)
            .is_ok()
        {
            // AcqRel: pairs with `cancel`'s CAS (one of fired/cancelled
            // wins) and, through the Release, with `poll_fired`'s Acquire
            // load under the waker lock.
            // The state is set before the lock is taken; a poller that holds
            // the lock either stored its waker before (we take it here) or
            // sees FIRED after (and completes without waiting).
            let waker = self.waker.lock().take();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    /// Whether the entry has fired; if not, `waker` is the one its firing
    /// wakes (replacing the previous one unless it would wake the same task).
    pub(crate) fn poll_fired(&self, waker: &Waker) -> bool {
        let mut slot = self.waker.lock();
        // Acquire: pairs with `fire`'s CAS.
        if self.state.load(Acquire) == FIRED {
            return true;
        }
        match &*slot {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
        false
    }

    /// Cancels the entry (its waker is dropped; the heap drops it later).
    pub(crate) fn cancel(&self) {
        // Pairs with `fire`'s CAS: one of them wins.
        let _ = self
            .state
            .compare_exchange(WAITING, CANCELLED, AcqRel, Acquire);
        self.waker.lock().take();
    }

    fn is_cancelled(&self) -> bool {
        self.state.load(Relaxed) == CANCELLED
    }
}

struct HeapEntry {
    deadline: Instant,
    seq: u64,
    action: TimerAction,
}

/// What a due timer does: wake a `Sleep`'s task, or run a loop-local
/// callback (`call_later` / `call_at`).
pub(crate) enum TimerAction {
    Wake(Arc<TimerEntry>),
    Call(LocalCallback),
}

impl TimerAction {
    fn is_cancelled(&self) -> bool {
        match self {
            TimerAction::Wake(e) => e.is_cancelled(),
            TimerAction::Call(c) => c.state.is_cancelled(),
        }
    }
}

impl PartialEq for HeapEntry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for HeapEntry {}
impl PartialOrd for HeapEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapEntry {
    /// Reversed: `BinaryHeap` is a max-heap, we want the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

/// A loop's timers. Owned by the loop thread.
#[derive(Default)]
pub(crate) struct TimerStore {
    heap: BinaryHeap<HeapEntry>,
    seq: u64,
    compact_at: usize,
}

const MIN_COMPACT: usize = 64;

impl TimerStore {
    pub(crate) fn new() -> TimerStore {
        TimerStore {
            heap: BinaryHeap::new(),
            seq: 0,
            compact_at: MIN_COMPACT,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    pub(crate) fn insert(&mut self, entry: Arc<TimerEntry>) {
        self.push(entry.deadline, TimerAction::Wake(entry));
    }

    /// Arms a loop-local callback for `deadline`.
    pub(crate) fn insert_callback(&mut self, deadline: Instant, cb: LocalCallback) {
        self.push(deadline, TimerAction::Call(cb));
    }

    fn push(&mut self, deadline: Instant, action: TimerAction) {
        if self.heap.len() >= self.compact_at {
            self.heap.retain(|e| !e.action.is_cancelled());
            self.compact_at = (self.heap.len() * 2).max(MIN_COMPACT);
        }
        self.seq += 1;
        self.heap.push(HeapEntry {
            deadline,
            seq: self.seq,
            action,
        });
    }

    /// Removes and returns the entries whose deadline is at or before `now`,
    /// in deadline order.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<TimerAction> {
        let mut due = Vec::new();
        while let Some(top) = self.heap.peek() {
            if top.deadline > now {
                break;
            }
            let action = self.heap.pop().expect("peeked").action;
            if !action.is_cancelled() {
                due.push(action);
            }
        }
        due
    }

    /// Every entry, due or not, cancelled ones left out: the closing loop
    /// wakes the sleeps and drops the callbacks.
    pub(crate) fn drain(self) -> Vec<TimerAction> {
        self.heap
            .into_vec()
            .into_iter()
            .map(|e| e.action)
            .filter(|a| !a.is_cancelled())
            .collect()
    }

    /// How long the loop may sleep before the next live timer is due.
    pub(crate) fn next_timeout(&mut self, now: Instant) -> Option<Duration> {
        while let Some(top) = self.heap.peek() {
            if top.action.is_cancelled() {
                self.heap.pop();
                continue;
            }
            return Some(top.deadline.saturating_duration_since(now));
        }
        None
    }
}

// The store and an entry, driven by hand with a fixed `now`. The
// integration tests see the store through sleeps on a running loop, where a
// cancelled entry kept or a compaction skipped costs memory, not a wrong
// wake (see TESTING.md, cargo-mutants).
#[cfg(test)]
#[cfg(not(loopwork_loom))]
mod tests {
    use super::*;
    use crate::runtime::callbacks::{CallbackHandle, CallbackState};
    use crate::sync::test_waker::CountingWaker;

    fn counting_waker() -> (Arc<CountingWaker>, Waker) {
        CountingWaker::new()
    }

    fn entry(deadline: Instant) -> Arc<TimerEntry> {
        Arc::new(TimerEntry::new(deadline, counting_waker().1))
    }

    /// Which entries (by `Arc` identity) a list of actions holds, in order.
    fn which(actions: &[TimerAction], entries: &[&Arc<TimerEntry>]) -> Vec<usize> {
        actions
            .iter()
            .map(|a| match a {
                TimerAction::Wake(e) => entries
                    .iter()
                    .position(|x| Arc::ptr_eq(x, e))
                    .expect("a known entry"),
                TimerAction::Call(_) => usize::MAX,
            })
            .collect()
    }

    #[test]
    fn an_unrepresentable_delay_is_clamped_to_about_thirty_years() {
        assert_eq!(FAR_FUTURE, Duration::from_secs(946_080_000));
        let before = Instant::now();
        let d = deadline_after(Duration::MAX);
        let after = Instant::now();
        assert!(d >= before + FAR_FUTURE && d <= after + FAR_FUTURE);
        let d = deadline_after(Duration::from_secs(5));
        assert!(
            d >= before + Duration::from_secs(5) && d <= Instant::now() + Duration::from_secs(5)
        );
    }

    #[test]
    fn firing_wakes_the_latest_waker_once_and_poll_then_reports_fired() {
        let (first, w1) = counting_waker();
        let (second, w2) = counting_waker();
        let e = TimerEntry::new(Instant::now(), w1.clone());
        assert!(!e.poll_fired(&w1));
        assert!(
            !e.poll_fired(&w2),
            "not fired: the new waker replaces the old"
        );
        e.fire();
        assert_eq!((first.wakes(), second.wakes()), (0, 1));
        e.fire();
        assert_eq!(second.wakes(), 1, "fires once");
        assert!(e.poll_fired(&w2));
        assert!(!e.is_cancelled());
    }

    #[test]
    fn a_poll_with_a_waker_that_wakes_the_same_task_keeps_the_stored_one() {
        let (count, w) = counting_waker();
        let e = TimerEntry::new(Instant::now(), w.clone());
        let stored = |e: &TimerEntry| e.waker.lock().as_ref().map(|w| w.data());
        let before = stored(&e);
        assert!(!e.poll_fired(&w.clone()));
        assert_eq!(stored(&e), before);
        e.fire();
        assert_eq!(count.wakes(), 1);
    }

    #[test]
    fn a_cancelled_entry_never_fires_and_drops_its_waker() {
        let (count, w) = counting_waker();
        let e = TimerEntry::new(Instant::now(), w);
        e.cancel();
        assert!(e.is_cancelled());
        assert!(e.waker.lock().is_none());
        e.fire();
        assert_eq!(count.wakes(), 0);
        assert!(!e.poll_fired(&counting_waker().1), "cancelled is not fired");
        // Cancelling after firing leaves it fired.
        let e = TimerEntry::new(Instant::now(), counting_waker().1);
        e.fire();
        e.cancel();
        assert!(!e.is_cancelled());
        assert!(e.poll_fired(&counting_waker().1));
    }

    #[test]
    fn due_entries_come_out_in_deadline_then_arming_order_and_later_ones_stay() {
        let now = Instant::now();
        let s = Duration::from_secs(1);
        let (a, b, c, d) = (
            entry(now + s),
            entry(now),
            entry(now + s),
            entry(now + 2 * s),
        );
        let mut store = TimerStore::new();
        assert!(store.is_empty());
        for e in [&a, &b, &c, &d] {
            store.insert(e.clone());
        }
        assert!(!store.is_empty());
        assert_eq!(
            which(&store.take_due(now - s), &[&a, &b, &c, &d]),
            Vec::<usize>::new()
        );
        assert_eq!(which(&store.take_due(now), &[&a, &b, &c, &d]), vec![1]);
        assert_eq!(
            which(&store.take_due(now + s), &[&a, &b, &c, &d]),
            vec![0, 2]
        );
        assert_eq!(store.next_timeout(now), Some(2 * s));
        assert_eq!(store.next_timeout(now + 3 * s), Some(Duration::ZERO));
        assert_eq!(
            which(&store.take_due(now + 2 * s), &[&a, &b, &c, &d]),
            vec![3]
        );
        assert!(store.is_empty());
        assert_eq!(store.next_timeout(now), None);
    }

    #[test]
    fn cancelled_entries_are_skipped_by_take_due_next_timeout_and_drain() {
        let now = Instant::now();
        let s = Duration::from_secs(1);
        let (a, b, c) = (entry(now), entry(now + s), entry(now + 2 * s));
        let mut store = TimerStore::new();
        for e in [&a, &b, &c] {
            store.insert(e.clone());
        }
        a.cancel();
        assert_eq!(
            store.next_timeout(now),
            Some(s),
            "the cancelled first one is skipped"
        );
        b.cancel();
        assert_eq!(
            which(&store.take_due(now + s), &[&a, &b, &c]),
            Vec::<usize>::new()
        );
        assert_eq!(store.next_timeout(now), Some(2 * s));
        let d = entry(now + 3 * s);
        store.insert(d.clone());
        d.cancel();
        assert_eq!(which(&store.drain(), &[&a, &b, &c, &d]), vec![2]);
    }

    #[test]
    fn callbacks_are_armed_and_a_cancelled_one_is_not_due() {
        let now = Instant::now();
        let mut store = TimerStore::new();
        let handle = CallbackHandle::pending();
        let cb = |state| LocalCallback {
            f: Box::new(|| {}),
            state,
            location: std::panic::Location::caller(),
        };
        store.insert_callback(now, cb(CallbackState::Shared(handle.state.clone())));
        store.insert_callback(now, cb(CallbackState::local()));
        assert!(handle.cancel());
        let due = store.take_due(now);
        assert_eq!(due.len(), 1);
        assert!(matches!(&due[0], TimerAction::Call(c) if !c.state.is_cancelled()));
        assert!(store.is_empty());
    }

    #[test]
    fn arming_past_the_compaction_mark_drops_the_cancelled_entries() {
        let now = Instant::now();
        let mut store = TimerStore::new();
        let live = entry(now);
        store.insert(live.clone());
        let cancelled: Vec<_> = (0..MIN_COMPACT - 1).map(|_| entry(now)).collect();
        for e in &cancelled {
            store.insert(e.clone());
            e.cancel();
        }
        assert_eq!(store.heap.len(), MIN_COMPACT);
        assert_eq!(store.seq, MIN_COMPACT as u64);
        // The next arming compacts first: the live entry and the new one stay.
        store.insert(entry(now + Duration::from_secs(1)));
        assert_eq!(store.heap.len(), 2);
        assert_eq!(store.compact_at, MIN_COMPACT, "at least MIN_COMPACT");
        // Grow past it with live entries: the mark doubles what is live.
        let more: Vec<_> = (0..MIN_COMPACT).map(|_| entry(now)).collect();
        for e in &more {
            store.insert(e.clone());
        }
        assert_eq!(store.heap.len(), MIN_COMPACT + 2);
        assert_eq!(
            store.compact_at,
            2 * MIN_COMPACT,
            "64 live entries when it compacted"
        );
        assert_eq!(store.seq, 2 * MIN_COMPACT as u64 + 1);
    }
}
