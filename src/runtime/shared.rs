//! State shared by all loops of one runtime and by every handle to it.

use crate::blocking::BlockingPool;
use crate::reactor::{Driver, ParkFlag};
use crate::scheduler::gate::Gate;
use crate::scheduler::idle::Idle;
use crate::scheduler::queue::{Injector, Steal, Stealer};
use crate::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::*};
use crate::sync::{Arc, Condvar, Mutex};
use crate::task::Notified;
use crate::time::TimerEntry;
use crossbeam_utils::CachePadded;
use std::panic::Location;
use std::time::Duration;

/// Something handed to one loop from another thread through its inbox.
pub(crate) enum InboxItem {
    /// A pinned task of this loop, woken elsewhere.
    Task(Notified),
    /// A timer armed by a future polled off any loop.
    Timer(Arc<TimerEntry>),
    /// A `call_soon_threadsafe` callback: joins the loop's ready callbacks.
    Callback {
        f: Box<dyn FnOnce() + Send>,
        state: Arc<AtomicU8>,
        location: &'static Location<'static>,
    },
    /// A closure the loop runs right away, on its thread (internal handoffs:
    /// building a `spawn_local_threadsafe` future, timers of foreign-thread
    /// callers). Run even during the loop's shutdown, since it may own a
    /// value that must be dropped on this thread.
    Call(Box<dyn FnOnce() + Send>),
}

pub(crate) struct Config {
    pub(crate) slow_callback_duration: Duration,
    pub(crate) thread_name: String,
    pub(crate) max_blocking_threads: usize,
    pub(crate) blocking_keep_alive: Duration,
}

pub(crate) struct Shared {
    pub(crate) loops: Box<[LoopShared]>,
    /// Tasks spawned or woken outside the runtime's loops.
    pub(crate) injector: Injector<Notified>,
    pub(crate) idle: Idle,
    /// Closed at shutdown; remote submissions pass through it.
    pub(crate) gate: Gate,
    pub(crate) debug: AtomicBool,
    pub(crate) config: Config,
    /// Loops that have finished their shutdown, and a condvar to wait on it.
    pub(crate) finished: Mutex<usize>,
    pub(crate) finished_cv: Condvar,
    pub(crate) wrong_thread_calls: AtomicU64,
    /// Loops whose thread has started and installed its context.
    pub(crate) started: AtomicUsize,
    /// The threads behind `spawn_blocking` / `run_in_executor`.
    pub(crate) blocking: BlockingPool,
}

/// The part of one loop that other threads may touch.
pub(crate) struct LoopShared {
    pub(crate) index: usize,
    pub(crate) stealer: Stealer<Notified>,
    pub(crate) inbox: Injector<InboxItem>,
    pub(crate) driver: Driver,
    pub(crate) park: ParkFlag,
    /// Read by event stealers (`LoopCore::steal_events`); on a cache line of
    /// its own, since the loop writes it every iteration and producers read
    /// `park` on every submission.
    pub(crate) hints: CachePadded<StealHints>,
    pub(crate) thread_name: String,
    pub(crate) closed: AtomicBool,
    pub(crate) metrics: LoopMetrics,
}

/// What a loop publishes for siblings that may take its I/O events.
#[derive(Default)]
pub(crate) struct StealHints {
    /// The loop's current iteration is running work (it is not searching
    /// or parking), so its poller's events may be waiting.
    pub(crate) busy: AtomicBool,
    /// The loop's iteration count, published at the start of each
    /// iteration: a busy loop whose count stands still is stuck in one
    /// batch (a long task, or the OS has descheduled it).
    pub(crate) progress: AtomicU64,
}

/// Counters of one loop. Written only by the loop's thread (load + store, no
/// read-modify-write), read by anyone.
#[derive(Default)]
pub(crate) struct LoopMetrics {
    pub(crate) polls: AtomicU64,
    pub(crate) spawned: AtomicU64,
    pub(crate) stolen: AtomicU64,
    pub(crate) from_injector: AtomicU64,
    pub(crate) parks: AtomicU64,
    pub(crate) timers_fired: AtomicU64,
    pub(crate) inbox_items: AtomicU64,
    pub(crate) event_steals: AtomicU64,
}

impl LoopMetrics {
    /// Single-writer increment.
    #[inline]
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.store(counter.load(Relaxed) + n, Relaxed);
    }
}

impl Shared {
    pub(crate) fn num_loops(&self) -> usize {
        self.loops.len()
    }

    pub(crate) fn is_debug(&self) -> bool {
        self.debug.load(Relaxed)
    }

    /// Pushes a task to the global injector and wakes a parked loop if no
    /// loop is searching.
    pub(crate) fn push_remote(&self, task: Notified) {
        self.injector.push(task);
        self.notify_parked();
    }

    /// The producer side of the idle protocol (see `scheduler::idle`).
    pub(crate) fn notify_parked(&self) {
        if let Some(index) = self.idle.notify_one() {
            self.loops[index].driver.notify();
        }
    }

    /// Takes one task from the injector.
    pub(crate) fn pop_injector(&self) -> Option<Notified> {
        loop {
            match self.injector.steal() {
                Steal::Success(t) => return Some(t),
                Steal::Empty => return None,
                Steal::Retry => crate::sync::spin_loop(),
            }
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.gate.is_closed()
    }
}

impl LoopShared {
    /// Pushes to this loop's inbox and wakes the loop if it is parked.
    pub(crate) fn send(&self, item: InboxItem) {
        self.inbox.push(item);
        if self.park.should_notify() {
            self.driver.notify();
        }
    }
}
