//! One loop's thread: the runtime's side of an iteration.
//!
//! The scheduler ([`LoopScheduler::run_once`]) runs the iteration; this file
//! gives it what is not scheduling, as [`LoopHooks`]: the loop's timer
//! store, its ready loop-local callbacks, the inbox items that are not tasks,
//! and the poller's wait. It also runs the loop's life: start, iterate until
//! the runtime closes, shut down.
//!
//! # Diagnostics (debug mode)
//! Each callback is timed with the debug clock and published in the loop's
//! activity record (the watchdog names it by its creation site while it
//! blocks the loop); callbacks, timer firings and the poller's waits go to
//! the flight recorder; every reactor wait is timed (debug level), and one
//! that returned later than its timeout by the slow threshold or more is
//! logged at info. Production reads no clock for any of it.
//!
//! # Ownership
//! Everything in `LoopCore` is touched only by this loop's thread; the
//! `RefCell`s here are never borrowed across a task poll or a user callback.

use super::shared::{InboxItem, LoopShared, Shared};
use super::timers::{TimerAction, TimerStore};
use crate::debug::clock;
use crate::debug::recorder::EventKind;
use crate::reactor::Events;
use crate::runtime::callbacks::{self, CallbackState, LocalCallback};
use crate::scheduler::{Counters, LoopHooks, LoopScheduler, Slot};
use crate::sync::atomic::Ordering::*;
use crate::sync::Arc;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::Duration;

pub(crate) struct LoopCore {
    pub(crate) shared: Arc<Shared>,
    pub(crate) index: usize,
    pub(crate) sched: LoopScheduler<InboxItem>,
    pub(crate) timers: RefCell<TimerStore>,
    /// Ready loop-local callbacks (`call_soon`, due `call_later`s, and
    /// `call_soon_threadsafe` callbacks once drained from the inbox).
    callbacks: RefCell<VecDeque<LocalCallback>>,
    events: RefCell<Events>,
    /// Shutdown: callbacks accepted but never run (their handles are marked
    /// dropped; the count is logged once the loop has finished).
    dropped_callbacks: Cell<usize>,
}

impl LoopCore {
    pub(crate) fn new(shared: Arc<Shared>, sched: LoopScheduler<InboxItem>) -> LoopCore {
        LoopCore {
            index: sched.index,
            shared,
            sched,
            timers: RefCell::new(TimerStore::new()),
            callbacks: RefCell::new(VecDeque::new()),
            events: RefCell::new(Events::new()),
            dropped_callbacks: Cell::new(0),
        }
    }

    fn me(&self) -> &LoopShared {
        &self.shared.loops[self.index]
    }

    fn slot(&self) -> &Slot<InboxItem> {
        &self.shared.sched.loops[self.index]
    }

    /// (runtime address, loop index): names this loop while its runtime lives.
    pub(crate) fn identity(&self) -> (usize, usize) {
        (Arc::as_ptr(&self.shared) as usize, self.index)
    }

    pub(crate) fn belongs_to(&self, shared: &Arc<Shared>) -> bool {
        Arc::ptr_eq(&self.shared, shared)
    }

    /// Whether the task being polled (if any) is pinned to this loop.
    pub(crate) fn polling_pinned(&self) -> bool {
        self.sched.polling_pinned()
    }

    /// The loop thread's body: run until the runtime closes, shut down
    /// (see `LoopScheduler::run`), then report this loop finished.
    /// The caller has made this the thread's core (`context::set_core`).
    pub(crate) fn run(&self) {
        self.slot()
            .activity
            .set_thread(self.me().thread_name.clone());
        self.shared.started.fetch_add(1, SeqCst);
        self.sched.run(self);
        callbacks::report_dropped(
            self.shared.is_debug(),
            self.dropped_callbacks.get(),
            &format!("loop {} shut down", self.index),
        );
        self.me().closed.store(true, SeqCst);
        *self.shared.finished.lock() += 1;
        self.shared.finished_cv.notify_all();
        // Under loom: a finished loop no longer holds virtual time back
        // (only now: a closer's timed wait must not time out before it
        // can see this loop counted).
        #[cfg(loopwork_loom)]
        self.me().driver.loop_finished();
    }

    fn run_call(&self, f: Box<dyn FnOnce() + Send>) {
        if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            log::error!(
                target: "loopwork",
                "an internal handoff panicked on loop {}: {}",
                self.index,
                crate::task::panic_message(&*p)
            );
        }
    }

    /// A blocking wait (`Handle::block_on` misused inside a task) holds
    /// this loop: how long it may sleep before one of the loop's own timers
    /// is due, so it can fire them itself instead of waiting forever on a
    /// sleep armed on this very heap.
    pub(crate) fn next_timer_timeout(&self) -> Option<Duration> {
        LoopHooks::next_timeout(self)
    }

    /// Fires this loop's due timers (see `next_timer_timeout`).
    pub(crate) fn fire_due_timers(&self) {
        LoopHooks::fire_timers(self);
    }

    fn note_dropped(&self, dropped: bool) {
        self.dropped_callbacks
            .set(self.dropped_callbacks.get() + usize::from(dropped));
    }

    /// Debug mode: runs a callback timed, published in the activity record
    /// (the watchdog names it by its creation site) and the flight recorder.
    fn run_callback_timed(&self, slot: &Slot<InboxItem>, cb: LocalCallback) {
        let site = cb.location;
        let start = clock::now();
        slot.activity.start_callback(site, start);
        slot.recorder
            .record(start, EventKind::CallbackStart { site });
        cb.run(self.index);
        let end = clock::now();
        let reported = slot.activity.end();
        slot.recorder.record(end, EventKind::CallbackEnd { site });
        let took = clock::to_duration(end.saturating_sub(start));
        let what = format_args!("<Callback scheduled at {site} on loop {}>", self.index);
        if took >= self.shared.config.slow_callback_duration {
            crate::debug::report_slow(&what, took);
        }
        if reported {
            crate::debug::watchdog::report_unblocked(
                self.index,
                &self.me().thread_name,
                &what,
                took,
            );
        }
    }

    /// Queues a ready loop-local callback.
    pub(crate) fn push_callback(&self, cb: LocalCallback) {
        self.callbacks.borrow_mut().push_back(cb);
    }
}

impl LoopHooks<InboxItem> for LoopCore {
    fn handle(&self, item: InboxItem) {
        match item {
            InboxItem::Task(task) => self.sched.push_pinned(task),
            InboxItem::Timer(entry) => self.timers.borrow_mut().insert(entry),
            InboxItem::Callback { f, state, location } => self.push_callback(LocalCallback {
                f,
                state: CallbackState::Shared(state),
                location,
            }),
            InboxItem::Call(f) => self.run_call(f),
        }
    }

    fn fire_timers(&self) {
        if self.timers.borrow().is_empty() {
            return; // no clock read on loops without timers
        }
        let due = self.timers.borrow_mut().take_due(crate::sync::now());
        if !due.is_empty() {
            Counters::add(&self.slot().counters.timers_fired, due.len() as u64);
            self.sched.record(EventKind::TimerFire {
                count: due.len() as u64,
            });
            for action in due {
                match action {
                    TimerAction::Wake(entry) => entry.fire(),
                    TimerAction::Call(cb) => self.push_callback(cb),
                }
            }
        }
    }

    /// Runs the callbacks that were ready when this iteration began (ones they
    /// schedule run next iteration, as asyncio does). Returns how many ran.
    fn run_callbacks(&self) -> u32 {
        let n = self.callbacks.borrow().len();
        if n > 0 {
            crate::task::coop::lift();
        }
        let slot = self.slot();
        let mut ran = 0;
        for _ in 0..n {
            let Some(cb) = self.callbacks.borrow_mut().pop_front() else {
                break;
            };
            ran += 1;
            if self.shared.is_debug() {
                self.run_callback_timed(slot, cb);
            } else {
                cb.run(self.index);
            }
        }
        Counters::add(&slot.counters.callbacks, ran);
        n as u32
    }

    fn has_callbacks(&self) -> bool {
        !self.callbacks.borrow().is_empty()
    }

    fn next_timeout(&self) -> Option<Duration> {
        self.timers.borrow_mut().next_timeout(crate::sync::now())
    }

    fn discard(&self, item: InboxItem) {
        match item {
            InboxItem::Task(task) => task.shutdown(),
            // A foreign waiter's timer: wake it, it must not hang.
            InboxItem::Timer(entry) => entry.fire(),
            // Accepted but never run: the handle says so, and it is counted.
            InboxItem::Callback { f, state, .. } => {
                self.note_dropped(callbacks::mark_dropped(&state));
                drop(f);
            }
            // It may own a value that must be dropped on this thread.
            InboxItem::Call(f) => self.run_call(f),
        }
    }

    fn clear(&self) -> bool {
        let ready = std::mem::take(&mut *self.callbacks.borrow_mut());
        let mut did = !ready.is_empty();
        for cb in ready {
            self.note_dropped(cb.state.mark_dropped());
        }
        // Sleeps are woken (they complete: see `crate::time`), timed
        // callbacks are dropped and marked.
        let timers = std::mem::take(&mut *self.timers.borrow_mut()).drain();
        did |= !timers.is_empty();
        for action in timers {
            match action {
                TimerAction::Wake(entry) => entry.fire(),
                TimerAction::Call(cb) => self.note_dropped(cb.state.mark_dropped()),
            }
        }
        // I/O waiters are woken and see an error naming the closed runtime.
        did |= self.me().driver.close();
        did
    }

    fn poll_events(&self, timeout: Option<Duration>) -> bool {
        let mut events = self.events.borrow_mut();
        let start = self.shared.is_debug().then(clock::now);
        if let Err(e) = self.me().driver.wait(&mut events, timeout) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                log::error!(target: "loopwork", "loop {} failed to poll: {e}", self.index);
            }
        }
        let io = self.me().driver.dispatch(&mut events);
        if let Some(start) = start {
            crate::debug::watchdog::report_wait(
                self.index,
                &self.me().thread_name,
                timeout,
                clock::since(start),
                io,
                self.shared.config.slow_callback_duration,
            );
        }
        io
    }
}
