//! loom models of loopwork's concurrency protocols.
//!
//! Build and run with `RUSTFLAGS="--cfg loopwork_loom"` (see `README.md`).
//! Without that cfg this crate is empty and its tests compile to nothing, so
//! a plain `cargo test --workspace` stays honest: it runs no model and claims
//! none.
//!
//! # What is real and what is harness
//!
//! **Real code** (reached through `loopwork::__loom`, thin forwarding
//! wrappers only): the task state word, the raw task's poll / complete /
//! cancel / join / waker paths, the idle protocol (`Idle`), the park flag
//! (`ParkFlag`), the parking sequence `park_loop` that `LoopCore::park` runs,
//! the I/O event stealer's side `poll_sibling` that `LoopCore::steal_events`
//! runs, the shutdown gate (`Gate`), and the run queues' loom stand-in (the same
//! interface as crossbeam-deque, capacity 4, lock-free emptiness checks).
//!
//! **Harness** (this crate): [`Parker`], a loom-modelled stand-in for
//! `polling::Poller` with the same deduplicated notify / wait (and, with
//! event stealing, its wait lock and a sibling's zero-timeout wait,
//! [`Parker::steal_wait`]); the model loop [`Rt::run_loop`], which follows
//! `LoopCore::run_once` step by step (drain inbox, run local work, search —
//! with event stealing through the real `poll_sibling` when built by
//! [`Rt::new_with_event_stealing`] — park through the real `park_loop`),
//! and the producers' side ([`Rt::push_remote`], [`Rt::send`]), which mirror
//! `Shared::push_remote` / `LoopShared::send` line for line; the test
//! schedulers; futures that count their polls and drops.
#![cfg(loopwork_loom)]

use loom::sync::atomic::{
    AtomicBool, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release, SeqCst},
};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use loopwork::__loom::{
    new_task, park_loop, poll_sibling, Gate, Idle, Injector, Notified, ParkFlag, Schedule, Steal,
    Stealer, Task, Worker,
};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};

/// Runs `f` under loom's model checker.
///
/// `LOOM_MAX_PREEMPTIONS` (and every other `LOOM_*` variable) is honoured;
/// when it is unset the bound defaults to 2, the depth CI runs at, so a bare
/// `cargo test` stays fast. The models need no debug assertions: every check
/// is an `assert!`, so they run the same in `--release`.
pub fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.check(f);
}

// ===== counting futures =====

/// Counts drops of the value it is part of. Holds a loom `Arc`, so a value
/// that is leaked (never dropped) fails the model through loom's leak check.
pub struct DropCount(Arc<AtomicUsize>);

impl DropCount {
    /// A counter and the handle that increments it when dropped.
    pub fn new() -> (Arc<AtomicUsize>, DropCount) {
        let count = Arc::new(AtomicUsize::new(0));
        (count.clone(), DropCount(count))
    }
}

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// What a task future returns: dropping it counts one output drop.
pub struct Output(#[allow(dead_code)] DropCount);

/// Counters shared by a model and its task's future.
#[derive(Clone)]
pub struct Counters {
    /// Polls of the future.
    pub polls: Arc<AtomicUsize>,
    /// Drops of the future (must end at exactly 1).
    pub future_drops: Arc<AtomicUsize>,
    /// Drops of the output (exactly 1 if the task completed with a value).
    pub output_drops: Arc<AtomicUsize>,
}

impl Counters {
    fn new() -> (Counters, DropCount) {
        let (future_drops, guard) = DropCount::new();
        let c = Counters {
            polls: Arc::new(AtomicUsize::new(0)),
            future_drops,
            output_drops: Arc::new(AtomicUsize::new(0)),
        };
        (c, guard)
    }

    fn output(&self) -> Output {
        Output(DropCount(self.output_drops.clone()))
    }

    /// Polls so far.
    pub fn polls(&self) -> usize {
        self.polls.load(SeqCst)
    }
    /// Future drops so far.
    pub fn future_drops(&self) -> usize {
        self.future_drops.load(SeqCst)
    }
    /// Output drops so far.
    pub fn output_drops(&self) -> usize {
        self.output_drops.load(SeqCst)
    }
}

/// How a [`TestFuture`] behaves.
pub enum Behaviour {
    /// `Ready` at the first poll.
    Ready,
    /// Wakes itself by reference and returns `Pending` `n` times, then `Ready`
    /// (as `yield_now().await` `n` times).
    Yield(usize),
    /// `Pending` until the [`Signal`] fires.
    Wait(Arc<Signal>),
}

/// A future that counts its polls and drops and behaves as told.
pub struct TestFuture {
    behaviour: Behaviour,
    counters: Counters,
    _guard: DropCount,
}

impl TestFuture {
    /// A future and its counters.
    pub fn new(behaviour: Behaviour) -> (TestFuture, Counters) {
        let (counters, guard) = Counters::new();
        let fut = TestFuture {
            behaviour,
            counters: counters.clone(),
            _guard: guard,
        };
        (fut, counters)
    }
}

impl Future for TestFuture {
    type Output = Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Output> {
        let polls = self.counters.polls.fetch_add(1, SeqCst) + 1;
        match &self.behaviour {
            Behaviour::Ready => Poll::Ready(self.counters.output()),
            Behaviour::Yield(n) if polls <= *n => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Behaviour::Yield(_) => Poll::Ready(self.counters.output()),
            Behaviour::Wait(signal) => {
                if signal.register(cx.waker()) {
                    Poll::Ready(self.counters.output())
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl Unpin for TestFuture {}

/// A one-shot event with a registered waker: the minimal correct "I/O
/// source". `fire` sets the flag then takes and wakes the waker; `register`
/// stores the waker then re-checks the flag, so a fire is never missed.
#[derive(Default)]
pub struct Signal {
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Signal {
    /// A signal that has not fired.
    pub fn new() -> Arc<Signal> {
        Arc::new(Signal::default())
    }

    /// Fires: wakes (by value) the registered waker, if any.
    pub fn fire(&self) {
        self.fired.store(true, SeqCst);
        let waker = self.waker.lock().unwrap().take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Registers `waker`; `true` if the signal has fired.
    fn register(&self, waker: &Waker) -> bool {
        if self.fired.load(SeqCst) {
            return true;
        }
        *self.waker.lock().unwrap() = Some(waker.clone());
        self.fired.load(SeqCst)
    }
}

/// A waker that counts its wakes.
pub struct CountingWaker {
    wakes: AtomicUsize,
}

impl CountingWaker {
    /// A counter and a `Waker` that bumps it.
    pub fn new() -> (std::sync::Arc<CountingWaker>, Waker) {
        let inner = std::sync::Arc::new(CountingWaker {
            wakes: AtomicUsize::new(0),
        });
        (inner.clone(), Waker::from(inner))
    }

    /// Wakes so far.
    pub fn wakes(&self) -> usize {
        self.wakes.load(SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wakes.fetch_add(1, SeqCst);
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.wakes.fetch_add(1, SeqCst);
    }
}

/// Polls a join handle once with `waker`.
pub fn poll_join<T>(task: &mut Task<T>, waker: &Waker) -> Poll<Result<T, loopwork::TaskError>> {
    Pin::new(task).poll(&mut Context::from_waker(waker))
}

// ===== a single-queue scheduler for the task-state models =====

/// The simplest `Schedule`: a FIFO the model drains by hand. It asserts the
/// state word's promise that one task is never queued twice at once.
#[derive(Clone, Default)]
pub struct QueueScheduler {
    queue: Arc<Mutex<VecDeque<Notified>>>,
    /// How many times the task was handed to the scheduler.
    pub scheduled: Arc<AtomicUsize>,
}

impl Schedule for QueueScheduler {
    fn schedule(&self, task: Notified) {
        self.scheduled.fetch_add(1, SeqCst);
        let mut q = self.queue.lock().unwrap();
        assert!(
            q.iter().all(|t| t.id() != task.id()),
            "a task was queued twice for one wake"
        );
        q.push_back(task);
    }
}

impl QueueScheduler {
    /// A scheduler with an empty queue.
    pub fn new() -> QueueScheduler {
        QueueScheduler::default()
    }

    /// Runs queued tasks until the queue is empty; returns how many ran.
    pub fn drain(&self) -> usize {
        let mut n = 0;
        loop {
            let next = self.queue.lock().unwrap().pop_front();
            match next {
                Some(t) => {
                    t.run();
                    n += 1;
                }
                None => return n,
            }
        }
    }
}

/// Spawns a [`TestFuture`] task on a [`QueueScheduler`].
pub fn spawn_test(
    behaviour: Behaviour,
    scheduler: &QueueScheduler,
) -> (Notified, Task<Output>, Counters) {
    let (fut, counters) = TestFuture::new(behaviour);
    let (notified, task) = new_task(fut, scheduler.clone());
    (notified, task, counters)
}

// ===== the loom parker: the poller's stand-in =====

/// Stand-in for `polling::Poller` under loom: `notify` is deduplicated and
/// sticky (a notify before `wait` makes the next `wait` return at once), and
/// `wait` consumes it, exactly the contract `LoopCore` relies on. There is no
/// timeout: the models arm no timers, so a loop that should have been woken
/// and was not blocks for ever, and loom reports the deadlock.
///
/// With event stealing ([`Parker::with_wait_lock`]) it also models the
/// poller's wait lock: `Poller::wait` try-locks an internal mutex and, if
/// another thread holds it, returns at once with no events and leaves the
/// notification alone; whoever waits clears the notification. The owner's
/// [`wait`](Parker::wait) holds the lock while it blocks; a sibling's
/// zero-timeout [`steal_wait`](Parker::steal_wait) takes it, consumes any
/// pending notification and releases it, as three separate steps. Without
/// stealers nobody else ever waits on a loop's poller, the try-lock always
/// succeeds, and the plain `Parker` (no lock, fewer loom steps) is exact.
#[derive(Default)]
pub struct Parker {
    notified: Mutex<bool>,
    cv: Condvar,
    /// `Poller`'s internal wait lock (`polling` try-locks a `Mutex<()>`; an
    /// atomic try-lock here, so that taking it and releasing it are each a
    /// loom step); `None`: not modelled (no stealers).
    wait_lock: Option<AtomicBool>,
}

impl Parker {
    /// A parker whose `wait` can be raced by [`steal_wait`](Parker::steal_wait):
    /// models the poller's wait lock.
    pub fn with_wait_lock() -> Parker {
        Parker {
            wait_lock: Some(AtomicBool::new(false)),
            ..Parker::default()
        }
    }

    /// Wakes the waiting loop, or makes its next `wait` return at once.
    pub fn notify(&self) {
        let mut n = self.notified.lock().unwrap();
        if !*n {
            *n = true;
            self.cv.notify_one();
        }
    }

    /// The owner's `Poller::wait` with no timeout: blocks until notified, and
    /// consumes the notification. Returns `false`, at once and without
    /// consuming anything, if a stealer holds the wait lock (`polling`'s
    /// `Ok(0)`: the loop goes round again).
    pub fn wait(&self) -> bool {
        if let Some(lock) = &self.wait_lock {
            if !try_lock(lock) {
                return false;
            }
        }
        let mut n = self.notified.lock().unwrap();
        while !*n {
            n = self.cv.wait(n).unwrap();
        }
        *n = false;
        drop(n);
        if let Some(lock) = &self.wait_lock {
            lock.store(false, Release);
        }
        true
    }

    /// A sibling's zero-timeout `Poller::wait` (I/O event stealing): returns
    /// `false` at once if the owner is waiting (holds the wait lock);
    /// otherwise takes the lock, consumes any pending notification (the
    /// notify may have been meant for the owner) and releases the lock, each
    /// a step of its own so the owner's `wait` can land between them.
    /// Returns whether it took the lock.
    ///
    /// # Panics
    ///
    /// On a parker made without [`Parker::with_wait_lock`].
    pub fn steal_wait(&self) -> bool {
        let lock = self
            .wait_lock
            .as_ref()
            .expect("steal_wait needs Parker::with_wait_lock");
        if !try_lock(lock) {
            return false;
        }
        *self.notified.lock().unwrap() = false;
        lock.store(false, Release);
        true
    }
}

/// `Mutex::try_lock` on the poller's wait lock.
fn try_lock(lock: &AtomicBool) -> bool {
    lock.compare_exchange(false, true, Acquire, Relaxed).is_ok()
}

// ===== the model runtime and loop =====

/// What a loop's inbox carries in the models (the runtime's `InboxItem::Call`
/// is a closure; an id is enough to check exactly-once).
pub type InboxItem = usize;

/// The part of one model loop other threads touch (`LoopShared`).
pub struct LoopSlot {
    /// Siblings steal from this loop's deque through it.
    pub stealer: Stealer<Notified>,
    /// Items sent to this loop from other threads.
    pub inbox: Injector<InboxItem>,
    /// The real park flag.
    pub park: ParkFlag,
    /// The poller's stand-in.
    pub parker: Parker,
}

/// The model runtime: the real `Idle`, `Gate` (closed = shut down, as
/// `Shared::is_closed`) and queues, plus harness bookkeeping.
pub struct Rt {
    /// The real idle protocol.
    pub idle: Idle,
    /// The global injector (the real queue type).
    pub injector: Injector<Notified>,
    /// The real shutdown gate; `close` ends the model loops.
    pub gate: Gate,
    /// One slot per loop.
    pub loops: Vec<LoopSlot>,
    /// Inbox items handled, by id, in order.
    pub handled: Mutex<Vec<InboxItem>>,
    /// Units of work (task completions + inbox items) still expected; the loop
    /// that finishes the last one shuts the model runtime down.
    pub remaining: AtomicUsize,
    /// Whether a searching loop steals I/O events from its siblings
    /// (`LoopCore::steal_events`, through the real `poll_sibling`).
    pub event_stealing: bool,
}

/// The `Schedule` of stealable tasks woken off the loops: `Shared::push_remote`.
#[derive(Clone)]
pub struct RemoteScheduler(pub Arc<Rt>);

impl Schedule for RemoteScheduler {
    fn schedule(&self, task: Notified) {
        self.0.push_remote(task);
    }
}

/// A task that counts towards `Rt::remaining` when it completes.
struct Counted {
    inner: TestFuture,
    rt: Arc<Rt>,
}

impl Future for Counted {
    type Output = Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Output> {
        let out = Pin::new(&mut self.inner).poll(cx);
        if out.is_ready() {
            self.rt.work_done();
        }
        out
    }
}

impl Rt {
    /// A model runtime with `num_loops` loops, expecting `work` units of work.
    /// Returns it and each loop's `Worker` (owned by the loop's thread).
    pub fn new(num_loops: usize, work: usize) -> (Arc<Rt>, Vec<Worker<Notified>>) {
        Rt::build(num_loops, work, false)
    }

    /// As [`Rt::new`], with I/O event stealing: a searcher that finds nothing
    /// to run or steal makes a zero-timeout wait on each sibling's parker
    /// ([`Parker::steal_wait`]) through the real `poll_sibling`, and the
    /// parkers model the poller's wait lock ([`Parker::with_wait_lock`]).
    pub fn new_with_event_stealing(
        num_loops: usize,
        work: usize,
    ) -> (Arc<Rt>, Vec<Worker<Notified>>) {
        Rt::build(num_loops, work, true)
    }

    fn build(
        num_loops: usize,
        work: usize,
        event_stealing: bool,
    ) -> (Arc<Rt>, Vec<Worker<Notified>>) {
        let workers: Vec<Worker<Notified>> = (0..num_loops).map(|_| Worker::new_fifo()).collect();
        let loops = workers
            .iter()
            .map(|w| LoopSlot {
                stealer: w.stealer(),
                inbox: Injector::new(),
                park: ParkFlag::new(),
                parker: if event_stealing {
                    Parker::with_wait_lock()
                } else {
                    Parker::default()
                },
            })
            .collect();
        let rt = Arc::new(Rt {
            idle: Idle::new(num_loops),
            injector: Injector::new(),
            gate: Gate::new(),
            loops,
            handled: Mutex::new(Vec::new()),
            remaining: AtomicUsize::new(work),
            event_stealing,
        });
        (rt, workers)
    }

    /// Spawns a task from outside the loops: `spawn_stealable`'s remote path
    /// (through the gate, then `push_remote`).
    pub fn spawn_remote(rt: &Arc<Rt>, behaviour: Behaviour) -> (Task<Output>, Counters) {
        let (inner, counters) = TestFuture::new(behaviour);
        let fut = Counted {
            inner,
            rt: rt.clone(),
        };
        let (notified, task) = new_task(fut, RemoteScheduler(rt.clone()));
        match rt.gate.enter() {
            Some(_pass) => rt.push_remote(notified),
            None => notified.shutdown(),
        }
        (task, counters)
    }

    /// `Shared::push_remote`: push to the injector, then the producer side of
    /// the idle protocol.
    pub fn push_remote(&self, task: Notified) {
        self.injector.push(task);
        self.notify_parked();
    }

    /// `Shared::notify_parked`.
    pub fn notify_parked(&self) {
        if let Some(index) = self.idle.notify_one() {
            self.loops[index].parker.notify();
        }
    }

    /// `LoopShared::send`: push to loop `index`'s inbox, notify it if parked.
    pub fn send(&self, index: usize, item: InboxItem) {
        let l = &self.loops[index];
        l.inbox.push(item);
        if l.park.should_notify() {
            l.parker.notify();
        }
    }

    /// One unit of expected work finished; the last one shuts down, as
    /// `Runtime::shutdown` does: close the gate, notify every loop.
    fn work_done(&self) {
        if self.remaining.fetch_sub(1, SeqCst) == 1 {
            self.gate.close();
            for l in &self.loops {
                l.parker.notify();
            }
        }
    }

    /// The model loop: `LoopCore::run` / `run_once` with the timers, the
    /// pinned queue and the fairness budget left out (none of them take part
    /// in the park protocol). Runs until the model runtime is shut down.
    pub fn run_loop(&self, index: usize, worker: Worker<Notified>) {
        let me = &self.loops[index];
        let mut searching = false;
        while !self.gate.is_closed() {
            // 1. drain the inbox
            while let Steal::Success(item) = me.inbox.steal() {
                self.handled.lock().unwrap().push(item);
                self.work_done();
            }
            // 3. run local work
            if let Some(task) = worker.pop() {
                self.run_task(&worker, index, &mut searching, task);
                continue;
            }
            // 4. search, else park
            if let Some(task) = self.search(&worker, index, &mut searching) {
                self.run_task(&worker, index, &mut searching, task);
                continue;
            }
            let was_searching = std::mem::replace(&mut searching, false);
            let mut slept = false;
            searching = park_loop(
                &self.idle,
                &me.park,
                index,
                was_searching,
                || self.has_work(&worker, index),
                || slept = me.parker.wait(),
            );
            if !slept {
                // The re-check saw work, or (event stealing) a sibling held
                // the poller's wait lock and the wait returned at once: go
                // round again. With `Idle::keeps_awake` that work is local,
                // or shared work with no searcher (so this loop may search
                // next time round); the yield only keeps loom from exploring
                // needless spins.
                thread::yield_now();
            }
        }
        // The loop's final pass (`LoopCore::shutdown`): what is left is cancelled.
        if searching {
            self.idle.transition_from_searching();
        }
        while let Some(task) = worker.pop() {
            task.shutdown();
        }
    }

    /// `LoopCore::run_task`: a searcher that found work stops searching; the
    /// last searcher wakes another loop if work is left.
    fn run_task(
        &self,
        worker: &Worker<Notified>,
        index: usize,
        searching: &mut bool,
        task: Notified,
    ) {
        if std::mem::replace(searching, false) && self.idle.transition_from_searching() {
            self.notify_if_work_pending(worker, index);
        }
        task.run();
    }

    /// `LoopCore::notify_if_work_pending`.
    fn notify_if_work_pending(&self, worker: &Worker<Notified>, index: usize) {
        let pending = !self.injector.is_empty()
            || worker.len() > 1
            || self
                .loops
                .iter()
                .enumerate()
                .any(|(i, l)| i != index && !l.stealer.is_empty());
        if pending {
            self.notify_parked();
        }
    }

    /// `LoopCore::search`: become a searcher, take an injector batch, else
    /// steal half of a sibling's deque, else (with event stealing) steal a
    /// sibling's I/O events.
    fn search(
        &self,
        worker: &Worker<Notified>,
        index: usize,
        searching: &mut bool,
    ) -> Option<Notified> {
        if !*searching {
            if !self.idle.transition_to_searching() {
                return None;
            }
            *searching = true;
        }
        loop {
            let mut retry = false;
            match self.injector.steal_batch_and_pop(worker) {
                Steal::Success(t) => return Some(t),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            for (i, l) in self.loops.iter().enumerate() {
                if i == index {
                    continue;
                }
                match l.stealer.steal_batch_and_pop(worker) {
                    Steal::Success(t) => return Some(t),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return self.steal_events(index);
            }
        }
    }

    /// `LoopCore::steal_events`: a zero-timeout wait on each sibling's
    /// poller through the real `poll_sibling` (skipped while the sibling's
    /// park flag is up; re-notifies it if the flag is up after the wait).
    /// The models register no I/O sources, so no event is ever collected
    /// and no task woken: what the wait does is take the sibling's wait lock
    /// and consume its pending notification.
    fn steal_events(&self, index: usize) -> Option<Notified> {
        if !self.event_stealing {
            return None;
        }
        for (i, l) in self.loops.iter().enumerate() {
            if i == index {
                continue;
            }
            poll_sibling(
                &l.park,
                || {
                    l.parker.steal_wait();
                    false
                },
                || l.parker.notify(),
            );
        }
        None
    }

    /// `LoopCore::has_work`: the re-check before sleeping.
    fn has_work(&self, worker: &Worker<Notified>, index: usize) -> bool {
        let local =
            self.gate.is_closed() || !self.loops[index].inbox.is_empty() || !worker.is_empty();
        // The real rule, from the real code.
        self.idle.keeps_awake(local, || {
            !self.injector.is_empty()
                || self
                    .loops
                    .iter()
                    .enumerate()
                    .any(|(i, l)| i != index && !l.stealer.is_empty())
        })
    }
}
