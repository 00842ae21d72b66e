//! The scheduling state every thread may touch: the global injector, the
//! idle protocol, the shutdown gate, and per loop the part others reach (its
//! `Stealer`, its inbox, its park flag, its stealing hints, its counters and
//! the [`Driver`] that wakes it).
//!
//! # Who writes what
//! * the injector and the inboxes: any thread pushes; loops take;
//! * `Slot::park`: written by its loop only (raised before parking, lowered
//!   after), read by inbox producers and event stealers (see [`park`]);
//! * `Slot::hints`: written by its loop every iteration, read by siblings
//!   looking for a stalled loop (`LoopScheduler::steal_events`);
//! * `Slot::counters`: written by its loop only, read by anyone;
//! * `Slot::activity` and `Slot::recorder` (debug mode): written by its loop
//!   only, read by anyone without stopping the loop (see
//!   `debug::activity` and `debug::recorder` for how a reader stays safe);
//!   read them through [`Slot::activity`], [`Slot::recent_events`] and
//!   [`Scheduler::loop_events`] (which merges in the siblings' steals).
//!
//! [`park`]: super::park

use super::gate::Gate;
use super::idle::Idle;
use super::park::ParkFlag;
use super::queue::{Injector, Steal, Stealer};
use crate::debug::activity::{Activity, Running};
use crate::debug::clock;
use crate::debug::recorder::{Event, EventKind, Ring};
use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use crate::sync::Arc;
use crate::task::{Header, Notified};
use crossbeam_utils::CachePadded;
use std::fmt;
use std::time::{Duration, Instant};

/// What the scheduler needs from a loop's poller (the reactor's `Driver` in
/// the runtime, a loom-modelled parker in the models).
pub(crate) trait Driver: Send + Sync + 'static {
    /// Wakes the loop's wait, or makes its next one return at once
    /// (deduplicated: a second notify before the wait returns costs nothing).
    fn notify(&self);

    /// Whether any I/O source is registered (a hint): a poller without any
    /// has no events for a sibling to steal.
    fn has_sources(&self) -> bool;

    /// I/O event stealing: a zero-timeout wait on this (a sibling's) poller
    /// from another loop's thread, and the dispatch of what it collects;
    /// whether there were events. Called only through
    /// [`poll_sibling`](super::park::poll_sibling), which keeps the owner's
    /// wakeup.
    fn steal_events(&self) -> bool;
}

/// A shared driver is a driver (the runtime keeps its own handle to the
/// reactor's `Driver` for waiting and registering sources).
impl<D: Driver> Driver for Arc<D> {
    fn notify(&self) {
        (**self).notify();
    }
    fn has_sources(&self) -> bool {
        (**self).has_sources()
    }
    fn steal_events(&self) -> bool {
        (**self).steal_events()
    }
}

/// What travels through a loop's inbox. The scheduler handles the tasks
/// (pinned tasks woken elsewhere); everything else is the runtime's.
pub(crate) trait InboxItem: Send + 'static {
    /// A pinned task of the receiving loop, woken on another thread.
    fn task(task: Notified) -> Self;

    /// The task, if this item is one; otherwise the item back.
    fn into_task(self) -> Result<Notified, Self>
    where
        Self: Sized;
}

/// Tuning of one runtime's loops.
#[derive(Clone, Debug)]
pub(crate) struct Tuning {
    /// How long an idle loop that just received inbox work watches its
    /// queues before it parks (`LoopScheduler::spin_for_work`); zero: never.
    pub(crate) spin: Duration,
    /// A busy sibling without a new iteration for this long is stalled: its
    /// I/O events may be collected by another loop.
    pub(crate) stall: Duration,
    /// Debug mode: a task poll at least this long is logged.
    pub(crate) slow_poll: Duration,
}

/// The scheduling state of one runtime.
pub(crate) struct Scheduler<I> {
    /// Tasks spawned or woken outside the runtime's loops.
    pub(crate) injector: Injector<Notified>,
    pub(crate) idle: Idle,
    /// Closed at shutdown; remote submissions pass through it.
    pub(crate) gate: Gate,
    pub(crate) loops: Box<[Slot<I>]>,
    /// Debug mode (`Runtime::set_debug`); read once per iteration and poll.
    pub(crate) debug: AtomicBool,
    pub(crate) tuning: Tuning,
    /// The pending tasks the shutdown destroyed (reported, and counted).
    pub(crate) destroyed: crate::debug::DestroyedPending,
}

/// The part of one loop that other threads may touch.
pub(crate) struct Slot<I> {
    pub(crate) index: usize,
    pub(crate) stealer: Stealer<Notified>,
    pub(crate) inbox: Injector<I>,
    pub(crate) driver: Box<dyn Driver>,
    pub(crate) park: ParkFlag,
    /// Read by event stealers; on a cache line of its own, since the loop
    /// writes it every iteration and producers read `park` on every
    /// submission.
    pub(crate) hints: CachePadded<StealHints>,
    pub(crate) counters: Counters,
    /// Debug mode: what the loop runs right now (see [`Slot::activity`]).
    pub(crate) activity: CachePadded<Activity>,
    /// Debug mode: the loop's flight recorder (see [`Slot::recent_events`]).
    pub(crate) recorder: Ring,
}

// Read by the task dump (issue 13's introspection) at merge time, and by the
// tests here; the watchdog uses `inspect_activity`.
#[cfg_attr(not(test), allow(dead_code))]
/// What a loop is running right now and since when (debug mode): the
/// watchdog's "blocked" report and the task dump read it from any thread.
#[derive(Clone, Debug)]
pub(crate) struct ActivitySnapshot {
    /// The loop's index.
    pub(crate) index: usize,
    /// The running task's repr (`TaskMeta`'s `Display`, with its spawn
    /// site), or `<Callback scheduled at src/x.rs:7:5>`.
    pub(crate) what: String,
    /// The running task's id (`None` for a callback).
    pub(crate) task: Option<u64>,
    /// When the poll or callback started.
    pub(crate) since: Instant,
    /// How long it has run when the snapshot was taken.
    pub(crate) running_for: Duration,
    /// The loop's thread name.
    pub(crate) thread: String,
    /// Pinned tasks queued on the loop (at the run's start, plus those
    /// queued since), plus items in its inbox now: work no sibling may
    /// take, waiting for the run to end.
    pub(crate) pinned_waiting: usize,
    /// Stealable tasks in the loop's deque now (siblings may steal them).
    pub(crate) stealable_waiting: usize,
    /// Whether the watchdog has already reported this run as blocked.
    pub(crate) reported: bool,
}

impl fmt::Display for ActivitySnapshot {
    /// `loop 1 blocked for 3.20 s running <Task …>`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "loop {} blocked for {:.2} s running {}",
            self.index,
            self.running_for.as_secs_f64(),
            self.what
        )
    }
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
/// read-modify-write: no shared atomics on the hot path), read by anyone.
/// A figure about two loops is counted by the one whose thread saw it: the
/// thief counts its steals per victim (`stolen_from`), and a loop's "steals
/// out" is the sum of its siblings' entries for it ([`Scheduler::stolen_from`]).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) polls: AtomicU64,
    pub(crate) spawned: AtomicU64,
    pub(crate) stolen: AtomicU64,
    pub(crate) from_injector: AtomicU64,
    pub(crate) parks: AtomicU64,
    pub(crate) timers_fired: AtomicU64,
    pub(crate) inbox_items: AtomicU64,
    pub(crate) event_steals: AtomicU64,
    /// Callbacks run (`call_soon*`, due `call_later` / `call_at`).
    pub(crate) callbacks: AtomicU64,
    /// Debug mode: the longest task poll, in `debug::clock` ticks.
    pub(crate) longest_poll_ticks: AtomicU64,
    /// Tasks this loop stole, per victim loop.
    pub(crate) stolen_from: Box<[AtomicU64]>,
    /// Loop-local calls aimed at this loop from another thread and routed
    /// through the thread-safe path (production). The one counter with
    /// many writers: `fetch_add` by the calling thread, off the hot path
    /// (a misuse's fallback).
    pub(crate) wrong_thread_calls: AtomicU64,
}

impl Counters {
    /// The counters of one loop of `loops`.
    pub(crate) fn new(loops: usize) -> Counters {
        Counters {
            stolen_from: (0..loops).map(|_| AtomicU64::new(0)).collect(),
            ..Counters::default()
        }
    }

    /// Single-writer increment.
    #[inline]
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.store(counter.load(Relaxed) + n, Relaxed);
    }
}

impl<I: InboxItem> Scheduler<I> {
    /// The scheduling state of `drivers.len()` loops; `stealers[i]` is loop
    /// `i`'s deque, whose `Worker` its thread owns.
    pub(crate) fn new(
        stealers: Vec<Stealer<Notified>>,
        drivers: Vec<Box<dyn Driver>>,
        debug: bool,
        tuning: Tuning,
    ) -> Scheduler<I> {
        assert_eq!(stealers.len(), drivers.len());
        let n = drivers.len();
        let loops = stealers
            .into_iter()
            .zip(drivers)
            .enumerate()
            .map(|(index, (stealer, driver))| Slot {
                index,
                stealer,
                inbox: Injector::new(),
                driver,
                park: ParkFlag::new(),
                hints: Default::default(),
                counters: Counters::new(n),
                activity: Default::default(),
                recorder: Ring::new(),
            })
            .collect();
        Scheduler {
            injector: Injector::new(),
            idle: Idle::new(n),
            gate: Gate::new(),
            loops,
            debug: AtomicBool::new(debug),
            tuning,
            destroyed: Default::default(),
        }
    }

    pub(crate) fn num_loops(&self) -> usize {
        self.loops.len()
    }

    pub(crate) fn is_debug(&self) -> bool {
        self.debug.load(Relaxed)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.gate.is_closed()
    }

    /// Pushes a task to the global injector and wakes a parked loop if no
    /// loop is searching.
    pub(crate) fn push_remote(&self, task: Notified) {
        self.injector.push(task);
        self.notify_parked();
    }

    /// The producer side of the idle protocol (see `scheduler::idle`): the
    /// `SeqCst` fence in `Idle::notify_one` pairs with the one in
    /// `Idle::transition_to_parked`, so the push above is seen by a parking
    /// loop's re-check or the parked loop is seen here.
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

    /// Submits a new stealable task from outside this runtime's loops:
    /// through the gate onto the injector. On a closed runtime the task is
    /// cancelled at once (its joiner sees `Cancelled`); whether it was
    /// accepted.
    pub(crate) fn submit(&self, task: Notified) -> bool {
        match self.gate.enter() {
            Some(_pass) => {
                self.push_remote(task);
                true
            }
            None => {
                task.shutdown();
                false
            }
        }
    }

    /// Submits a new task pinned to loop `index` from another thread:
    /// through the gate into the loop's inbox. On a closed runtime the task
    /// is cancelled at once; whether it was accepted.
    pub(crate) fn submit_to(&self, index: usize, task: Notified) -> bool {
        match self.gate.enter() {
            Some(_pass) => {
                self.loops[index].send(I::task(task));
                true
            }
            None => {
                task.shutdown();
                false
            }
        }
    }

    /// Shutdown's first step: closes the gate (waiting for submitters inside
    /// it, so every accepted item is in a queue) and wakes every loop, which
    /// sees the gate closed and runs its shutdown passes. Whether this call
    /// closed it.
    pub(crate) fn close(&self) -> bool {
        let closed = self.gate.close();
        for l in self.loops.iter() {
            l.driver.notify();
        }
        closed
    }

    /// How many tasks siblings have stolen from loop `index`'s deque (its
    /// "steals out"), summed from the thieves' own counters.
    pub(crate) fn stolen_from(&self, index: usize) -> u64 {
        self.loops
            .iter()
            .map(|l| l.counters.stolen_from[index].load(Relaxed))
            .sum()
    }

    /// Loop `index`'s last `n` scheduling events, oldest first, with its
    /// siblings' steals from its deque merged in as `StealOut` (a steal is
    /// recorded by the thief). Empty unless debug mode was on. Any thread,
    /// without stopping any loop: the task dump and the watchdog's report.
    pub(crate) fn loop_events(&self, index: usize, n: usize) -> Vec<Event> {
        let now = clock::now();
        let own = self.loops[index].recorder.read(n, now);
        let oldest = own.first().map_or(0, |e| e.at);
        let mut outs: Vec<Event> = Vec::new();
        for sibling in self.loops.iter().filter(|l| l.index != index) {
            for e in sibling.recorder.read(crate::debug::recorder::CAPACITY, now) {
                if let EventKind::StealIn { from, count } = e.kind {
                    if from as usize == index && e.at >= oldest {
                        outs.push(Event {
                            kind: EventKind::StealOut {
                                to: sibling.index as u32,
                                count,
                            },
                            ..e
                        });
                    }
                }
            }
        }
        outs.sort_by_key(|e| e.at);
        // Merged by time, the loop's own events kept in their order (some
        // carry an approximate time, see `debug::recorder`).
        let mut events = Vec::with_capacity(own.len() + outs.len());
        let mut outs = outs.into_iter().peekable();
        for e in own {
            while let Some(o) = outs.next_if(|o| o.at <= e.at) {
                events.push(o);
            }
            events.push(e);
        }
        events.extend(outs);
        let extra = events.len().saturating_sub(n);
        events.drain(..extra);
        events
    }

    /// Whether any sibling of `index` has tasks in its deque.
    pub(crate) fn siblings_have_tasks(&self, index: usize) -> bool {
        self.loops
            .iter()
            .any(|l| l.index != index && !l.stealer.is_empty())
    }
}

impl<I: InboxItem> Slot<I> {
    /// What this loop is running right now and since when, if it runs a
    /// task poll or a callback (debug mode only: `None` otherwise). Safe
    /// from any thread while the loop runs: the task is read only while
    /// its poll cannot end (see `debug::activity`). Does not mark the run
    /// as reported (the watchdog uses [`Slot::inspect_activity`]).
    pub(crate) fn activity(&self) -> Option<ActivitySnapshot> {
        self.inspect_activity(None)
    }

    /// [`Slot::activity`]; `report`: the start tick of the run the watchdog
    /// reports, marked reported if it is still running (its end is then
    /// logged by the loop).
    pub(crate) fn inspect_activity(&self, report: Option<u64>) -> Option<ActivitySnapshot> {
        let seen = self.activity.inspect(report, |running| match running {
            Running::Task(header) => {
                // SAFETY: `inspect` runs this only while the poll that
                // published `header` cannot end, and the polling loop
                // holds a reference to the task until it has ended.
                let header = unsafe { &*(header as *const Header) };
                (header.to_string(), Some(header.meta.id.as_u64()))
            }
            Running::Callback(site) => (format!("<Callback scheduled at {site}>"), None),
        })?;
        let ((what, task), since) = (seen.value, seen.since);
        Some(ActivitySnapshot {
            index: self.index,
            what,
            task,
            since: clock::instant_of(since),
            running_for: clock::since(since),
            thread: self.activity.thread().to_owned(),
            pinned_waiting: seen.pinned_waiting + self.inbox.len(),
            stealable_waiting: self.stealer.len(),
            reported: seen.reported,
        })
    }

    /// This loop's last `n` scheduling events (at most
    /// `debug::recorder::CAPACITY`), oldest first; empty unless debug mode
    /// was on. Any thread, without stopping the loop.
    pub(crate) fn recent_events(&self, n: usize) -> Vec<Event> {
        self.recorder.read(n, clock::now())
    }

    /// Takes every item in the inbox and hands it to `f` (the closer's
    /// last step for a loop that has finished its shutdown).
    pub(crate) fn drain_inbox(&self, mut f: impl FnMut(I)) {
        while let Steal::Success(item) = self.inbox.steal() {
            f(item);
        }
    }

    /// Pushes to this loop's inbox and wakes the loop if it is parked: the
    /// fence in `ParkFlag::should_notify` pairs with the one in
    /// `ParkFlag::prepare_park`.
    pub(crate) fn send(&self, item: I) {
        self.inbox.push(item);
        if self.park.should_notify() {
            self.driver.notify();
        }
    }
}

// The answers other code acts on, read from a `Scheduler` built by hand (no
// loop runs): which queues `siblings_have_tasks` looks at, what the shared
// driver forwards, the debug flag, the closer's inbox sweep. The loops that
// act on them change only the spread of work or its cost, which the
// integration tests cannot see without timing (TESTING.md, `shared.rs`).
#[cfg(test)]
#[cfg(not(loopwork_loom))]
mod tests {
    use super::super::queue::Worker;
    use super::*;
    use crate::task::{new_task, Schedule, TaskKind, TaskMeta};
    use std::panic::Location;
    use std::sync::atomic::AtomicUsize;

    /// A driver that only answers `has_sources` and counts its notifies.
    struct TestDriver {
        sources: bool,
        notified: Arc<AtomicUsize>,
    }

    impl Driver for TestDriver {
        fn notify(&self) {
            self.notified.fetch_add(1, SeqCst);
        }
        fn has_sources(&self) -> bool {
            self.sources
        }
        fn steal_events(&self) -> bool {
            false
        }
    }

    /// An inbox item that is either a task or a number.
    enum Item {
        Task(Notified),
        Value(u32),
    }

    impl InboxItem for Item {
        fn task(task: Notified) -> Item {
            Item::Task(task)
        }
        fn into_task(self) -> Result<Notified, Item> {
            match self {
                Item::Task(t) => Ok(t),
                other => Err(other),
            }
        }
    }

    struct NoSchedule;

    impl Schedule for NoSchedule {
        fn schedule(&self, task: Notified) {
            task.shutdown();
        }
    }

    fn task() -> Notified {
        new_task(
            std::future::pending::<()>(),
            NoSchedule,
            TaskMeta::new(None, Location::caller(), TaskKind::Stealable),
        )
        .0
    }

    /// `n` loops whose deques the test owns; not in debug mode.
    fn scheduler(n: usize) -> (Scheduler<Item>, Vec<Worker<Notified>>) {
        let workers: Vec<Worker<Notified>> = (0..n).map(|_| Worker::new_fifo()).collect();
        let drivers = (0..n)
            .map(|_| {
                Box::new(TestDriver {
                    sources: false,
                    notified: Arc::new(AtomicUsize::new(0)),
                }) as Box<dyn Driver>
            })
            .collect();
        let tuning = Tuning {
            spin: Duration::ZERO,
            stall: Duration::from_secs(1),
            slow_poll: Duration::from_secs(1),
        };
        let sched = Scheduler::new(
            workers.iter().map(Worker::stealer).collect(),
            drivers,
            false,
            tuning,
        );
        (sched, workers)
    }

    #[test]
    fn siblings_have_tasks_sees_a_siblings_deque_and_not_the_loops_own() {
        let (sched, workers) = scheduler(3);
        assert!(!sched.siblings_have_tasks(0), "every deque is empty");
        workers[1].push(task());
        assert!(sched.siblings_have_tasks(0), "loop 1 is loop 0's sibling");
        assert!(sched.siblings_have_tasks(2), "and loop 2's");
        assert!(
            !sched.siblings_have_tasks(1),
            "loop 1's own deque is not a sibling's"
        );
        workers[1].pop().unwrap().shutdown();
    }

    #[test]
    fn a_shared_driver_forwards_has_sources_and_notify() {
        let notified = Arc::new(AtomicUsize::new(0));
        for sources in [false, true] {
            let driver = Arc::new(TestDriver {
                sources,
                notified: notified.clone(),
            });
            assert_eq!(Driver::has_sources(&driver), sources);
            assert!(!Driver::steal_events(&driver));
            Driver::notify(&driver);
        }
        assert_eq!(notified.load(SeqCst), 2);
    }

    #[test]
    fn is_debug_reports_the_flag_it_was_built_with_and_set_to() {
        let (sched, _workers) = scheduler(1);
        assert!(!sched.is_debug(), "built with debug off");
        sched.debug.store(true, Relaxed);
        assert!(sched.is_debug());
    }

    #[test]
    fn stolen_from_sums_every_thiefs_count_for_the_victim() {
        let (sched, _workers) = scheduler(3);
        Counters::add(&sched.loops[0].counters.stolen_from[1], 2);
        Counters::add(&sched.loops[2].counters.stolen_from[1], 3);
        Counters::add(&sched.loops[1].counters.stolen_from[0], 7);
        assert_eq!(sched.stolen_from(1), 5);
        assert_eq!(sched.stolen_from(0), 7);
        assert_eq!(sched.stolen_from(2), 0);
    }

    #[test]
    fn loop_events_merge_in_the_siblings_steals_from_this_loop_by_time() {
        let (sched, _workers) = scheduler(3);
        let wake = |task| EventKind::Wake { task };
        sched.loops[0].recorder.record(10, wake(1));
        sched.loops[0].recorder.record(30, wake(2));
        // Loop 1 stole from loop 0 at 20, and from loop 2 at 25.
        sched.loops[1]
            .recorder
            .record(20, EventKind::StealIn { from: 0, count: 4 });
        sched.loops[1]
            .recorder
            .record(25, EventKind::StealIn { from: 2, count: 1 });
        // Loop 2 stole from loop 0 before loop 0's oldest event kept.
        sched.loops[2]
            .recorder
            .record(5, EventKind::StealIn { from: 0, count: 9 });
        let seen: Vec<(u64, EventKind)> = sched
            .loop_events(0, 10)
            .iter()
            .map(|e| (e.at, e.kind))
            .collect();
        assert_eq!(
            seen,
            [
                (10, wake(1)),
                (20, EventKind::StealOut { to: 1, count: 4 }),
                (30, wake(2)),
            ]
        );
    }

    #[test]
    fn a_loops_activity_counts_its_queued_pinned_tasks_and_inbox_items_as_waiting() {
        let (sched, _workers) = scheduler(1);
        let slot = &sched.loops[0];
        assert!(slot.activity().is_none(), "nothing running");
        slot.activity
            .start_callback(Location::caller(), crate::debug::clock::now());
        slot.activity.set_pinned_waiting(2);
        for v in 0..3 {
            slot.send(Item::Value(v));
        }
        let seen = slot.activity().expect("a callback runs");
        assert_eq!(seen.pinned_waiting, 2 + 3);
        assert_eq!(seen.task, None);
        slot.activity.end();
        slot.drain_inbox(drop);
    }

    #[test]
    fn drain_inbox_hands_over_every_item_in_order() {
        let (sched, _workers) = scheduler(2);
        let slot = &sched.loops[1];
        slot.send(Item::Value(1));
        slot.send(Item::task(task()));
        slot.send(Item::Value(3));
        let mut seen = Vec::new();
        slot.drain_inbox(|item| match item.into_task() {
            Ok(t) => {
                t.shutdown();
                seen.push(0);
            }
            Err(Item::Value(v)) => seen.push(v),
            Err(Item::Task(_)) => unreachable!("into_task returns tasks as Ok"),
        });
        assert_eq!(seen, [1, 0, 3]);
        assert!(slot.inbox.is_empty());
    }
}
