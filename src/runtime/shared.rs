//! State shared by all loops of one runtime and by every handle to it.
//!
//! The scheduling part (queues, idle protocol, gate, per-loop slots) is the
//! scheduler's [`Scheduler`]; this adds what only the runtime knows: each
//! loop's poller (as the concrete reactor `Driver`), thread name and
//! finished flag, the configuration, the blocking pool and the shutdown
//! rendezvous.

use super::blocking::BlockingPool;
use super::timers::TimerEntry;
use crate::reactor::Driver;
use crate::scheduler::Scheduler;
use crate::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use crate::sync::{Arc, Condvar, Mutex};
use crate::task::Notified;
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

impl crate::scheduler::InboxItem for InboxItem {
    fn task(task: Notified) -> InboxItem {
        InboxItem::Task(task)
    }

    fn into_task(self) -> Result<Notified, InboxItem> {
        match self {
            InboxItem::Task(task) => Ok(task),
            other => Err(other),
        }
    }
}

pub(crate) struct Config {
    pub(crate) slow_callback_duration: Duration,
    pub(crate) thread_name: String,
    pub(crate) max_blocking_threads: usize,
    pub(crate) blocking_keep_alive: Duration,
    /// Debug mode: a loop inside one poll or callback for this long is
    /// reported by the watchdog while it lasts.
    pub(crate) watchdog_threshold: Duration,
    /// How long `ConcurrentFuture::result` watches for a result handed to a
    /// loop that was awake (`Builder::result_spin`).
    pub(crate) result_spin: Duration,
}

pub(crate) struct Shared {
    pub(crate) sched: Arc<Scheduler<InboxItem>>,
    pub(crate) loops: Box<[LoopShared]>,
    pub(crate) config: Config,
    /// Loops that have finished their shutdown, and a condvar to wait on it.
    pub(crate) finished: Mutex<usize>,
    pub(crate) finished_cv: Condvar,
    pub(crate) wrong_thread_calls: AtomicU64,
    /// Loops whose thread has started and installed its context.
    pub(crate) started: AtomicUsize,
    /// The threads behind `spawn_blocking` / `run_in_executor`.
    pub(crate) blocking: BlockingPool,
    /// Debug mode's watchdog thread (see `runtime::watchdog`).
    pub(crate) watchdog: super::background::BackgroundThread,
}

/// The runtime's part of one loop that other threads may touch.
pub(crate) struct LoopShared {
    pub(crate) index: usize,
    pub(crate) driver: Arc<Driver>,
    pub(crate) thread_name: String,
    pub(crate) closed: AtomicBool,
}

impl Shared {
    pub(crate) fn num_loops(&self) -> usize {
        self.loops.len()
    }

    pub(crate) fn is_debug(&self) -> bool {
        self.sched.is_debug()
    }

    pub(crate) fn set_debug(&self, on: bool) {
        if on {
            crate::debug::backtrace::note_debug_on();
        }
        self.sched.debug.store(on, Relaxed);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.sched.is_closed()
    }

    /// Pushes to loop `index`'s inbox and wakes it if it is parked.
    pub(crate) fn send(&self, index: usize, item: InboxItem) {
        self.sched.loops[index].send(item);
    }
}
