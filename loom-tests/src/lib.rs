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
//! cancel / join / waker paths, and the whole scheduler of a loop —
//! [`Rt`] is `loopwork::__loom::Runtime`, the runtime's `Scheduler` with
//! each model loop running `LoopScheduler::run` (its iteration, search,
//! event stealing, spin, parking through `park_loop`, and shutdown passes),
//! the real `Schedule` hooks, spawn paths (`Scheduler::spawn`,
//! `Scheduler::submit_to`), inbox sends (`Slot::send`) and close
//! (`Scheduler::close`), with loopwork's own loom stand-in for the poller
//! (`reactor::parker`) — plus the gate, queues, blocking pool, concurrent
//! future, callbacks, `Local`'s send-home and the readiness cache.
//!
//! **Harness** (this crate): the test schedulers ([`QueueScheduler`] for the
//! task-state models); futures and wakers that count their polls, drops and
//! wakes; [`spawn_remote`] / [`spawn_pinned`], which wrap a [`TestFuture`]
//! so its completion counts as model work; [`run_loops`]. No function here
//! restates runtime logic.
#![cfg(loopwork_loom)]

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::sync::{Arc, Mutex};
use loom::thread;
use loopwork::__loom::{new_task, Notified, Schedule, Task};
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

// ===== the model runtime =====

/// The model runtime: `loopwork::__loom::Runtime`, the runtime's real
/// scheduler with a loom-modelled poller (see its docs).
pub use loopwork::__loom::Runtime as Rt;

/// A task that counts towards the model runtime's expected work when it
/// completes.
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

fn counted(rt: &Arc<Rt>, behaviour: Behaviour) -> (Counted, Counters) {
    let (inner, counters) = TestFuture::new(behaviour);
    let fut = Counted {
        inner,
        rt: rt.clone(),
    };
    (fut, counters)
}

/// Spawns a stealable [`TestFuture`] task that counts as one unit of work
/// (the runtime's `spawn`: from a foreign thread, through the gate onto the
/// injector).
pub fn spawn_remote(rt: &Arc<Rt>, behaviour: Behaviour) -> (Task<Output>, Counters) {
    let (fut, counters) = counted(rt, behaviour);
    (rt.spawn(fut), counters)
}

/// Spawns a [`TestFuture`] task pinned to loop `index` that counts as one
/// unit of work (the runtime's `run_coroutine_threadsafe`: through the gate
/// into the loop's inbox).
pub fn spawn_pinned(rt: &Arc<Rt>, index: usize, behaviour: Behaviour) -> (Task<Output>, Counters) {
    let (fut, counters) = counted(rt, behaviour);
    (rt.spawn_pinned(index, fut), counters)
}

/// Runs loops `1..n` of `rt` on threads of their own and loop 0 on this
/// thread, until the model runtime closes; joins them.
pub fn run_loops(rt: &Arc<Rt>, n: usize) {
    let others: Vec<_> = (1..n)
        .map(|i| {
            let rt = rt.clone();
            thread::spawn(move || rt.run_loop(i))
        })
        .collect();
    rt.run_loop(0);
    for t in others {
        t.join().unwrap();
    }
}
