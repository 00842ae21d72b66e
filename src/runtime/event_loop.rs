//! One loop: the thread that owns a poller, a deque, a pinned queue, a timer
//! store and a registry of the tasks it spawned.
//!
//! # One iteration (`run_once`)
//! 1. drain the inbox (pinned tasks woken elsewhere, timers armed elsewhere,
//!    thread-safe callbacks);
//! 2. fire due timers;
//! 3. run ready tasks, at most `BUDGET` of them, alternating between the
//!    pinned queue and the deque so neither starves the other; every
//!    `INJECTOR_INTERVAL` polls the injector is checked first, so remote work
//!    is never starved by a busy local queue;
//! 4. if nothing was ready: search (injector batch, then steal half of a
//!    random sibling's deque), else park in `poller.wait(next timer)`.
//!
//! # Ownership
//! Everything in `LoopCore` that is not in `LoopShared` is touched only by
//! this loop's thread; `RefCell`s here are never borrowed across a task poll
//! or a user callback.
//!
//! # The registry
//! A task whose poll on this loop returned `Pending` (the first time) is held
//! by this loop's registry with one reference, so shutdown can cancel tasks
//! that are parked on a waker nobody will call. Tasks that complete in their
//! first poll never enter it, and tasks waiting in a queue are reached by
//! shutdown's queue drains. Completed tasks are released in sweeps, run when
//! the registry has doubled since the last sweep: amortised O(1) per task, no
//! lock, no shared list.

use super::context;
use super::shared::{InboxItem, LoopMetrics, LoopShared, Shared};
use crate::reactor::Events;
use crate::runtime::callbacks::{self, CallbackState, LocalCallback};
use crate::scheduler::queue::{Steal, Worker};
use crate::sync::atomic::Ordering::*;
use crate::sync::Arc;
use crate::task::{Notified, RawTask};
use crate::time::{TimerAction, TimerStore};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Tasks polled per iteration before the inbox and timers are looked at again.
const BUDGET: u32 = 64;
/// Every this many polls, the injector is checked before local queues.
const INJECTOR_INTERVAL: u64 = 61;
/// Every this many busy iterations, I/O readiness is collected without parking.
const EVENT_INTERVAL: u64 = 61;
/// A busy sibling that has not started a new iteration for this long is
/// stalled: its I/O events may be collected by another loop (see
/// `LoopCore::steal_events`).
const STALL: Duration = Duration::from_micros(500);
const MIN_SWEEP: usize = 256;
/// How long an idle loop watches its inbox and the shared queues before it
/// parks (see `LoopCore::spin_for_work`).
const SPIN: Duration = Duration::from_micros(25);
/// `spin_loop` hints between two looks at the queues.
const SPIN_CHECK_EVERY: u32 = 32;

pub(crate) struct LoopCore {
    pub(crate) shared: Arc<Shared>,
    pub(crate) index: usize,
    worker: Worker<Notified>,
    pinned: RefCell<VecDeque<Notified>>,
    pub(crate) timers: RefCell<TimerStore>,
    registry: RefCell<Registry>,
    /// Ready loop-local callbacks (`call_soon`, due `call_later`s, and
    /// `call_soon_threadsafe` callbacks once drained from the inbox).
    callbacks: RefCell<VecDeque<LocalCallback>>,
    /// Tasks that yielded during this iteration (see `defer`).
    deferred: RefCell<Vec<Notified>>,
    events: RefCell<Events>,
    ticks: Cell<u64>,
    polls: Cell<u64>,
    rng: Cell<u64>,
    searching: Cell<bool>,
    poll_started: Cell<Option<Instant>>,
    /// Debug mode: when the previous task poll of this batch ended. The next
    /// poll starts its clock there instead of reading it again: one clock
    /// read per poll instead of two. Cleared whenever anything but a task
    /// poll runs (callbacks, the end of the batch), so only the loop's own
    /// few hundred nanoseconds between two polls are charged to a task.
    last_poll_end: Cell<Option<Instant>>,
    /// Whether the task being polled is pinned to this loop (`Async`
    /// registers a pinned task's fd with its own loop).
    polling_pinned: Cell<bool>,
    /// Whether the last poll of the reactor brought I/O events (see
    /// `spin_for_work`).
    woken_by_io: Cell<bool>,
    /// Whether another thread handed this loop work through its inbox since
    /// it last parked (see `spin_for_work`).
    handoff_seen: Cell<bool>,
    /// This loop's last published `StealHints::busy`.
    busy: Cell<bool>,
    /// Per sibling, its `StealHints::progress` when this loop last looked,
    /// and since when this loop has seen that value.
    seen_progress: RefCell<Vec<(u64, Instant)>>,
}

impl LoopCore {
    pub(crate) fn new(shared: Arc<Shared>, index: usize, worker: Worker<Notified>) -> LoopCore {
        LoopCore {
            shared,
            index,
            worker,
            pinned: RefCell::new(VecDeque::new()),
            timers: RefCell::new(TimerStore::new()),
            registry: RefCell::new(Registry::new()),
            callbacks: RefCell::new(VecDeque::new()),
            deferred: RefCell::new(Vec::new()),
            events: RefCell::new(Events::new()),
            ticks: Cell::new(0),
            polls: Cell::new(0),
            rng: Cell::new(0x9E37_79B9_7F4A_7C15 ^ ((index as u64 + 1) << 17)),
            searching: Cell::new(false),
            poll_started: Cell::new(None),
            last_poll_end: Cell::new(None),
            polling_pinned: Cell::new(false),
            woken_by_io: Cell::new(false),
            handoff_seen: Cell::new(false),
            busy: Cell::new(false),
            seen_progress: RefCell::new(Vec::new()),
        }
    }

    fn me(&self) -> &LoopShared {
        &self.shared.loops[self.index]
    }

    /// (runtime address, loop index): names this loop while its runtime lives.
    pub(crate) fn identity(&self) -> (usize, usize) {
        (Arc::as_ptr(&self.shared) as usize, self.index)
    }

    pub(crate) fn belongs_to(&self, shared: &Arc<Shared>) -> bool {
        Arc::ptr_eq(&self.shared, shared)
    }

    /// The loop thread's body: run until the runtime closes, then shut down.
    pub(crate) fn run(&self) {
        let _guard = context::set_core(self);
        self.shared.started.fetch_add(1, SeqCst);
        while !self.shared.is_closed() {
            self.run_once();
        }
        // Submitters already inside the gate finish their pushes first.
        self.shared.gate.wait_drained();
        self.shutdown();
    }

    fn run_once(&self) {
        let tick = self.ticks.get().wrapping_add(1);
        self.ticks.set(tick);
        self.me().hints.progress.store(tick, Relaxed);
        crate::task::coop::lift();
        self.drain_inbox();
        self.fire_timers();
        let mut ran = self.run_callbacks();
        while ran < BUDGET {
            let Some(task) = self.next_task() else { break };
            // Published before the batch: a sibling may take this loop's
            // I/O events while a long batch (or the OS) holds it.
            self.set_busy(true);
            self.run_task(task);
            ran += 1;
            // Callbacks a task scheduled run before the next task is polled,
            // so `call_soon(f); yield_now().await` sees `f` done (asyncio's
            // single FIFO ready queue).
            if !self.callbacks.borrow().is_empty() {
                ran += self.run_callbacks();
            }
        }
        self.last_poll_end.set(None);
        self.requeue_deferred();
        if ran > 0 {
            if tick % EVENT_INTERVAL == 0 {
                self.poll_events(Some(Duration::ZERO));
                // A busy loop looks after stalled siblings' sockets too, as
                // tokio's workers poll the shared driver in maintenance.
                self.steal_events();
            }
            return;
        }
        self.set_busy(false);
        if let Some(task) = self.search() {
            self.run_task(task);
            return;
        }
        if self.spin_for_work() {
            return;
        }
        self.park();
    }

    fn next_task(&self) -> Option<Notified> {
        let polls = self.polls.get().wrapping_add(1);
        self.polls.set(polls);
        if polls % INJECTOR_INTERVAL == 0 {
            if let Some(task) = self.take_injector_batch() {
                return Some(task);
            }
        }
        if polls & 1 == 0 {
            self.pop_pinned().or_else(|| self.worker.pop())
        } else {
            self.worker.pop().or_else(|| self.pop_pinned())
        }
    }

    /// Moves a batch from the global injector into this loop's deque and
    /// returns one task of it. A batch, not one task: under a busy local queue
    /// the injector is only looked at every `INJECTOR_INTERVAL` polls, and one
    /// task per look would leave remote work waiting 61 polls per task.
    fn take_injector_batch(&self) -> Option<Notified> {
        loop {
            match self.shared.injector.steal_batch_and_pop(&self.worker) {
                Steal::Success(task) => {
                    let n = self.worker.len() as u64 + 1;
                    LoopMetrics::add(&self.me().metrics.from_injector, n);
                    return Some(task);
                }
                Steal::Empty => return None,
                Steal::Retry => crate::sync::spin_loop(),
            }
        }
    }

    /// A task woken during its own poll (it yielded): it runs again only
    /// after this iteration's other ready work and an injector batch, so a
    /// yielding task cannot keep remote work out (tokio defers yielders too).
    pub(crate) fn defer(&self, task: Notified) {
        self.deferred.borrow_mut().push(task);
    }

    /// End of an iteration: bring in remote work first, then the yielders.
    fn requeue_deferred(&self) {
        if self.deferred.borrow().is_empty() {
            return;
        }
        if !self.shared.injector.is_empty() {
            if let Some(task) = self.take_injector_batch() {
                self.worker.push(task);
            }
        }
        // Drained in place: the Vec keeps its capacity, so a loop full of
        // yielding tasks does not reallocate it every iteration (which, with
        // another loop freeing tasks into this thread's malloc arena, showed
        // as arena-lock contention and a 2.5x slower `yield_many`). No user
        // code runs while it is borrowed.
        let mut deferred = self.deferred.borrow_mut();
        let mut stealable = false;
        for task in deferred.drain(..) {
            if matches!(task.header().meta.kind(), crate::task::TaskKind::Pinned(_)) {
                self.pinned.borrow_mut().push_back(task);
            } else {
                self.worker.push(task);
                stealable = true;
            }
        }
        drop(deferred);
        if stealable {
            self.shared.notify_parked();
        }
    }

    fn pop_pinned(&self) -> Option<Notified> {
        self.pinned.borrow_mut().pop_front()
    }

    fn run_task(&self, task: Notified) {
        if self.searching.replace(false) && self.shared.idle.transition_from_searching() {
            // The last searcher found work: wake the next one if there is more.
            self.notify_if_work_pending();
        }
        LoopMetrics::add(&self.me().metrics.polls, 1);
        task.run();
    }

    /// Called (through the task's scheduler) right before a poll on this loop.
    /// `pinned`: the task is pinned to this loop (its scheduler knows).
    pub(crate) fn before_poll(&self, _task: RawTask, pinned: bool) {
        crate::task::coop::start_poll();
        self.polling_pinned.set(pinned);
        if self.shared.is_debug() {
            let start = self.last_poll_end.take().unwrap_or_else(Instant::now);
            self.poll_started.set(Some(start));
        }
    }

    /// Whether the task being polled (if any) is pinned to this loop.
    pub(crate) fn polling_pinned(&self) -> bool {
        self.polling_pinned.get()
    }

    /// Called right after a poll on this loop, while the task is still
    /// `RUNNING`.
    pub(crate) fn after_poll(&self, task: RawTask, pending: bool) {
        self.polling_pinned.set(false);
        if pending {
            // Only a task that waits needs the registry: one that completed
            // in this poll is done, and one that is queued is reached by
            // shutdown's queue drains.
            // SAFETY: called by the task's poller while it is RUNNING.
            unsafe { self.register(task) };
        }
        if let Some(start) = self.poll_started.take() {
            let header = task.header();
            let now = Instant::now();
            self.last_poll_end.set(Some(now));
            let took = now.saturating_duration_since(start);
            if took >= self.shared.config.slow_callback_duration {
                log::warn!(
                    target: "loopwork",
                    "Executing {} took {:.3} seconds",
                    header.meta,
                    took.as_secs_f64()
                );
            }
        }
    }

    /// Registers a task with this loop so shutdown can reach it.
    ///
    /// # Safety
    /// The caller runs the task or has not yet scheduled it (see `RawTask::mark_registered`).
    pub(crate) unsafe fn register(&self, raw: RawTask) {
        // SAFETY: forwarded from the caller.
        if unsafe { raw.mark_registered() } {
            raw.header().state.ref_inc();
            let released = self.registry.borrow_mut().insert(raw);
            // Released outside the borrow: freeing a task runs user drops.
            for t in released {
                t.drop_reference();
            }
        }
    }

    /// A stealable task scheduled on this loop.
    pub(crate) fn push_local(&self, task: Notified) {
        self.worker.push(task);
        self.shared.notify_parked();
    }

    /// A pinned task of this loop, scheduled by this loop.
    pub(crate) fn push_pinned(&self, task: Notified) {
        self.pinned.borrow_mut().push_back(task);
    }

    pub(crate) fn note_spawn(&self) {
        LoopMetrics::add(&self.me().metrics.spawned, 1);
    }

    fn drain_inbox(&self) {
        let me = self.me();
        let mut n = 0;
        loop {
            let item = match me.inbox.steal() {
                Steal::Success(item) => item,
                Steal::Empty => break,
                Steal::Retry => continue,
            };
            n += 1;
            match item {
                InboxItem::Task(task) => self.push_pinned(task),
                InboxItem::Timer(entry) => self.timers.borrow_mut().insert(entry),
                InboxItem::Callback { f, state, location } => self.push_callback(LocalCallback {
                    f,
                    state: CallbackState::Shared(state),
                    location,
                }),
                InboxItem::Call(f) => self.run_call(f),
            }
        }
        if n > 0 {
            self.handoff_seen.set(true);
            LoopMetrics::add(&me.metrics.inbox_items, n);
        }
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

    /// Queues a ready loop-local callback.
    pub(crate) fn push_callback(&self, cb: LocalCallback) {
        self.callbacks.borrow_mut().push_back(cb);
    }

    /// Runs the callbacks that were ready when this iteration began (ones they
    /// schedule run next iteration, as asyncio does). Returns how many ran.
    fn run_callbacks(&self) -> u32 {
        self.last_poll_end.set(None);
        let n = self.callbacks.borrow().len();
        if n > 0 {
            crate::task::coop::lift();
        }
        for _ in 0..n {
            let Some(cb) = self.callbacks.borrow_mut().pop_front() else {
                break;
            };
            let start = self.shared.is_debug().then(Instant::now);
            let location = cb.location;
            cb.run(self.index);
            if let Some(start) = start {
                let took = start.elapsed();
                if took >= self.shared.config.slow_callback_duration {
                    log::warn!(
                        target: "loopwork",
                        "Executing <Callback scheduled at {location} on loop {}> took {:.3} seconds",
                        self.index,
                        took.as_secs_f64()
                    );
                }
            }
        }
        n as u32
    }

    /// A blocking wait (`Handle::block_on` misused inside a task) holds
    /// this loop: how long it may sleep before one of the loop's own timers
    /// is due, so it can fire them itself (`fire_timers`) instead of
    /// waiting forever on a sleep armed on this very heap.
    pub(crate) fn next_timer_timeout(&self) -> Option<Duration> {
        self.timers.borrow_mut().next_timeout(Instant::now())
    }

    pub(crate) fn fire_timers(&self) {
        if self.timers.borrow().is_empty() {
            return; // no clock read on loops without timers
        }
        let due = self.timers.borrow_mut().take_due(Instant::now());
        if !due.is_empty() {
            LoopMetrics::add(&self.me().metrics.timers_fired, due.len() as u64);
            for action in due {
                match action {
                    TimerAction::Wake(entry) => entry.fire(),
                    TimerAction::Call(cb) => self.push_callback(cb),
                }
            }
        }
    }

    /// Looks for work outside this loop's own queues.
    fn search(&self) -> Option<Notified> {
        if !self.searching.get() {
            if !self.shared.idle.transition_to_searching() {
                return None;
            }
            self.searching.set(true);
        }
        let shared = &self.shared;
        loop {
            if let Some(task) = self.take_injector_batch() {
                return Some(task);
            }
            let mut retry = false;
            let n = shared.num_loops();
            let start = self.next_rand() as usize % n;
            for i in 0..n {
                let victim = (start + i) % n;
                if victim == self.index {
                    continue;
                }
                match shared.loops[victim]
                    .stealer
                    .steal_batch_and_pop(&self.worker)
                {
                    Steal::Success(task) => {
                        let n = self.worker.len() as u64 + 1;
                        LoopMetrics::add(&self.me().metrics.stolen, n);
                        return Some(task);
                    }
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return if self.steal_events() {
                    self.worker.pop()
                } else {
                    None
                };
            }
        }
    }

    /// I/O event stealing, the last place a searcher looks and, every
    /// `EVENT_INTERVAL` iterations, part of a busy loop's own event check:
    /// collect the ready events of a *stalled* sibling's poller (a
    /// zero-timeout wait) and run here the tasks they wake, which the wakers
    /// push to this loop's deque; whether there were events. Each socket is
    /// registered with one loop, so without this a loop stuck in a long task
    /// (or descheduled by the OS) holds its sockets' events until it runs
    /// again; tokio's workers take turns at its one driver instead. Stalled:
    /// busy, with no new iteration for `STALL`. A loop that is making
    /// progress collects its own events soon enough: taking them from it
    /// moves tasks between CPUs, which cost `tcp_echo` 5–10% when every busy
    /// sibling was a candidate. Siblings that are parking or parked, or have
    /// no sources, are skipped too (see `reactor::poll_sibling` for the
    /// wakeup it keeps).
    fn steal_events(&self) -> bool {
        let shared = &self.shared;
        let n = shared.num_loops();
        if n == 1 {
            return false;
        }
        let mut seen = self.seen_progress.borrow_mut();
        let mut now = None;
        let mut found = false;
        for victim in shared.loops.iter() {
            if victim.index == self.index
                || !victim.hints.busy.load(Relaxed)
                || !victim.driver.has_sources()
            {
                continue;
            }
            let now = *now.get_or_insert_with(Instant::now);
            if seen.len() != n {
                seen.resize(n, (u64::MAX, now));
            }
            let progress = victim.hints.progress.load(Relaxed);
            let (seen_progress, since) = &mut seen[victim.index];
            if *seen_progress != progress {
                (*seen_progress, *since) = (progress, now);
                continue;
            }
            if now.duration_since(*since) < STALL {
                continue;
            }
            let mut events = self.events.borrow_mut();
            if crate::reactor::poll_sibling(
                &victim.park,
                || victim.driver.steal_events(&mut events),
                || victim.driver.notify(),
            ) {
                LoopMetrics::add(&self.me().metrics.event_steals, 1);
                found = true;
            }
        }
        found
    }

    /// Publishes the `busy` hint, on changes only.
    fn set_busy(&self, busy: bool) {
        if self.busy.get() != busy {
            self.busy.set(busy);
            self.me().hints.busy.store(busy, Relaxed);
        }
    }

    fn notify_if_work_pending(&self) {
        let shared = &self.shared;
        let pending = !shared.injector.is_empty()
            || self.worker.len() > 1
            || shared
                .loops
                .iter()
                .any(|l| l.index != self.index && !l.stealer.is_empty());
        if pending {
            shared.notify_parked();
        }
    }

    /// Whether anything could be run without waiting.
    /// The park re-check (see `Idle::keeps_awake` for the rule).
    fn has_work(&self) -> bool {
        let shared = &self.shared;
        let local = shared.is_closed()
            || !self.me().inbox.is_empty()
            || !self.worker.is_empty()
            || !self.pinned.borrow().is_empty()
            || !self.callbacks.borrow().is_empty()
            || !self.deferred.borrow().is_empty();
        shared.idle.keeps_awake(local, || {
            !shared.injector.is_empty()
                || shared
                    .loops
                    .iter()
                    .any(|l| l.index != self.index && !l.stealer.is_empty())
        })
    }

    /// Before parking, watches the queues other threads fill for up to
    /// `SPIN`: a foreign thread handing work over in a tight loop
    /// (`run_coroutine_threadsafe(..).result()`, `call_soon_threadsafe`) then
    /// finds the loop awake, and neither side pays the sleep and the wake-up
    /// (an eventfd write, a cross-CPU wake-up, `epoll_wait`'s return path).
    /// Only after such a handoff: a loop that ran stolen or I/O-driven work
    /// parks at once and leaves the CPU to others (a spin there cost a load
    /// generator on the same machine ~5% of its requests/s). Skipped when
    /// the last poll brought I/O events: the spin does not watch the poller,
    /// so a loop serving sockets sees their events without delay. Returns
    /// whether work arrived.
    fn spin_for_work(&self) -> bool {
        if !self.handoff_seen.get() || self.woken_by_io.get() {
            return false;
        }
        let shared = &self.shared;
        let me = self.me();
        let start = Instant::now();
        let mut deadline = start + SPIN;
        if let Some(t) = self.timers.borrow_mut().next_timeout(start) {
            deadline = deadline.min(start + t);
        }
        loop {
            for _ in 0..SPIN_CHECK_EVERY {
                std::hint::spin_loop();
            }
            if !me.inbox.is_empty() || !shared.injector.is_empty() || shared.is_closed() {
                return true;
            }
            if self.searching.get()
                && shared
                    .loops
                    .iter()
                    .any(|l| l.index != self.index && !l.stealer.is_empty())
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
        }
    }

    fn park(&self) {
        let shared = &self.shared;
        let me = self.me();
        let was_searching = self.searching.replace(false);
        self.handoff_seen.set(false);
        // Publish, re-check, sleep: the sequence loom checks (`reactor::park_loop`).
        let woken_as_searcher = crate::reactor::park_loop(
            &shared.idle,
            &me.park,
            self.index,
            was_searching,
            || self.has_work(),
            || {
                let timeout = self.timers.borrow_mut().next_timeout(Instant::now());
                LoopMetrics::add(&me.metrics.parks, 1);
                self.poll_events(timeout);
            },
        );
        self.searching.set(woken_as_searcher);
    }

    fn poll_events(&self, timeout: Option<Duration>) {
        let mut events = self.events.borrow_mut();
        if let Err(e) = self.me().driver.wait(&mut events, timeout) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                log::error!(target: "loopwork", "loop {} failed to poll: {e}", self.index);
            }
        }
        self.woken_by_io.set(self.me().driver.dispatch(&events));
    }

    fn next_rand(&self) -> u64 {
        // xorshift64*: cheap, and good enough to spread steal victims.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Cancels everything this loop holds, on this thread, until nothing is left.
    fn shutdown(&self) {
        if self.searching.replace(false) {
            self.shared.idle.transition_from_searching();
        }
        let me = self.me();
        // Callbacks accepted but never run: their handles are marked and
        // the count logged, so none is lost silently.
        let mut dropped_callbacks = 0;
        loop {
            let mut did = false;
            while let Steal::Success(item) = me.inbox.steal() {
                did = true;
                match item {
                    InboxItem::Task(task) => task.shutdown(),
                    // A foreign waiter's timer: wake it, it must not hang.
                    InboxItem::Timer(entry) => entry.fire(),
                    InboxItem::Callback { f, state, .. } => {
                        dropped_callbacks += usize::from(callbacks::mark_dropped(&state));
                        drop(f);
                    }
                    InboxItem::Call(f) => self.run_call(f),
                }
            }
            let ready = std::mem::take(&mut *self.callbacks.borrow_mut());
            did |= !ready.is_empty();
            for cb in ready {
                dropped_callbacks += usize::from(cb.state.mark_dropped());
            }
            let deferred = std::mem::take(&mut *self.deferred.borrow_mut());
            for task in deferred {
                did = true;
                task.shutdown();
            }
            while let Some(task) = self.pop_pinned() {
                did = true;
                task.shutdown();
            }
            while let Some(task) = self.worker.pop() {
                did = true;
                task.shutdown();
            }
            while let Some(task) = self.shared.pop_injector() {
                did = true;
                task.shutdown();
            }
            let tasks = std::mem::take(&mut self.registry.borrow_mut().tasks);
            for raw in tasks {
                did = true;
                if !raw.header().state.load().is_complete() {
                    crate::debug::report_destroyed_pending(&raw.header().meta);
                }
                raw.shutdown();
                raw.drop_reference();
            }
            // Sleeps are woken (they complete: see `crate::time`), timed
            // callbacks are dropped and marked.
            let timers = std::mem::take(&mut *self.timers.borrow_mut()).drain();
            did |= !timers.is_empty();
            for action in timers {
                match action {
                    TimerAction::Wake(entry) => entry.fire(),
                    TimerAction::Call(cb) => {
                        dropped_callbacks += usize::from(cb.state.mark_dropped())
                    }
                }
            }
            // I/O waiters are woken and see an error naming the closed runtime.
            did |= me.driver.close();
            if !did {
                break;
            }
        }
        callbacks::report_dropped(
            self.shared.is_debug(),
            dropped_callbacks,
            &format!("loop {} shut down", self.index),
        );
        me.closed.store(true, SeqCst);
        *self.shared.finished.lock() += 1;
        self.shared.finished_cv.notify_all();
    }
}

struct Registry {
    tasks: Vec<RawTask>,
    sweep_at: usize,
}

impl Registry {
    fn new() -> Registry {
        Registry {
            tasks: Vec::new(),
            sweep_at: MIN_SWEEP,
        }
    }

    /// Adds a task (whose reference the caller took); returns the references
    /// of completed tasks to release, when a sweep ran.
    fn insert(&mut self, raw: RawTask) -> Vec<RawTask> {
        self.tasks.push(raw);
        if self.tasks.len() < self.sweep_at {
            return Vec::new();
        }
        let mut released = Vec::new();
        self.tasks.retain(|t| {
            let done = t.header().state.load().is_complete();
            if done {
                released.push(*t);
            }
            !done
        });
        self.sweep_at = (self.tasks.len() * 2).max(MIN_SWEEP);
        released
    }
}
