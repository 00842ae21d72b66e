//! One loop's scheduler: its run queues, how it runs an iteration, how it
//! finds work when its own queues are empty, and how it parks.
//!
//! # One iteration ([`LoopScheduler::run_once`])
//! 1. drain the inbox (pinned tasks woken elsewhere here; everything else is
//!    handed to the runtime's [`LoopHooks::handle`]);
//! 2. fire due timers ([`LoopHooks::fire_timers`]);
//! 3. run ready work: callbacks, then tasks, at most `BUDGET` of them,
//!    alternating between the pinned queue and the deque so neither starves
//!    the other; every `INJECTOR_INTERVAL` polls the injector is checked
//!    first, so remote work is never starved by a busy local queue;
//! 4. if nothing was ready: search (injector batch, then steal half of a
//!    random sibling's deque, then a stalled sibling's I/O events), spin
//!    briefly after an inbox handoff, else park in the poller's wait until
//!    the next timer ([`LoopHooks::poll_events`]).
//!
//! # Ownership
//! A `LoopScheduler` lives on its loop's thread and is touched only there
//! (the `Cell`s and `RefCell`s are never borrowed across a task poll or a
//! user callback); other threads reach the loop through its [`Slot`].
//!
//! # The registry
//! A task whose poll on this loop returned `Pending` (the first time) is held
//! by this loop's registry with one reference, so shutdown can cancel tasks
//! that are parked on a waker nobody will call. Tasks that complete in their
//! first poll never enter it, and tasks waiting in a queue are reached by
//! shutdown's queue drains. Completed tasks are released in sweeps, run when
//! the registry has doubled since the last sweep: amortised O(1) per task, no
//! lock, no shared list.
//!
//! # Diagnostics (debug mode)
//! Around each task poll the loop times it with the cheap debug clock
//! (`debug::clock`, one reading per poll: the end of one poll is the start
//! of the next), publishes what it runs in its slot's activity record (for
//! the watchdog: `debug::activity` says why a reader is safe), and records
//! scheduling events in its flight recorder (`debug::recorder`). Production
//! reads no clock and touches neither: one `is_debug` load per poll.
//! (Every mode reads the coarse clock once per iteration, for the dumps'
//! time since the last poll: see `task::trace`.)
//!
//! # The current loop
//! While a loop runs, a thread-local points at its `LoopScheduler`
//! ([`LoopScheduler::enter`]); the task hooks ([`super::schedulers`]) use it
//! to push a task woken on its own loop to that loop's queues.

use super::park::{park_loop, poll_sibling};
use super::queue::{Steal, Worker};
use super::shared::{Counters, InboxItem, Scheduler, Slot};
use super::spin::SpinPolicy;
use crate::debug::clock;
use crate::debug::recorder::EventKind;
use crate::sync::atomic::Ordering::*;
use crate::sync::Arc;
use crate::task::{Notified, RawTask, TaskKind};
use std::any::TypeId;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Tasks polled per iteration before the inbox and timers are looked at again.
const BUDGET: u32 = 64;
/// Every this many polls, the injector is checked before local queues.
const INJECTOR_INTERVAL: u64 = 61;
/// Every this many task polls, a busy loop collects I/O readiness without
/// parking (counted in polls, as tokio's `event_interval`: counted in
/// iterations of up to `BUDGET` polls, a busy loop looked at its poller up
/// to 64 times less often, and the sockets registered with it waited).
const EVENT_INTERVAL: u64 = 61;
const MIN_SWEEP: usize = 256;
/// `spin_loop` hints between two looks at the queues (a spin that does not
/// yield, see `spin`).
const SPIN_CHECK_EVERY: u32 = 32;
/// Flight-recorder events shown with a task's panic (debug mode).
const PANIC_EVENTS: usize = 16;

/// The runtime's part of a loop iteration: what is not scheduling (timers,
/// callbacks, the poller's wait), handed to [`LoopScheduler::run_once`].
pub(crate) trait LoopHooks<I> {
    /// Handles an inbox item that is not a task.
    fn handle(&self, item: I);
    /// Fires the due timers.
    fn fire_timers(&self);
    /// Runs the ready callbacks; how many ran.
    fn run_callbacks(&self) -> u32;
    /// Whether callbacks are ready.
    fn has_callbacks(&self) -> bool;
    /// How long until the next timer fires (`None`: no timer).
    fn next_timeout(&self) -> Option<Duration>;
    /// Waits for I/O events or a notify for at most `timeout` (`None`: no
    /// limit) and dispatches them; whether I/O events came.
    fn poll_events(&self, timeout: Option<Duration>) -> bool;
    /// Shutdown: disposes of an inbox item that is not a task.
    fn discard(&self, item: I);
    /// Shutdown: drops the runtime's own queues (callbacks, timers); whether
    /// anything was there.
    fn clear(&self) -> bool;
}

crate::sync::loop_thread_local! {
    static CURRENT: Cell<Option<(*const (), TypeId)>> = Cell::new(None);
}

/// Runs `f` with the loop this thread runs, if it is a loop thread whose
/// inbox carries `I`.
#[inline]
pub(crate) fn with_current<I: InboxItem, R>(f: impl FnOnce(Option<&LoopScheduler<I>>) -> R) -> R {
    let current = CURRENT.try_with(|c| c.get()).ok().flatten();
    let sched = match current {
        // SAFETY: `enter` stored a pointer to a live `LoopScheduler<I>` (the
        // type id says which `I`), and it stays valid until its guard drops,
        // which happens only after the loop stops running code.
        Some((ptr, ty)) if ty == TypeId::of::<I>() => unsafe {
            Some(&*(ptr as *const LoopScheduler<I>))
        },
        _ => None,
    };
    f(sched)
}

/// Clears the current loop when the loop stops.
pub(crate) struct EnterGuard(());

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.set(None));
    }
}

/// One loop's scheduling state (see the module docs).
pub(crate) struct LoopScheduler<I> {
    pub(crate) shared: Arc<Scheduler<I>>,
    pub(crate) index: usize,
    /// `&shared.loops[index]`, resolved once: the hot path reaches its own
    /// slot (counters, activity, recorder) several times per poll.
    me: std::ptr::NonNull<Slot<I>>,
    deque: Worker<Notified>,
    pinned: RefCell<VecDeque<Notified>>,
    /// Tasks that yielded during this iteration (see `defer`).
    deferred: RefCell<Vec<Notified>>,
    registry: RefCell<Registry>,
    ticks: Cell<u64>,
    /// The coarse clock at the start of this iteration
    /// (`trace::iteration_started`): each task polled in the iteration is
    /// stamped with it (the dumps' time since the last poll), so production
    /// reads no clock per poll.
    now_ms: Cell<u32>,
    polls: Cell<u64>,
    /// `polls` when this loop last collected its I/O events.
    polls_at_events: Cell<u64>,
    /// Set while this loop dispatches its own poller's events: `push_local`
    /// leaves the sibling notify to the end of the batch (see
    /// `poll_own_events`).
    collecting: Cell<bool>,
    rng: Cell<u64>,
    searching: Cell<bool>,
    /// Debug mode: when the running poll started (clock ticks).
    poll_started: Cell<Option<u64>>,
    /// Debug mode: when the previous task poll of this batch ended. The next
    /// poll starts its clock there instead of reading it again: one clock
    /// read per poll instead of two. Cleared whenever anything but a task
    /// poll runs (callbacks, the end of the batch), so only the loop's own
    /// few hundred nanoseconds between two polls are charged to a task.
    last_poll_end: Cell<Option<u64>>,
    /// Debug mode: the last clock reading, the time of events that do not
    /// read the clock themselves (wakes).
    last_tick: Cell<u64>,
    /// Debug mode: `Tuning::slow_poll` in clock ticks (0: not yet converted)
    /// and the longest poll so far in ticks.
    slow_ticks: Cell<u64>,
    longest_ticks: Cell<u64>,
    /// Whether the task being polled is pinned to this loop (`Async`
    /// registers a pinned task's fd with its own loop).
    polling_pinned: Cell<bool>,
    /// Whether the last poll of the reactor brought I/O events (see
    /// `spin_for_work`).
    woken_by_io: Cell<bool>,
    /// Whether another thread handed this loop work through its inbox since
    /// it last parked (see `spin_for_work`).
    handoff_seen: Cell<bool>,
    /// Whether spinning after a handoff has paid lately (see `spin_for_work`).
    spin_policy: SpinPolicy,
    /// This loop's last published `StealHints::busy`.
    busy: Cell<bool>,
    /// Per sibling, its `StealHints::progress` when this loop last looked,
    /// and since when this loop has seen that value.
    seen_progress: RefCell<Vec<(u64, Instant)>>,
}

impl<I: InboxItem> LoopScheduler<I> {
    /// Loop `index`'s scheduler; `deque` is the `Worker` whose `Stealer` is
    /// in `shared.loops[index]`.
    pub(crate) fn new(
        shared: Arc<Scheduler<I>>,
        index: usize,
        deque: Worker<Notified>,
    ) -> LoopScheduler<I> {
        LoopScheduler {
            me: std::ptr::NonNull::from(&shared.loops[index]),
            shared,
            index,
            deque,
            pinned: RefCell::new(VecDeque::new()),
            deferred: RefCell::new(Vec::new()),
            registry: RefCell::new(Registry::new()),
            ticks: Cell::new(0),
            now_ms: Cell::new(0),
            polls: Cell::new(0),
            polls_at_events: Cell::new(0),
            collecting: Cell::new(false),
            rng: Cell::new(0x9E37_79B9_7F4A_7C15 ^ ((index as u64 + 1) << 17)),
            searching: Cell::new(false),
            poll_started: Cell::new(None),
            last_poll_end: Cell::new(None),
            last_tick: Cell::new(0),
            slow_ticks: Cell::new(0),
            longest_ticks: Cell::new(0),
            polling_pinned: Cell::new(false),
            woken_by_io: Cell::new(false),
            handoff_seen: Cell::new(false),
            spin_policy: SpinPolicy::new(),
            busy: Cell::new(false),
            seen_progress: RefCell::new(Vec::new()),
        }
    }

    /// Makes this the thread's current loop until the guard drops.
    ///
    /// # Panics
    /// If the thread already runs a loop.
    pub(crate) fn enter(&self) -> EnterGuard {
        CURRENT.with(|c| {
            assert!(c.get().is_none(), "a thread can run only one loop");
            c.set(Some((self as *const Self as *const (), TypeId::of::<I>())));
        });
        EnterGuard(())
    }

    #[inline]
    fn me(&self) -> &Slot<I> {
        // SAFETY: `me` points into `shared.loops`, a boxed slice that is
        // never resized or moved, kept alive by the `Arc` this holds.
        unsafe { self.me.as_ref() }
    }

    /// Whether this loop belongs to the runtime whose scheduler is `shared`.
    #[inline]
    pub(crate) fn belongs_to(&self, shared: &Scheduler<I>) -> bool {
        std::ptr::eq(&*self.shared, shared)
    }

    /// The loop's life on its thread: iterations until the runtime closes,
    /// then shutdown passes until one finds nothing (a drop may wake or
    /// spawn). Every task queued here or registered with this loop is
    /// cancelled on this thread, so `!Send` futures are dropped where they
    /// belong.
    pub(crate) fn run(&self, hooks: &impl LoopHooks<I>) {
        let _current = self.enter();
        while !self.shared.is_closed() {
            self.run_once(hooks);
        }
        // Submitters already inside the gate finish their pushes first.
        self.shared.gate.wait_drained();
        self.stop_searching();
        loop {
            let mut did = self.shutdown_pass(|item| hooks.discard(item));
            did |= hooks.clear();
            if !did {
                break;
            }
        }
    }

    /// Schedules a task just created on this loop's thread: pinned to this
    /// loop or stealable. On a closed runtime it is cancelled at once (its
    /// joiner sees `Cancelled`); whether it was accepted.
    pub(crate) fn spawn(&self, task: Notified, pinned: bool) -> bool {
        if self.shared.is_closed() {
            task.shutdown();
            return false;
        }
        Counters::add(&self.me().counters.spawned, 1);
        self.record_wake(&task);
        if pinned {
            self.push_pinned(task);
        } else {
            self.push_local(task);
        }
        true
    }

    /// One iteration (see the module docs).
    pub(crate) fn run_once(&self, hooks: &impl LoopHooks<I>) {
        let tick = self.ticks.get().wrapping_add(1);
        self.ticks.set(tick);
        self.me().hints.progress.store(tick, Relaxed);
        self.now_ms.set(crate::task::trace::iteration_started());
        crate::task::coop::lift();
        self.drain_inbox(hooks);
        hooks.fire_timers();
        self.last_poll_end.set(None);
        if self.shared.is_debug() {
            // For the watchdog's report: work only this loop may run (a
            // callback may block the loop too).
            self.me()
                .activity
                .set_pinned_waiting(self.pinned.borrow().len());
        }
        let mut ran = hooks.run_callbacks();
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
            if hooks.has_callbacks() {
                self.last_poll_end.set(None);
                ran += hooks.run_callbacks();
            }
        }
        self.last_poll_end.set(None);
        self.requeue_deferred();
        if ran > 0 {
            if self.polls.get().wrapping_sub(self.polls_at_events.get()) >= EVENT_INTERVAL {
                let io = self.poll_own_events(hooks, Some(Duration::ZERO));
                self.woken_by_io.set(io);
                self.notify_if_batch_left();
                // A busy loop looks after stalled siblings' sockets too, as
                // tokio's workers poll the shared driver in maintenance.
                self.steal_events();
            }
            return;
        }
        self.set_busy(false);
        if let Some(task) = self.search() {
            // Busy again: a task found by the search may hold the loop as
            // long as any other (without this, a loop stuck in a task it
            // took from the injector or a sibling kept its sockets' events).
            self.set_busy(true);
            self.run_task(task);
            return;
        }
        if self.spin_for_work(hooks) {
            return;
        }
        self.park(hooks);
    }

    fn drain_inbox(&self, hooks: &impl LoopHooks<I>) {
        let me = self.me();
        let mut n = 0;
        loop {
            let item = match me.inbox.steal() {
                Steal::Success(item) => item,
                Steal::Empty => break,
                Steal::Retry => continue,
            };
            n += 1;
            match item.into_task() {
                Ok(task) => self.push_pinned(task),
                Err(item) => hooks.handle(item),
            }
        }
        if n > 0 {
            self.handoff_seen.set(true);
            self.spin_policy.handoff(self.shared.tuning.spin);
            Counters::add(&me.counters.inbox_items, n);
            self.record(EventKind::Inbox { count: n });
        }
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
            self.pop_pinned().or_else(|| self.deque.pop())
        } else {
            self.deque.pop().or_else(|| self.pop_pinned())
        }
    }

    /// Moves a batch from the global injector into this loop's deque and
    /// returns one task of it. A batch, not one task: under a busy local queue
    /// the injector is only looked at every `INJECTOR_INTERVAL` polls, and one
    /// task per look would leave remote work waiting 61 polls per task.
    fn take_injector_batch(&self) -> Option<Notified> {
        loop {
            match self.shared.injector.steal_batch_and_pop(&self.deque) {
                Steal::Success(task) => {
                    let n = self.deque.len() as u64 + 1;
                    Counters::add(&self.me().counters.from_injector, n);
                    self.record(EventKind::Injector { count: n });
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
                self.deque.push(task);
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
            if matches!(task.header().meta.kind(), TaskKind::Pinned(_)) {
                self.pinned.borrow_mut().push_back(task);
            } else {
                self.deque.push(task);
                stealable = true;
            }
        }
        drop(deferred);
        if stealable {
            self.shared.notify_parked();
        }
    }

    fn pop_pinned(&self) -> Option<Notified> {
        let mut pinned = self.pinned.borrow_mut();
        let task = pinned.pop_front();
        if task.is_some() && self.shared.is_debug() {
            // For the watchdog's report (see `push_pinned`).
            self.me().activity.set_pinned_waiting(pinned.len());
        }
        task
    }

    // Always: a plain `#[inline]` was dropped by the inliner whenever
    // `run_once` grew a little (+12 instructions per poll on `yield_many`).
    #[inline(always)]
    fn run_task(&self, task: Notified) {
        if self.searching.replace(false) && self.shared.idle.transition_from_searching() {
            // The last searcher found work: wake the next one if there is more.
            self.notify_if_work_pending();
        }
        Counters::add(&self.me().counters.polls, 1);
        task.run();
    }

    /// Task hook, right before a poll on this loop. `pinned`: the task is
    /// pinned to this loop (its scheduler knows).
    #[inline]
    pub(crate) fn before_poll(&self, task: RawTask, pinned: bool) {
        crate::task::coop::start_poll();
        task.header().trace.poll_started(self.now_ms.get());
        task.header().meta.stats.poll_started(self.index);
        self.polling_pinned.set(pinned);
        if self.shared.is_debug() {
            self.debug_poll_start(task);
        }
    }

    /// Debug mode's side of `before_poll`: the clock and the activity
    /// record (the flight recorder gets the poll when it ends).
    #[inline]
    fn debug_poll_start(&self, task: RawTask) {
        let start = self.last_poll_end.take().unwrap_or_else(clock::now);
        self.poll_started.set(Some(start));
        // (The count of pinned tasks waiting, for the watchdog's report, is
        // kept up to date where the pinned queue changes, not per poll.)
        self.me()
            .activity
            .start_task(task.header() as *const _ as *const (), start);
    }

    /// Whether the task being polled (if any) is pinned to this loop.
    pub(crate) fn polling_pinned(&self) -> bool {
        self.polling_pinned.get()
    }

    /// Task hook, right after a poll on this loop, while the task is still
    /// `RUNNING`.
    #[inline]
    pub(crate) fn after_poll(&self, task: RawTask, pending: bool) {
        self.polling_pinned.set(false);
        if pending {
            // Only a task that waits needs the registry: one that completed
            // in this poll is done, and one that is queued is reached by
            // shutdown's queue drains.
            // SAFETY: called by the task's poller while it is RUNNING.
            unsafe { self.register(task) };
        }
        // Keyed on the start, not on the flag: a poll that started timed
        // ends timed even if debug mode was turned off meanwhile, so its
        // activity record is cleared.
        let timed = self
            .poll_started
            .take()
            .map(|start| self.debug_poll_end(task, start, pending));
        task.header().meta.stats.poll_finished(timed);
    }

    /// Debug mode's side of `after_poll`; the poll's duration in clock
    /// ticks. Runs on every poll: figures stay in ticks (converted when
    /// read or reported), and the reports are out of line.
    #[inline]
    fn debug_poll_end(&self, task: RawTask, start: u64, pending: bool) -> u64 {
        let now = clock::now();
        self.last_poll_end.set(Some(now));
        self.last_tick.set(now);
        let me = self.me();
        // After this no reader looks at the task (see `debug::activity`).
        let reported = me.activity.end();
        let ticks = now.saturating_sub(start);
        me.recorder.record(
            now,
            EventKind::Poll {
                task: task.header().meta.id.as_u64(),
                took: clock::Units::from_ticks(ticks),
                pending,
            },
        );
        if ticks > self.longest_ticks.get() {
            self.longest_ticks.set(ticks);
            me.counters.longest_poll_ticks.store(ticks, Relaxed);
        }
        if ticks >= self.slow_ticks() || reported {
            self.report_poll(task, ticks, reported);
        }
        ticks
    }

    /// A slow poll, or the end of a poll the watchdog reported as blocked.
    #[cold]
    #[inline(never)]
    fn report_poll(&self, task: RawTask, ticks: u64, reported: bool) {
        let took = clock::to_duration(ticks);
        if ticks >= self.slow_ticks() {
            crate::debug::report_slow(task.header(), took);
        }
        if reported {
            crate::debug::watchdog::report_unblocked(
                self.index,
                self.me().activity.thread(),
                task.header(),
                took,
            );
        }
    }

    /// Task hook: the poll of `task` panicked (before `after_poll`). Debug
    /// mode logs the loop's last scheduling events, which led to it.
    pub(crate) fn poll_panicked(&self, task: RawTask, payload: &(dyn std::any::Any + Send)) {
        if self.poll_started.get().is_some() {
            let me = self.me();
            let events = me.recorder.read(PANIC_EVENTS, clock::now());
            crate::debug::watchdog::report_panic_events(
                task.header(),
                self.index,
                me.activity.thread(),
                &crate::task::panic_message(payload),
                &crate::debug::recorder::EventList(&events),
            );
        }
    }

    /// `Tuning::slow_poll` in clock ticks (converted once, in debug mode:
    /// the conversion may calibrate the clock).
    #[inline]
    fn slow_ticks(&self) -> u64 {
        match self.slow_ticks.get() {
            0 => {
                let t = clock::from_duration(self.shared.tuning.slow_poll).max(1);
                self.slow_ticks.set(t);
                t
            }
            t => t,
        }
    }

    /// Debug mode: records a scheduling event in this loop's flight
    /// recorder, at the current time.
    #[inline]
    pub(crate) fn record(&self, kind: EventKind) {
        if self.shared.is_debug() {
            let now = clock::now();
            self.last_tick.set(now);
            self.me().recorder.record(now, kind);
        }
    }

    /// Debug mode: records that `task` was woken (or spawned) on this
    /// loop's thread and queued here; at the last clock reading (a wake is
    /// too frequent for a reading of its own).
    #[inline]
    pub(crate) fn record_wake(&self, task: &Notified) {
        if self.shared.is_debug() {
            let at = match self.last_tick.get() {
                // No reading yet (debug mode was just turned on).
                0 => {
                    let now = clock::now();
                    self.last_tick.set(now);
                    now
                }
                t => t,
            };
            self.me().recorder.record(
                at,
                EventKind::Wake {
                    task: task.header().meta.id.as_u64(),
                },
            );
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

    /// A stealable task scheduled on this loop. A sibling is woken to share
    /// it, except while this loop dispatches its own I/O events: then one
    /// notify at the end of the batch does (`notify_if_batch_left`).
    #[inline]
    pub(crate) fn push_local(&self, task: Notified) {
        self.deque.push(task);
        if !self.collecting.get() {
            self.shared.notify_parked();
        }
    }

    /// Waits for this loop's own I/O events (at most `timeout`) and
    /// dispatches them; whether any came. The tasks they wake go to this
    /// loop's deque without a sibling notify each: this loop is awake and
    /// runs them next, and whether a sibling should help is decided once for
    /// the batch, after the caller has left the park protocol
    /// (`notify_if_batch_left`), as tokio's worker does after its driver
    /// poll. A loop that is awake always looks at its own deque before it
    /// parks, so no task waits on a notify that was not sent.
    fn poll_own_events(&self, hooks: &impl LoopHooks<I>, timeout: Option<Duration>) -> bool {
        self.polls_at_events.set(self.polls.get());
        self.collecting.set(true);
        let io = hooks.poll_events(timeout);
        self.collecting.set(false);
        io
    }

    /// After a batch of I/O events: wakes a sibling if this loop has more
    /// ready tasks than the one it runs next (tokio's `should_notify_others`).
    fn notify_if_batch_left(&self) {
        if self.deque.len() > 1 {
            self.shared.notify_parked();
        }
    }

    /// A pinned task of this loop, scheduled by this loop.
    #[inline]
    pub(crate) fn push_pinned(&self, task: Notified) {
        let mut pinned = self.pinned.borrow_mut();
        pinned.push_back(task);
        if self.shared.is_debug() {
            self.me().activity.set_pinned_waiting(pinned.len());
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
                    .steal_batch_and_pop(&self.deque)
                {
                    Steal::Success(task) => {
                        let n = self.deque.len() as u64 + 1;
                        Counters::add(&self.me().counters.stolen, n);
                        Counters::add(&self.me().counters.stolen_from[victim], n);
                        self.record(EventKind::StealIn {
                            from: victim as u32,
                            count: n,
                        });
                        return Some(task);
                    }
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return if self.steal_events() {
                    self.deque.pop()
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
    /// busy, with no new iteration for `Tuning::stall`. A loop that is making
    /// progress collects its own events soon enough: taking them from it
    /// moves tasks between CPUs, which cost `tcp_echo` 5–10% when every busy
    /// sibling was a candidate. Siblings that are parking or parked, or have
    /// no sources, are skipped too (see `poll_sibling` for the wakeup it
    /// keeps).
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
            if victim.index == self.index || !victim.driver.has_sources() {
                continue;
            }
            // A zero stall threshold makes every sibling a candidate (the
            // loom models use it: `poll_sibling` must keep the sibling's
            // wakeup wherever it is called, and the filters below only
            // narrow where that is). Relaxed: hints only; a stale one costs
            // a needless or a late steal, never a lost wakeup.
            let stall = shared.tuning.stall;
            if !stall.is_zero() {
                if !victim.hints.busy.load(Relaxed) {
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
                if now.duration_since(*since) < stall {
                    continue;
                }
            }
            if poll_sibling(
                &victim.park,
                || victim.driver.steal_events(),
                || victim.driver.notify(),
            ) {
                Counters::add(&self.me().counters.event_steals, 1);
                self.record(EventKind::EventSteal {
                    from: victim.index as u32,
                });
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
            || self.deque.len() > 1
            || shared.siblings_have_tasks(self.index);
        if pending {
            shared.notify_parked();
        }
    }

    /// Whether anything could be run without waiting.
    /// The park re-check (see `Idle::keeps_awake` for the rule).
    fn has_work(&self, hooks: &impl LoopHooks<I>) -> bool {
        let shared = &self.shared;
        let local = shared.is_closed()
            || !self.me().inbox.is_empty()
            || !self.deque.is_empty()
            || !self.pinned.borrow().is_empty()
            || hooks.has_callbacks()
            || !self.deferred.borrow().is_empty();
        shared.idle.keeps_awake(local, || {
            !shared.injector.is_empty() || shared.siblings_have_tasks(self.index)
        })
    }

    /// Before parking, watches the queues other threads fill for up to
    /// `Tuning::spin`: a foreign thread handing work over in a tight loop
    /// (`run_coroutine_threadsafe(..).result()`, `call_soon_threadsafe`) then
    /// finds the loop awake, and neither side pays the sleep and the wake-up
    /// (an eventfd write, a cross-CPU wake-up, `epoll_wait`'s return path).
    /// Only after such a handoff: a loop that ran stolen or I/O-driven work
    /// parks at once and leaves the CPU to others (a spin there cost a load
    /// generator on the same machine ~5% of its requests/s). Skipped when
    /// the last poll brought I/O events: the spin does not watch the poller,
    /// so a loop serving sockets sees their events without delay. Skipped
    /// too while handoffs come further apart than the spin (`SpinPolicy`):
    /// then it would only burn the window and keep the thread it just woke
    /// off this CPU. Returns whether work arrived.
    fn spin_for_work(&self, hooks: &impl LoopHooks<I>) -> bool {
        let spin = self.shared.tuning.spin;
        if spin.is_zero() || !self.handoff_seen.get() || self.woken_by_io.get() {
            return false;
        }
        if !self.spin_policy.should_spin() {
            return false;
        }
        let (found, in_time) = self.spin(hooks, spin);
        // Work found only after the window (the OS ran something else
        // meanwhile) is a miss: the spin did not pay.
        self.spin_policy.spun(found && in_time);
        found
    }

    /// Watches the queues other threads fill for at most `spin` (or until
    /// the next timer): whether work arrived, and whether within the window.
    ///
    /// After this loop released a thread blocked on a result
    /// (`spin::released_a_waiter`), it yields its CPU (`sched_yield`) between
    /// two looks instead of only pausing: on a machine with more runnable
    /// threads than CPUs that waiter, which is about to hand over the next
    /// piece of work, may be queued on this very CPU, and a pure spin would
    /// keep it from running until the window ends (measured on 2 CPUs under
    /// load: back-to-back round trips 1.1 µs or 27 µs per repetition with a
    /// pure spin, 2.7–3.2 µs with the yield). Otherwise it pauses only: a
    /// producer that does not wait for the loop (`call_soon_threadsafe`) may
    /// be busy on this CPU, and a yield to it loses the CPU for a whole time
    /// slice (measured: 0.8 ms instead of 4 µs per item).
    fn spin(&self, hooks: &impl LoopHooks<I>, spin: Duration) -> (bool, bool) {
        let shared = &self.shared;
        let me = self.me();
        let polite = super::spin::take_released_a_waiter();
        let start = Instant::now();
        let mut deadline = start + spin;
        if let Some(t) = hooks.next_timeout() {
            deadline = deadline.min(start + t);
        }
        loop {
            if polite {
                std::thread::yield_now();
            } else {
                for _ in 0..SPIN_CHECK_EVERY {
                    std::hint::spin_loop();
                }
            }
            let found = !me.inbox.is_empty()
                || !shared.injector.is_empty()
                || shared.is_closed()
                || (self.searching.get() && shared.siblings_have_tasks(self.index));
            let late = Instant::now() > deadline;
            if found || late {
                return (found, !late);
            }
        }
    }

    fn park(&self, hooks: &impl LoopHooks<I>) {
        let shared = &self.shared;
        let me = self.me();
        let was_searching = self.searching.replace(false);
        self.handoff_seen.set(false);
        let mut slept = false;
        // Publish, re-check, sleep: the sequence loom checks (`park_loop`).
        let woken_as_searcher = park_loop(
            &shared.idle,
            &me.park,
            self.index,
            was_searching,
            || self.has_work(hooks),
            || {
                slept = true;
                Counters::add(&me.counters.parks, 1);
                self.record(EventKind::Park);
                let io = self.poll_own_events(hooks, hooks.next_timeout());
                self.woken_by_io.set(io);
                self.record(EventKind::Unpark { io });
            },
        );
        self.searching.set(woken_as_searcher);
        if slept {
            self.notify_if_batch_left();
        }
        if !slept {
            // The re-check saw work that another loop may be about to take
            // (a searcher is on it): let it run before looking again. A
            // pause hint here; under loom a yield, or the model would
            // explore this loop spinning while the searcher never moves.
            crate::sync::spin_loop();
        }
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

    /// Leaves the idle protocol's searching count, at the start of the
    /// loop's shutdown.
    fn stop_searching(&self) {
        if self.searching.replace(false) {
            self.shared.idle.transition_from_searching();
        }
    }

    /// One pass of the loop's shutdown over the scheduler's queues: cancels
    /// every task queued here or registered with this loop (reporting the
    /// pending ones), and hands the inbox's other items to `other`. Whether
    /// anything was found: the caller repeats until a pass finds nothing.
    fn shutdown_pass(&self, mut other: impl FnMut(I)) -> bool {
        let mut did = false;
        while let Steal::Success(item) = self.me().inbox.steal() {
            did = true;
            match item.into_task() {
                Ok(task) => task.shutdown(),
                Err(item) => other(item),
            }
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
        while let Some(task) = self.deque.pop() {
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
            // A pending one is reported by its shutdown (`Schedule::destroyed_pending`).
            raw.shutdown();
            raw.drop_reference();
        }
        did
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

// One loop's scheduling decisions driven directly, without a runtime: what
// the integration tests see only as timing (how many siblings a batch
// wakes, whether the loop spins before it parks, the victim order), memory
// (the registry's sweeps) or not at all (debug mode's flight recorder).
// A `Scheduler` of test drivers that count their notifies, `LoopHooks` whose
// answers each test sets, and real tasks with the runtime's own schedulers.
#[cfg(test)]
#[cfg(not(loopwork_loom))]
mod tests {
    use super::super::queue::Worker;
    use super::super::schedulers::{PinnedScheduler, StealableScheduler};
    use super::super::shared::{Driver, Tuning};
    use super::*;
    use crate::task::{new_task, Task, TaskMeta};
    use std::future::Future;
    use std::panic::Location;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    enum Item {
        Task(Notified),
        Id(usize),
    }

    impl InboxItem for Item {
        fn task(task: Notified) -> Self {
            Item::Task(task)
        }
        fn into_task(self) -> Result<Notified, Self> {
            match self {
                Item::Task(t) => Ok(t),
                other => Err(other),
            }
        }
    }

    /// Counts the notifies a loop's wait got and the sibling polls of its
    /// events (each of which finds some when it has sources).
    struct CountingDriver {
        notifies: Arc<AtomicUsize>,
        steals: Arc<AtomicUsize>,
        sources: bool,
    }

    impl Driver for CountingDriver {
        fn notify(&self) {
            self.notifies.fetch_add(1, SeqCst);
        }
        fn has_sources(&self) -> bool {
            self.sources
        }
        fn steal_events(&self) -> bool {
            self.steals.fetch_add(1, SeqCst);
            true
        }
    }

    /// The runtime's side of an iteration, as each test sets it.
    #[derive(Default)]
    struct Hooks {
        /// Ready callbacks; a task may make some ready.
        callbacks: std::rc::Rc<Cell<u32>>,
        /// The timeouts of the poller waits.
        polled: RefCell<Vec<Option<Duration>>>,
        next_timeout: Cell<Option<Duration>>,
        /// What each `clear` returns, in turn (then `false`); the first
        /// also hands the loop's inbox an item, as a dropped callback that
        /// sends a value home would.
        clears: RefCell<VecDeque<bool>>,
        inbox_on_clear: RefCell<Option<Arc<Scheduler<Item>>>>,
        discarded: RefCell<Vec<usize>>,
        handled: RefCell<Vec<usize>>,
    }

    impl LoopHooks<Item> for Hooks {
        fn handle(&self, item: Item) {
            if let Item::Id(id) = item {
                self.handled.borrow_mut().push(id);
            }
        }
        fn fire_timers(&self) {}
        fn run_callbacks(&self) -> u32 {
            self.callbacks.replace(0)
        }
        fn has_callbacks(&self) -> bool {
            self.callbacks.get() > 0
        }
        fn next_timeout(&self) -> Option<Duration> {
            self.next_timeout.get()
        }
        fn poll_events(&self, timeout: Option<Duration>) -> bool {
            self.polled.borrow_mut().push(timeout);
            false
        }
        fn discard(&self, item: Item) {
            match item {
                Item::Id(id) => self.discarded.borrow_mut().push(id),
                Item::Task(t) => t.shutdown(),
            }
        }
        fn clear(&self) -> bool {
            if let Some(shared) = self.inbox_on_clear.take() {
                shared.loops[0].send(Item::Id(99));
            }
            self.clears.borrow_mut().pop_front().unwrap_or(false)
        }
    }

    struct Setup {
        shared: Arc<Scheduler<Item>>,
        notifies: Vec<Arc<AtomicUsize>>,
        steals: Vec<Arc<AtomicUsize>>,
        deques: Vec<Option<Worker<Notified>>>,
    }

    fn setup(loops: usize, tuning: Tuning, sources: bool) -> Setup {
        let deques: Vec<Worker<Notified>> = (0..loops).map(|_| Worker::new_fifo()).collect();
        let notifies: Vec<Arc<AtomicUsize>> = (0..loops).map(|_| Arc::default()).collect();
        let steals: Vec<Arc<AtomicUsize>> = (0..loops).map(|_| Arc::default()).collect();
        let shared = Arc::new(Scheduler::new(
            deques.iter().map(|d| d.stealer()).collect(),
            notifies
                .iter()
                .zip(&steals)
                .map(|(n, st)| {
                    Box::new(CountingDriver {
                        notifies: n.clone(),
                        steals: st.clone(),
                        sources,
                    }) as Box<dyn Driver>
                })
                .collect(),
            false,
            tuning,
        ));
        Setup {
            shared,
            notifies,
            steals,
            deques: deques.into_iter().map(Some).collect(),
        }
    }

    fn tuning(spin: Duration) -> Tuning {
        Tuning {
            spin,
            stall: Duration::ZERO,
            slow_poll: Duration::MAX,
        }
    }

    impl Setup {
        fn new(loops: usize) -> Setup {
            setup(loops, tuning(Duration::ZERO), false)
        }
        fn with_spin(loops: usize, spin: Duration) -> Setup {
            setup(loops, tuning(spin), false)
        }
        /// Loop `index`'s scheduler (each once).
        fn sched(&mut self, index: usize) -> LoopScheduler<Item> {
            let deque = self.deques[index].take().expect("one scheduler per loop");
            LoopScheduler::new(self.shared.clone(), index, deque)
        }
        /// Marks loop `index` parked, as its `park` would before waiting.
        fn park(&self, index: usize) {
            self.shared.idle.transition_to_parked(index, false);
        }
        fn notified(&self, index: usize) -> usize {
            self.notifies[index].load(SeqCst)
        }
        #[track_caller]
        fn stealable<F: Future + Send + 'static>(&self, f: F) -> (Notified, Task<F::Output>)
        where
            F::Output: Send + 'static,
        {
            let meta = TaskMeta::new(None, Location::caller(), TaskKind::Stealable);
            new_task(
                f,
                StealableScheduler {
                    shared: self.shared.clone(),
                },
                meta,
            )
        }
        #[track_caller]
        fn pinned<F: Future + 'static>(&self, owner: usize, f: F) -> (Notified, Task<F::Output>) {
            let meta = TaskMeta::new(None, Location::caller(), TaskKind::Pinned(owner));
            new_task(
                f,
                PinnedScheduler {
                    shared: self.shared.clone(),
                    owner,
                },
                meta,
            )
        }
    }

    /// Puts work somewhere for loop 0 (`&Setup`, `&LoopScheduler`: its
    /// scheduler, `X`: what else the case needs).
    type AddWork<'a, X> = &'a dyn Fn(&Setup, &LoopScheduler<Item>, X);
    /// Work for loop 0, or ready callbacks (`&Hooks`).
    type AddLocal<'a> = &'a dyn Fn(&Setup, &LoopScheduler<Item>, &Hooks);

    /// Cancels what a test left queued (a dropped `Notified` only drops its
    /// reference).
    fn drain(sched: &LoopScheduler<Item>) {
        while sched.shutdown_pass(drop) {}
    }

    // --- the victim RNG ---

    #[test]
    fn the_victim_rng_is_xorshift64_star_from_the_loops_seed() {
        let mut s = Setup::new(3);
        let sched = s.sched(2);
        // Vigna's xorshift64* (shifts 12, 25, 27; the multiplier below),
        // seeded per loop: a different sequence on every loop.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ (3 << 17);
        for _ in 0..1000 {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            assert_eq!(sched.next_rand(), x.wrapping_mul(0x2545_F491_4F6C_DD1D));
        }
    }

    #[test]
    fn the_victim_rng_starts_searches_at_every_sibling() {
        for n in 2..=8u64 {
            let mut s = Setup::new(n as usize);
            let sched = s.sched(0);
            let mut seen = vec![false; n as usize];
            for _ in 0..64 * n {
                seen[(sched.next_rand() % n) as usize] = true;
            }
            assert!(seen.iter().all(|&s| s), "{n} loops: starts seen {seen:?}");
        }
    }

    // --- wake-ups of siblings ---

    #[test]
    fn a_batch_of_events_wakes_a_sibling_only_when_more_than_one_task_is_left() {
        let mut s = Setup::new(2);
        let sched = s.sched(0);
        s.park(1);
        for expect_notified in [false, false, true] {
            // 0, 1, then 2 tasks in the deque.
            sched.notify_if_batch_left();
            assert_eq!(
                s.notified(1),
                usize::from(expect_notified),
                "{} task(s) left",
                sched.deque.len()
            );
            // Pushed straight to the deque: no notify of its own.
            sched.deque.push(s.stealable(async {}).0);
        }
        drain(&sched);
    }

    #[test]
    fn a_searcher_that_found_work_wakes_a_sibling_only_when_work_is_left() {
        let mut s = Setup::new(3);
        let sched = s.sched(0);
        let sibling = s.sched(2);
        s.park(1);
        // Nothing anywhere, or only the task this loop runs next: no wake.
        sched.notify_if_work_pending();
        sched.deque.push(s.stealable(async {}).0);
        sched.notify_if_work_pending();
        assert_eq!(s.notified(1), 0, "no work left to share");
        // Each kind of work left wakes the parked sibling.
        let cases: [AddWork<&LoopScheduler<Item>>; 3] = [
            &|s, me, _| me.deque.push(s.stealable(async {}).0),
            &|s, _, _| s.shared.injector.push(s.stealable(async {}).0),
            &|s, _, sib| sib.deque.push(s.stealable(async {}).0),
        ];
        for (i, add) in cases.iter().enumerate() {
            add(&s, &sched, &sibling);
            sched.notify_if_work_pending();
            assert_eq!(s.notified(1), i + 1, "case {i}: loop 1 not woken");
            drain(&sched);
            drain(&sibling);
            while s.shared.pop_injector().map(Notified::shutdown).is_some() {}
            // Loop 1 woke (counted searching): it parks again.
            s.shared.idle.transition_from_parked(1);
            s.shared.idle.transition_from_searching();
            s.park(1);
            sched.deque.push(s.stealable(async {}).0);
        }
        drain(&sched);
        drain(&sibling);
    }

    // --- the spin before parking ---

    /// Bounds a spin that should end at once (a spin that misses its work
    /// ends with the window instead, and says so).
    const LONG: Duration = Duration::from_secs(5);

    #[test]
    fn a_spin_ends_in_time_on_each_kind_of_work_another_thread_hands_over() {
        let cases: [(&str, AddWork<()>); 4] = [
            ("inbox", &|s, _, ()| s.shared.loops[0].send(Item::Id(1))),
            ("injector", &|s, _, ()| {
                s.shared.injector.push(s.stealable(async {}).0)
            }),
            ("close", &|s, _, ()| {
                s.shared.close();
            }),
            ("a sibling's deque, while searching", &|_, me, ()| {
                me.searching.set(true)
            }),
        ];
        for (what, add) in cases {
            let mut s = Setup::new(2);
            let sched = s.sched(0);
            let sibling = s.sched(1);
            if what.starts_with("a sibling") {
                sibling.deque.push(s.stealable(async {}).0);
            }
            add(&s, &sched, ());
            let hooks = Hooks::default();
            // A timer due after the window: the window decides.
            hooks.next_timeout.set(Some(LONG * 2));
            assert_eq!(sched.spin(&hooks, LONG), (true, true), "{what}");
            drain(&sched);
            drain(&sibling);
        }
    }

    #[test]
    fn a_spin_that_sees_no_work_ends_with_its_window_as_a_miss() {
        // Searching with empty siblings, and siblings with tasks while not
        // searching: neither is work for this loop's spin.
        for searching in [true, false] {
            let mut s = Setup::new(2);
            let sched = s.sched(0);
            let sibling = s.sched(1);
            if !searching {
                sibling.deque.push(s.stealable(async {}).0);
            }
            sched.searching.set(searching);
            let hooks = Hooks::default();
            assert_eq!(
                sched.spin(&hooks, Duration::from_millis(1)),
                (false, false),
                "searching: {searching}"
            );
            drain(&sibling);
        }
    }

    /// A `next_timeout` that returns only once the clock has moved past the
    /// spin's start, and says the timer is due: the spin's deadline has
    /// passed before its first look.
    #[derive(Default)]
    struct DueTimer(Hooks);

    impl LoopHooks<Item> for DueTimer {
        fn handle(&self, item: Item) {
            self.0.handle(item)
        }
        fn fire_timers(&self) {}
        fn run_callbacks(&self) -> u32 {
            0
        }
        fn has_callbacks(&self) -> bool {
            false
        }
        fn next_timeout(&self) -> Option<Duration> {
            let t0 = Instant::now();
            while Instant::now() <= t0 {
                std::hint::spin_loop();
            }
            Some(Duration::ZERO)
        }
        fn poll_events(&self, _timeout: Option<Duration>) -> bool {
            false
        }
        fn discard(&self, item: Item) {
            self.0.discard(item)
        }
        fn clear(&self) -> bool {
            false
        }
    }

    #[test]
    fn work_found_after_the_timer_made_the_spin_late_is_a_late_find() {
        let mut s = Setup::new(1);
        let sched = s.sched(0);
        s.shared.loops[0].send(Item::Id(1));
        assert_eq!(sched.spin(&DueTimer::default(), LONG), (true, false));
    }

    #[test]
    fn a_loop_spins_for_work_only_after_a_handoff_and_not_after_io() {
        // (handoff seen, woken by I/O, spin window): whether it spins.
        let cases = [
            (true, false, LONG, true),
            (false, false, LONG, false),
            (true, true, LONG, false),
            (true, false, Duration::ZERO, false),
        ];
        for (handoff, io, window, spins) in cases {
            let mut s = Setup::with_spin(1, window);
            let sched = s.sched(0);
            // Work is there: a loop that spins finds it.
            s.shared.loops[0].send(Item::Id(1));
            sched.handoff_seen.set(handoff);
            sched.woken_by_io.set(io);
            assert_eq!(
                sched.spin_for_work(&Hooks::default()),
                spins,
                "handoff {handoff}, io {io}, window {window:?}"
            );
        }
    }

    #[test]
    fn late_finds_turn_spinning_off_and_timely_ones_keep_it_on() {
        let mut s = Setup::with_spin(1, LONG);
        let sched = s.sched(0);
        sched.handoff_seen.set(true);
        s.shared.loops[0].send(Item::Id(1));
        // In time, again and again: spinning stays on.
        for _ in 0..4 {
            assert!(sched.spin_for_work(&Hooks::default()));
            assert!(sched.spin_policy.armed());
        }
        // Late twice in a row (`MISSES_TO_DISARM`): off.
        assert!(sched.spin_for_work(&DueTimer::default()));
        assert!(sched.spin_policy.armed(), "one late find is forgiven");
        assert!(sched.spin_for_work(&DueTimer::default()));
        assert!(!sched.spin_policy.armed(), "two late finds in a row");
        assert!(!sched.spin_for_work(&Hooks::default()), "spinning is off");
    }

    // --- the park re-check ---

    #[test]
    fn work_only_this_loop_can_run_keeps_it_from_parking() {
        let cases: [(&str, AddLocal); 6] = [
            ("inbox", &|s, _, _| s.shared.loops[0].send(Item::Id(1))),
            ("deque", &|s, me, _| me.deque.push(s.stealable(async {}).0)),
            ("pinned", &|s, me, _| {
                me.push_pinned(s.pinned(0, async {}).0)
            }),
            ("callbacks", &|_, _, h| h.callbacks.set(1)),
            ("deferred", &|s, me, _| me.defer(s.stealable(async {}).0)),
            ("closed", &|s, _, _| {
                s.shared.close();
            }),
        ];
        for (what, add) in cases {
            let mut s = Setup::new(2);
            let sched = s.sched(0);
            let hooks = Hooks::default();
            assert!(!sched.has_work(&hooks), "nothing yet ({what})");
            // Another loop searching: shared work would not keep this one
            // awake, local work does.
            assert!(s.shared.idle.transition_to_searching());
            add(&s, &sched, &hooks);
            assert!(sched.has_work(&hooks), "{what}");
            drain(&sched);
        }
    }

    // --- the registry's sweeps ---

    #[test]
    fn the_registry_sweeps_completed_tasks_when_it_reaches_its_threshold() {
        let s = Setup::new(1);
        let mut registry = Registry::new();
        let mut done = Vec::new();
        for i in 0..MIN_SWEEP {
            let (notified, task) = s.stealable(async {});
            let raw = notified.raw();
            notified.run();
            assert!(raw.header().state.load().is_complete());
            raw.header().state.ref_inc();
            let released = registry.insert(raw);
            if i + 1 < MIN_SWEEP {
                assert!(released.is_empty(), "swept at {} tasks", i + 1);
            } else {
                assert_eq!(released.len(), MIN_SWEEP, "every completed task released");
            }
            for t in released {
                t.drop_reference();
            }
            done.push(task);
        }
        assert!(registry.tasks.is_empty());
        assert_eq!(registry.sweep_at, MIN_SWEEP);
    }

    #[test]
    fn after_a_sweep_the_registry_waits_until_it_has_doubled() {
        let s = Setup::new(1);
        let mut registry = Registry::new();
        let mut pending = Vec::new();
        for _ in 0..MIN_SWEEP {
            let (notified, task) = s.stealable(std::future::pending::<()>());
            assert!(registry.insert(notified.raw()).is_empty());
            pending.push((notified, task));
        }
        // The sweep at 256 kept all 256 (none completed): next at 512.
        assert_eq!(registry.tasks.len(), MIN_SWEEP);
        assert_eq!(registry.sweep_at, 2 * MIN_SWEEP);
        registry.tasks.clear();
        for (notified, _task) in pending {
            notified.shutdown();
        }
    }

    // --- entering and leaving ---

    #[test]
    fn a_loop_is_the_threads_current_loop_until_its_guard_drops() {
        let mut s = Setup::new(1);
        let sched = s.sched(0);
        for _ in 0..2 {
            // A second `enter` after the guard dropped is fine: the thread
            // runs no loop any more.
            let guard = sched.enter();
            with_current::<Item, _>(|c| assert!(c.is_some_and(|c| std::ptr::eq(c, &sched))));
            drop(guard);
            with_current::<Item, _>(|c| assert!(c.is_none(), "the loop stopped"));
        }
    }

    #[test]
    fn a_closing_loop_leaves_the_searchers_count() {
        let mut s = Setup::new(2);
        let sched = s.sched(0);
        // Nothing to find: the loop is left searching.
        assert!(sched.search().is_none());
        assert_eq!(s.shared.idle.num_searching(), 1);
        s.shared.close();
        sched.run(&Hooks::default());
        assert_eq!(s.shared.idle.num_searching(), 0);
    }

    #[test]
    fn a_closing_loop_makes_another_pass_after_its_queues_were_cleared() {
        let mut s = Setup::new(1);
        let sched = s.sched(0);
        let hooks = Hooks::default();
        // Clearing the runtime's queues found something, whose drop sent an
        // item to this loop's inbox: the next pass disposes of it.
        hooks.clears.borrow_mut().push_back(true);
        *hooks.inbox_on_clear.borrow_mut() = Some(s.shared.clone());
        s.shared.close();
        sched.run(&hooks);
        assert_eq!(*hooks.discarded.borrow(), [99]);
    }

    // --- yielders ---

    #[test]
    fn yielders_requeue_behind_a_batch_of_remote_work() {
        let mut s = Setup::new(1);
        let sched = s.sched(0);
        let (remote, _r) = s.stealable(async {});
        let (yielder, _y) = s.stealable(async {});
        let (remote_id, yielder_id) = (remote.header().meta.id, yielder.header().meta.id);
        s.shared.injector.push(remote);
        sched.defer(yielder);
        sched.requeue_deferred();
        assert!(
            s.shared.injector.is_empty(),
            "the remote work was brought in"
        );
        let order: Vec<_> = std::iter::from_fn(|| sched.deque.pop())
            .map(|t| {
                let id = t.header().meta.id;
                t.shutdown();
                id
            })
            .collect();
        assert_eq!(order, [remote_id, yielder_id]);
    }

    // --- the poll hooks ---

    #[test]
    fn a_pinned_task_is_told_it_is_polled_pinned_and_only_while_it_runs() {
        let mut s = Setup::new(1);
        let sched = s.sched(0);
        let _current = sched.enter();
        let seen = Arc::new(AtomicUsize::new(0));
        let seen2 = seen.clone();
        let (pinned, _p) = s.pinned(0, async move {
            with_current::<Item, _>(|c| {
                if c.unwrap().polling_pinned() {
                    seen2.fetch_add(1, SeqCst);
                }
            })
        });
        let seen3 = seen.clone();
        let (stealable, _t) = s.stealable(async move {
            with_current::<Item, _>(|c| {
                if c.unwrap().polling_pinned() {
                    seen3.fetch_add(10, SeqCst);
                }
            })
        });
        sched.run_task(pinned);
        assert_eq!(seen.load(SeqCst), 1, "the pinned task saw itself pinned");
        assert!(!sched.polling_pinned(), "no poll runs");
        sched.run_task(stealable);
        assert_eq!(seen.load(SeqCst), 1, "a stealable task is not pinned");
    }

    // --- debug mode's flight recorder ---

    #[test]
    fn debug_mode_records_scheduling_events_and_wakes_in_the_flight_recorder() {
        let mut s = Setup::new(1);
        let sched = s.sched(0);
        let (task, _t) = s.stealable(async {});
        let id = task.header().meta.id.as_u64();
        // Off: nothing is recorded.
        sched.record(EventKind::Park);
        sched.record_wake(&task);
        assert!(s.shared.loops[0].recent_events(16).is_empty());
        s.shared.debug.store(true, Relaxed);
        sched.record_wake(&task);
        sched.record(EventKind::Park);
        let kinds: Vec<_> = s.shared.loops[0]
            .recent_events(16)
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, [EventKind::Wake { task: id }, EventKind::Park]);
        task.shutdown();
    }

    // --- one iteration's decisions ---

    /// Loop 0's `polls` counter: tasks it polled.
    fn polls(s: &Setup) -> u64 {
        s.shared.loops[0].counters.polls.load(Relaxed)
    }

    #[test]
    fn an_iteration_polls_at_most_budget_tasks() {
        let mut s = Setup::new(1);
        let sched = s.sched(0);
        let _current = sched.enter();
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let (n, t) = s.stealable(async {});
                sched.deque.push(n);
                t
            })
            .collect();
        let hooks = Hooks::default();
        sched.run_once(&hooks);
        assert_eq!(polls(&s), u64::from(BUDGET));
        sched.run_once(&hooks);
        assert_eq!(polls(&s), 100);
        drop(tasks);
    }

    #[test]
    fn callbacks_a_task_made_ready_count_against_the_budget_like_tasks() {
        let mut s = Setup::new(1);
        let sched = s.sched(0);
        let _current = sched.enter();
        let hooks = Hooks::default();
        // Each task makes one callback ready: a task and its callback per
        // step, so half the budget in tasks.
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let callbacks = hooks.callbacks.clone();
                let (n, t) = s.pinned(0, async move { callbacks.set(callbacks.get() + 1) });
                assert!(sched.spawn(n, true));
                t
            })
            .collect();
        sched.run_once(&hooks);
        assert_eq!(polls(&s), u64::from(BUDGET / 2));
        drop(tasks);
        drain(&sched);
    }

    #[test]
    fn a_loop_that_ran_work_starts_its_next_iteration_without_parking() {
        let mut s = Setup::new(1);
        let sched = s.sched(0);
        let _current = sched.enter();
        let (n, _t) = s.stealable(async {});
        sched.deque.push(n);
        let hooks = Hooks::default();
        sched.run_once(&hooks);
        assert_eq!(polls(&s), 1);
        assert_eq!(s.shared.loops[0].counters.parks.load(Relaxed), 0);
        assert!(hooks.polled.borrow().is_empty(), "no wait, no event check");
        // With nothing left, the next iteration parks.
        sched.run_once(&hooks);
        assert_eq!(s.shared.loops[0].counters.parks.load(Relaxed), 1);
        assert_eq!(*hooks.polled.borrow(), [None]);
    }

    #[test]
    fn a_busy_loop_collects_its_io_events_every_event_interval_looks_at_its_queues() {
        let mut s = Setup::new(1);
        let sched = s.sched(0);
        let _current = sched.enter();
        let hooks = Hooks::default();
        let mut tasks = Vec::new();
        // Each iteration looks at its queues once per task and once more
        // to find them empty: 59 tasks are 60 looks, short of 61.
        for n in [59, 1] {
            for _ in 0..n {
                let (n, t) = s.stealable(async {});
                sched.deque.push(n);
                tasks.push(t);
            }
            sched.run_once(&hooks);
        }
        assert_eq!(polls(&s), 60);
        assert_eq!(*hooks.polled.borrow(), [Some(Duration::ZERO)]);
    }

    #[test]
    fn only_a_non_empty_inbox_counts_as_a_handoff() {
        let mut s = Setup::new(1);
        let sched = s.sched(0);
        let hooks = Hooks::default();
        sched.drain_inbox(&hooks);
        assert!(!sched.handoff_seen.get());
        s.shared.loops[0].send(Item::Id(1));
        s.shared.loops[0].send(Item::Id(2));
        sched.drain_inbox(&hooks);
        assert!(sched.handoff_seen.get());
        assert_eq!(*hooks.handled.borrow(), [1, 2]);
        assert_eq!(s.shared.loops[0].counters.inbox_items.load(Relaxed), 2);
    }

    #[test]
    fn the_deque_and_the_pinned_queue_take_turns_starting_with_the_deque() {
        let mut s = Setup::new(1);
        let sched = s.sched(0);
        let mut expect = Vec::new();
        let mut handles = Vec::new();
        for _ in 0..2 {
            let (d, td) = s.stealable(async {});
            let (p, tp) = s.pinned(0, async {});
            expect.extend([d.header().meta.id, p.header().meta.id]);
            sched.deque.push(d);
            sched.push_pinned(p);
            handles.push((td, tp));
        }
        let order: Vec<_> = std::iter::from_fn(|| sched.next_task())
            .map(|t| {
                let id = t.header().meta.id;
                t.shutdown();
                id
            })
            .collect();
        assert_eq!(order, expect);
    }

    #[test]
    fn a_thread_running_a_loop_has_no_current_loop_of_another_inbox_type() {
        struct Other;
        impl InboxItem for Other {
            fn task(_: Notified) -> Self {
                Other
            }
            fn into_task(self) -> Result<Notified, Self> {
                Err(self)
            }
        }
        let mut s = Setup::new(1);
        let sched = s.sched(0);
        let _current = sched.enter();
        with_current::<Item, _>(|c| assert!(c.is_some()));
        with_current::<Other, _>(|c| assert!(c.is_none()));
    }

    #[test]
    fn a_search_steals_from_whichever_sibling_has_work() {
        let mut s = Setup::new(4);
        let sched = s.sched(0);
        let siblings: Vec<_> = (1..4).map(|i| s.sched(i)).collect();
        for sibling in &siblings {
            // Many searches, each from another random start.
            for _ in 0..16 {
                let (n, _t) = s.stealable(async {});
                let id = n.header().meta.id;
                sibling.deque.push(n);
                let found = sched.search().map(|t| {
                    let found = t.header().meta.id;
                    t.shutdown();
                    found
                });
                assert_eq!(found, Some(id), "loop {}'s task", sibling.index);
            }
        }
        assert_eq!(s.shared.loops[0].counters.stolen.load(Relaxed), 48);
    }

    #[test]
    fn only_a_busy_sibling_that_made_no_progress_for_the_stall_has_its_events_taken() {
        let stall = Duration::from_secs(1);
        let mut s = setup(
            2,
            Tuning {
                spin: Duration::ZERO,
                stall,
                slow_poll: Duration::MAX,
            },
            true,
        );
        let sched = s.sched(0);
        let hints = &s.shared.loops[1].hints;
        let steals = || s.steals[1].load(SeqCst);
        // Not busy (parked, or between tasks): never.
        assert!(!sched.steal_events());
        hints.busy.store(true, Relaxed);
        hints.progress.store(7, Relaxed);
        // Busy: its progress is noted, then it must stay for `stall`.
        assert!(!sched.steal_events());
        assert!(!sched.steal_events());
        assert_eq!(steals(), 0);
        // The same progress since twice the stall (backdated, not slept).
        let backdate = || {
            sched.seen_progress.borrow_mut()[1].1 = Instant::now().checked_sub(2 * stall).unwrap();
        };
        backdate();
        assert!(sched.steal_events());
        assert_eq!(steals(), 1);
        assert_eq!(s.shared.loops[0].counters.event_steals.load(Relaxed), 1);
        // New progress: it runs again; noted, not taken.
        hints.progress.store(8, Relaxed);
        backdate();
        assert!(!sched.steal_events());
        assert_eq!(steals(), 1);
        // And not busy any more: not taken, however long ago.
        hints.busy.store(false, Relaxed);
        backdate();
        assert!(!sched.steal_events());
        assert_eq!(steals(), 1);
    }

    #[test]
    fn debug_mode_records_each_polls_duration_and_the_longest_poll() {
        let mut s = Setup::new(1);
        let sched = s.sched(0);
        let _current = sched.enter();
        s.shared.debug.store(true, Relaxed);
        // A poll of at least 5 ms: well above the recorder's unit.
        let (n, _t) = s.stealable(async {
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(5) {
                std::hint::spin_loop();
            }
        });
        sched.run_task(n);
        let micros: Vec<u64> = s.shared.loops[0]
            .recent_events(16)
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::Poll { took, .. } => Some(took.micros()),
                _ => None,
            })
            .collect();
        assert_eq!(micros.len(), 1, "{micros:?}");
        assert!((1000..1_000_000_000).contains(&micros[0]), "{micros:?} µs");
        let longest = s.shared.loops[0].counters.longest_poll_ticks.load(Relaxed);
        let longest = crate::debug::clock::to_duration(longest);
        assert!(
            longest >= Duration::from_millis(1),
            "longest poll {longest:?}"
        );
    }
}
