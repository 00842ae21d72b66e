//! Timers: `sleep`, `sleep_until`, `wait_for`, and each loop's timer store.
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
//! A `Sleep` in a `Send` task may be polled on one loop, stolen, and polled or
//! dropped on another. Its entry is therefore shared (`Arc`) and its state is
//! atomic: the heap that holds it belongs to the loop that first polled it,
//! and any thread may cancel it or replace its waker. A `Sleep` polled off any
//! loop (inside `block_on` on a foreign thread) arms its entry on a loop of
//! its runtime through that loop's inbox.
//!
//! A closing loop fires (wakes) every sleep armed on it, and a foreign
//! sleep arms only through the runtime's gate, so no sleep waits on a timer
//! that will never fire (see [`Sleep`]'s "On a closed runtime").
//!
//! Deadlines that cannot be represented (`Duration::MAX`, instants centuries
//! away) are clamped to about 30 years from now: they never panic or
//! overflow, and they never fire in practice.

use crate::runtime::callbacks::LocalCallback;
use crate::runtime::context;
use crate::runtime::shared::{InboxItem, Shared};
use crate::sync::atomic::{AtomicU8, Ordering::*};
use crate::sync::{Arc, Mutex};
use crate::task::CancelScope;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

const WAITING: u8 = 0;
const FIRED: u8 = 1;
const CANCELLED: u8 = 2;

/// About thirty years: the horizon for deadlines that would overflow `Instant`.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

pub(crate) fn deadline_after(delay: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(delay).unwrap_or_else(|| now + FAR_FUTURE)
}

/// One armed timer, shared between its `Sleep` and the heap that holds it.
pub(crate) struct TimerEntry {
    deadline: Instant,
    state: AtomicU8,
    waker: Mutex<Option<Waker>>,
}

impl TimerEntry {
    fn new(deadline: Instant, waker: Waker) -> TimerEntry {
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
            // The state is set before the lock is taken; a poller that holds
            // the lock either stored its waker before (we take it here) or
            // sees FIRED after (and completes without waiting).
            let waker = self.waker.lock().take();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    fn cancel(&self) {
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

/// A future that completes at a deadline. Made by [`sleep`] and [`sleep_until`].
///
/// Never completes before its deadline while its runtime runs. Dropping it
/// cancels the timer.
///
/// # On a closed runtime
/// A runtime that shuts down wakes every sleep still armed on it, and a
/// sleep polled after its runtime has closed does not arm: in both cases the
/// sleep **completes at once**, early. Nothing is left waiting on a timer no
/// loop will fire: a foreign thread's `block_on(wait_for(d, fut))` returns
/// `Err(Elapsed)`, and a `block_on(sleep(d))` returns. (tokio panics
/// instead; completing lets a thread that was waiting when `close()` ran
/// finish its own shutdown. A loop of `sleep`s on a closed runtime does not
/// wait between rounds, so stop such loops on
/// [`Handle::is_closed`](crate::Handle::is_closed).)
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
/// let handle = rt.handle();
/// rt.close();
/// // Completes at once instead of waiting an hour on a closed runtime.
/// handle.block_on(loopwork::sleep(Duration::from_secs(3600)));
/// let r = handle.block_on(loopwork::wait_for(Duration::from_secs(3600), std::future::pending::<()>()));
/// assert!(r.is_err());
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    entry: Option<Arc<TimerEntry>>,
    runtime: Option<Arc<Shared>>,
}

/// Waits until `delay` has passed.
///
/// Must be polled inside a loopwork runtime (a task, or `block_on`).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// loopwork::run(async {
///     let start = Instant::now();
///     loopwork::sleep(Duration::from_millis(10)).await;
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// });
/// ```
pub fn sleep(delay: Duration) -> Sleep {
    sleep_until(deadline_after(delay))
}

/// Waits until `deadline`.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// loopwork::run(async {
///     let deadline = Instant::now() + Duration::from_millis(5);
///     loopwork::sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline);
/// });
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    let runtime = if context::on_loop_thread() {
        None
    } else {
        context::current_shared()
    };
    Sleep {
        deadline,
        entry: None,
        runtime,
    }
}

impl Sleep {
    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Arms the timer; `false` if its runtime is closed (the sleep then
    /// completes at once: see [`Sleep`]).
    fn arm(&mut self, waker: &Waker) -> bool {
        let entry = Arc::new(TimerEntry::new(self.deadline, waker.clone()));
        let local = context::with_core(|core| match core {
            Some(core) => {
                core.timers.borrow_mut().insert(entry.clone());
                true
            }
            None => false,
        });
        if !local {
            let shared = self
                .runtime
                .clone()
                .or_else(context::current_shared)
                .expect(
                    "loopwork::Sleep polled outside a loopwork runtime: await it inside a task or \
                 Runtime::block_on",
                );
            // Through the gate, as every remote submission: a closed
            // runtime's loops would never fire it (nor wake its waiter).
            let Some(_pass) = shared.gate.enter() else {
                return false;
            };
            // Spread foreign timers over the loops by entry address.
            let i = (Arc::as_ptr(&entry) as usize >> 6) % shared.num_loops();
            shared.loops[i].send(InboxItem::Timer(entry.clone()));
        }
        self.entry = Some(entry);
        true
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        crate::task::coop::poll(cx, |cx| self.poll_deadline(cx))
    }
}

impl Sleep {
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            if let Some(e) = self.entry.take() {
                e.cancel();
            }
            return Poll::Ready(());
        }
        match &self.entry {
            None => {
                if self.arm(cx.waker()) {
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            }
            Some(entry) => {
                let mut slot = entry.waker.lock();
                if entry.state.load(Acquire) == FIRED {
                    return Poll::Ready(());
                }
                match &*slot {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *slot = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(e) = self.entry.take() {
            e.cancel();
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// The error of [`wait_for`] when the deadline passed first (asyncio's `TimeoutError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl Elapsed {
    pub(crate) fn new() -> Elapsed {
        Elapsed(())
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// Waits for `fut` for at most `timeout`.
///
/// On timeout the inner future is dropped — and, as asyncio's `wait_for`
/// does, a [`Task`](crate::Task) that it was awaiting is **cancelled** rather
/// than detached (this includes `wait_for(d, task)` itself). Returns
/// `Err(Elapsed)` then.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// loopwork::run(async {
///     let slow = loopwork::spawn(std::future::pending::<()>());
///     let res = loopwork::wait_for(Duration::from_millis(10), slow).await;
///     assert!(res.is_err());
///     let fast = loopwork::wait_for(Duration::from_secs(5), async { 7 }).await;
///     assert_eq!(fast, Ok(7));
/// });
/// ```
pub fn wait_for<F: IntoFuture>(timeout: Duration, fut: F) -> WaitFor<F::IntoFuture> {
    WaitFor {
        inner: Some(fut.into_future()),
        sleep: sleep(timeout),
    }
}

/// The future of [`wait_for`].
#[must_use = "futures do nothing unless awaited"]
pub struct WaitFor<F> {
    inner: Option<F>,
    sleep: Sleep,
}

impl<F: Future> Future for WaitFor<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved, only
        // dropped in place (through `Pin::set`); `sleep` is `Unpin`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let mut inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let Some(fut) = inner.as_mut().as_pin_mut() else {
            panic!("WaitFor polled after it completed");
        };
        if let Poll::Ready(v) = fut.poll(cx) {
            inner.set(None);
            return Poll::Ready(Ok(v));
        }
        if Pin::new(&mut this.sleep).poll(cx).is_ready() {
            let _scope = CancelScope::enter();
            inner.set(None);
            return Poll::Ready(Err(Elapsed(())));
        }
        Poll::Pending
    }
}
