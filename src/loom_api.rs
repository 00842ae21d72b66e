//! Entry points for the loom models in `loom-tests/`; exists only under
//! `--cfg loopwork_loom` and is not part of the public API.
//!
//! Every item here is a thin newtype or function over the runtime's real
//! code: the task state word and raw task (`task::state`, `task::raw`), the
//! idle protocol (`scheduler::idle`), the shutdown gate (`scheduler::gate`),
//! the park flag and the parking sequence (`reactor::park`), the run
//! queues (`scheduler::queue`, whose loom stand-in replaces crossbeam), the
//! blocking pool, `ConcurrentFuture`'s shared state (`concurrent`), the
//! callbacks' cancel-versus-start state (`runtime::callbacks`) and
//! `Local<T>`'s send-home decision (`local::home`), and an I/O source's
//! readiness cache (`reactor::readiness`). The
//! wrappers forward calls and hold no logic of their own, so what loom
//! explores is the code the runtime runs.

use std::future::Future;
use std::panic::Location;
use std::task::Waker;

pub use crate::task::Task;

// ===== tasks =====

/// Where a model's woken tasks go: the model's stand-in for the runtime's
/// `StealableScheduler` / `PinnedScheduler`.
pub trait Schedule: Send + Sync + 'static {
    /// A task woken while idle (or cancelled) must be run.
    fn schedule(&self, task: Notified);

    /// A task woken during its own poll must be run again.
    fn yield_now(&self, task: Notified) {
        self.schedule(task);
    }
}

struct Adapter<S>(S);

impl<S: Schedule> crate::task::Schedule for Adapter<S> {
    fn schedule(&self, task: crate::task::Notified) {
        self.0.schedule(Notified(task));
    }

    fn yield_now(&self, task: crate::task::Notified) {
        self.0.yield_now(Notified(task));
    }
}

/// A task that should be polled (`crate::task::Notified`): owns one reference.
pub struct Notified(crate::task::Notified);

impl Notified {
    /// Polls the task, or carries out its cancellation (`Notified::run`).
    pub fn run(self) {
        self.0.run();
    }

    /// Cancels the task in place, as shutdown does (`Notified::shutdown`).
    pub fn shutdown(self) {
        self.0.shutdown();
    }

    /// A new waker for the task (`RawTask::waker`: takes a reference).
    pub fn waker(&self) -> Waker {
        self.0.raw().waker()
    }

    /// The task's id.
    pub fn id(&self) -> crate::task::TaskId {
        self.0.header().meta.id
    }
}

/// Creates a task (`task::new_task`): the first `Notified` and the join handle.
#[track_caller]
pub fn new_task<F, S>(future: F, scheduler: S) -> (Notified, Task<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let meta =
        crate::task::TaskMeta::new(None, Location::caller(), crate::task::TaskKind::Stealable);
    let (notified, task) = crate::task::new_task(future, Adapter(scheduler), meta);
    (Notified(notified), task)
}

// ===== the model runtime: the real scheduler with a modelled poller =====

/// What a model loop's inbox carries: the scheduler's tasks, or an id the
/// model checks is handled exactly once (the runtime's other inbox items
/// are closures; an id is enough).
enum Item {
    Task(crate::task::Notified),
    Id(usize),
    /// The runtime's `InboxItem::Call`: run on the loop, even during its
    /// shutdown (it may own a value that must be dropped there).
    Call(Box<dyn FnOnce() + Send>),
}

impl crate::scheduler::InboxItem for Item {
    fn task(task: crate::task::Notified) -> Item {
        Item::Task(task)
    }
    fn into_task(self) -> Result<crate::task::Notified, Item> {
        match self {
            Item::Task(task) => Ok(task),
            other => Err(other),
        }
    }
}

/// A model runtime: the runtime's real scheduler (`scheduler::Scheduler`,
/// each loop's `LoopScheduler::run` with its iteration, search, event
/// stealing, parking and shutdown passes, the real `Schedule` hooks and
/// spawn paths), with the loom parker (`reactor::parker`) in place of the
/// poller and no timers, callbacks or I/O. Bookkeeping for the models:
/// inbox ids handled, in order, and units of work still expected; the loop
/// that finishes the last one closes the runtime (`Scheduler::close`, as
/// `Runtime::shutdown` does).
pub struct Runtime {
    sched: Arc<crate::scheduler::Scheduler<Item>>,
    parkers: Vec<Arc<crate::reactor::parker::Parker>>,
    deques: Mutex<Vec<Option<crate::scheduler::queue::Worker<crate::task::Notified>>>>,
    handled: Mutex<Vec<usize>>,
    remaining: AtomicUsize,
    /// Per loop: its shutdown has finished (`LoopShared::closed`).
    closed: Vec<AtomicBool>,
}

use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use crate::sync::{Arc, Mutex};

impl Runtime {
    /// A model runtime with `num_loops` loops expecting `work` units of work
    /// (task completions reported with [`work_done`](Self::work_done), and
    /// inbox ids handled). Spinning off; with `event_stealing`, every
    /// sibling a candidate for I/O event stealing (a zero stall threshold)
    /// and parkers that model the poller's wait lock.
    pub fn new(num_loops: usize, work: usize, event_stealing: bool) -> Arc<Runtime> {
        use crate::reactor::parker::Parker;
        let deques: Vec<_> = (0..num_loops)
            .map(|_| crate::scheduler::queue::Worker::new_fifo())
            .collect();
        let parkers: Vec<Arc<Parker>> = (0..num_loops)
            .map(|_| {
                Arc::new(if event_stealing {
                    Parker::with_wait_lock()
                } else {
                    Parker::default()
                })
            })
            .collect();
        let sched = crate::scheduler::Scheduler::new(
            deques.iter().map(|d| d.stealer()).collect(),
            parkers
                .iter()
                .map(|p| Box::new(p.clone()) as Box<dyn crate::scheduler::Driver>)
                .collect(),
            false,
            crate::scheduler::Tuning {
                spin: std::time::Duration::ZERO,
                stall: std::time::Duration::ZERO,
                slow_poll: std::time::Duration::MAX,
            },
        );
        Arc::new(Runtime {
            sched: Arc::new(sched),
            parkers,
            deques: Mutex::new(deques.into_iter().map(Some).collect()),
            handled: Mutex::new(Vec::new()),
            remaining: AtomicUsize::new(work),
            closed: (0..num_loops).map(|_| AtomicBool::new(false)).collect(),
        })
    }

    /// Spawns a stealable task the runtime's way (`Scheduler::spawn`: onto
    /// the current loop's deque on a loop, otherwise through the gate onto
    /// the injector, cancelled at once if closed).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta =
            crate::task::TaskMeta::new(None, Location::caller(), crate::task::TaskKind::Stealable);
        let scheduler = crate::scheduler::StealableScheduler {
            shared: self.sched.clone(),
        };
        let (notified, task) = crate::task::new_task(future, scheduler, meta);
        self.sched.spawn(notified);
        task
    }

    /// Spawns a task pinned to loop `index` from another thread, the way
    /// `run_coroutine_threadsafe` does (`Scheduler::submit_to`).
    #[track_caller]
    pub fn spawn_pinned<F>(&self, index: usize, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = crate::task::TaskMeta::new(
            None,
            Location::caller(),
            crate::task::TaskKind::Pinned(index),
        );
        let scheduler = crate::scheduler::PinnedScheduler {
            shared: self.sched.clone(),
            owner: index,
        };
        let (notified, task) = crate::task::new_task(future, scheduler, meta);
        self.sched.submit_to(index, notified);
        task
    }

    /// Sends `id` to loop `index`'s inbox (`Slot::send`).
    pub fn send(&self, index: usize, id: usize) {
        self.sched.loops[index].send(Item::Id(id));
    }

    /// Runs loop `index` on this thread until the runtime closes, then its
    /// shutdown passes (`LoopScheduler::run`), then marks it closed (as
    /// `LoopCore::run` does).
    ///
    /// # Panics
    /// If loop `index` was already run.
    pub fn run_loop(&self, index: usize) {
        let deque = self.deques.lock()[index]
            .take()
            .expect("each model loop runs once");
        let sched = crate::scheduler::LoopScheduler::new(self.sched.clone(), index, deque);
        sched.run(&ModelHooks { rt: self, index });
        self.closed[index].store(true, SeqCst);
    }

    /// Whether loop `index` has finished its shutdown.
    pub fn is_loop_closed(&self, index: usize) -> bool {
        self.closed[index].load(SeqCst)
    }

    /// `Local::drop` off its owner loop `index`: the real
    /// `handoff::home::send_home` with this runtime's gate, the loop's
    /// `closed` flag and its inbox (an `InboxItem::Call`). Whether the value
    /// was sent.
    pub fn send_home<T: 'static>(&self, index: usize, value: T) -> bool {
        crate::handoff::home::send_home(value, &self.sched.gate, &self.closed[index], |call| {
            self.sched.loops[index].send(Item::Call(call))
        })
    }

    /// `Runtime::shutdown`'s last step for a closed loop
    /// (`Slot::drain_inbox`): what reached its inbox after its final pass
    /// is dropped on the closer's thread, unrun.
    pub fn drop_leftovers(&self, index: usize) {
        self.sched.loops[index].drain_inbox(drop);
    }

    /// One unit of expected work finished; the last one closes the runtime.
    pub fn work_done(&self) {
        if self.remaining.fetch_sub(1, SeqCst) == 1 {
            self.close();
        }
    }

    /// `Scheduler::close`: close the gate, wake every loop.
    pub fn close(&self) -> bool {
        self.sched.close()
    }

    /// Takes one task left in the injector (`Scheduler::pop_injector`), as
    /// `Runtime::shutdown` does after the loops' last pass.
    pub fn pop_injector(&self) -> Option<Notified> {
        self.sched.pop_injector().map(Notified)
    }

    /// The inbox ids handled, in order.
    pub fn handled(&self) -> Vec<usize> {
        self.handled.lock().clone()
    }

    /// Units of work still expected.
    pub fn remaining(&self) -> usize {
        self.remaining.load(SeqCst)
    }

    /// Loops searching for work (`Idle::num_searching`).
    pub fn num_searching(&self) -> usize {
        self.sched.idle.num_searching()
    }

    /// Loops not parked (`Idle::num_unparked`).
    pub fn num_unparked(&self) -> usize {
        self.sched.idle.num_unparked()
    }
}

/// The runtime's part of a model loop's iteration: inbox ids are recorded
/// and count as work done; no timers, callbacks or I/O; the wait is the
/// parker's.
struct ModelHooks<'a> {
    rt: &'a Runtime,
    index: usize,
}

impl crate::scheduler::LoopHooks<Item> for ModelHooks<'_> {
    fn handle(&self, item: Item) {
        match item {
            Item::Id(id) => {
                self.rt.handled.lock().push(id);
                self.rt.work_done();
            }
            Item::Call(f) => f(),
            Item::Task(_) => unreachable!("the scheduler takes the tasks"),
        }
    }
    fn fire_timers(&self) {}
    fn run_callbacks(&self) -> u32 {
        0
    }
    fn has_callbacks(&self) -> bool {
        false
    }
    fn next_timeout(&self) -> Option<std::time::Duration> {
        None
    }
    fn poll_events(&self, timeout: Option<std::time::Duration>) -> bool {
        // A busy loop's zero-timeout event check: there are no events to
        // collect, and the model does not consume a notify here.
        if timeout == Some(std::time::Duration::ZERO) {
            return false;
        }
        if !self.rt.parkers[self.index].wait() {
            // A sibling held the poller's wait lock: the wait returned at
            // once; yield so loom does not explore needless spins.
            crate::sync::thread::yield_now();
        }
        false
    }
    fn discard(&self, item: Item) {
        // As the runtime's loop: calls run even during shutdown.
        if let Item::Call(f) = item {
            f();
        }
    }
    fn clear(&self) -> bool {
        false
    }
}

// ===== the shutdown gate =====

/// `scheduler::gate::Gate`: remote submissions versus `close()`.
#[derive(Default)]
pub struct Gate(crate::scheduler::gate::Gate);

/// Proof of being inside the gate (`gate::Pass`); leaves on drop.
pub struct Pass<'a>(#[allow(dead_code)] crate::scheduler::gate::Pass<'a>);

impl Gate {
    /// An open gate.
    pub fn new() -> Gate {
        Gate(crate::scheduler::gate::Gate::new())
    }
    /// See `Gate::enter`.
    pub fn enter(&self) -> Option<Pass<'_>> {
        self.0.enter().map(Pass)
    }
    /// See `Gate::close`.
    pub fn close(&self) -> bool {
        self.0.close()
    }
    /// See `Gate::is_closed`.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
    /// See `Gate::wait_drained`.
    pub fn wait_drained(&self) {
        self.0.wait_drained()
    }
}

// ===== the run queues (loom stand-in for crossbeam-deque) =====

/// The result of a steal.
pub enum Steal<T> {
    /// The queue was empty.
    Empty,
    /// One item.
    Success(T),
    /// Lost a race; try again.
    Retry,
}

fn steal<T>(s: crate::scheduler::queue::Steal<T>) -> Steal<T> {
    match s {
        crate::scheduler::queue::Steal::Empty => Steal::Empty,
        crate::scheduler::queue::Steal::Success(t) => Steal::Success(t),
        crate::scheduler::queue::Steal::Retry => Steal::Retry,
    }
}

/// `scheduler::queue::Injector`: a multi-producer FIFO (global injector, inboxes).
pub struct Injector<T>(crate::scheduler::queue::Injector<T>);

impl<T> Default for Injector<T> {
    fn default() -> Self {
        Injector::new()
    }
}

impl<T> Injector<T> {
    /// An empty queue.
    pub fn new() -> Injector<T> {
        Injector(crate::scheduler::queue::Injector::new())
    }
    /// Appends an item.
    pub fn push(&self, t: T) {
        self.0.push(t)
    }
    /// Takes the oldest item.
    pub fn steal(&self) -> Steal<T> {
        steal(self.0.steal())
    }
    /// Whether it looks empty (lock-free, as crossbeam's).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

// Entry points for further protocols (blocking pool, ConcurrentFuture, Local)
// go below, one section each.

// ===== the blocking pool =====

/// The blocking pool (`runtime::blocking`): its wrappers live next to the
/// pool, in `src/runtime/blocking/loom_api.rs`.
pub use crate::runtime::blocking::loom_api as blocking;

// ===== ConcurrentFuture =====

pub use crate::handoff::ConcurrentFuture;
pub use crate::time::Elapsed;
pub use crate::task::TaskError;

/// The producing side of a `ConcurrentFuture`: the shared state
/// (`concurrent::Shared`) that `run_coroutine_threadsafe` keeps for its task.
pub struct Producer<T>(crate::sync::Arc<crate::handoff::concurrent::Shared<T>>);

/// A pending `ConcurrentFuture` and its producing side (`Shared::new`).
#[track_caller]
pub fn concurrent_future<T>() -> (Producer<T>, ConcurrentFuture<T>) {
    let shared = crate::handoff::concurrent::Shared::new();
    (
        Producer(shared.clone()),
        ConcurrentFuture::from_shared(shared, std::panic::Location::caller()),
    )
}

impl<T: Send + 'static> Producer<T> {
    /// See `Shared::resolve`: `false` (value dropped) if already resolved.
    pub fn resolve(&self, result: Result<T, TaskError>) -> bool {
        self.0.resolve(result)
    }

    /// See `Shared::set_task`: attach the producing task, or cancel it.
    pub fn set_task(&self, task: Task<()>) {
        self.0.set_task(task)
    }

    /// The real `Deliver` wrapper around `fut`: resolves with its value when
    /// it completes, or with `Cancelled` when dropped unfinished.
    pub fn deliver<F>(&self, fut: F) -> impl Future<Output = ()> + Send + 'static
    where
        F: Future<Output = T> + Send + 'static,
    {
        crate::handoff::concurrent::Deliver::new(fut, self.0.clone())
    }
}

// ===== call_soon_threadsafe callbacks: cancel versus start =====

/// `runtime::callbacks::CallbackHandle`: the handle `call_soon_threadsafe`
/// returns, cancellable from any thread.
#[derive(Clone)]
pub struct CallbackHandle(crate::runtime::callbacks::CallbackHandle);

impl CallbackHandle {
    /// A pending callback's handle (`CallbackHandle::pending`).
    pub fn pending() -> CallbackHandle {
        CallbackHandle(crate::runtime::callbacks::CallbackHandle::pending())
    }
    /// See `CallbackHandle::cancel`.
    pub fn cancel(&self) -> bool {
        self.0.cancel()
    }
    /// See `CallbackHandle::cancelled`.
    pub fn cancelled(&self) -> bool {
        self.0.cancelled()
    }

    /// The loop's side, as `LoopCore` runs a drained `InboxItem::Callback`:
    /// a `LocalCallback` over the shared state, then `LocalCallback::run`
    /// (which runs `f` only if `try_start` wins).
    #[track_caller]
    pub fn run_on_loop(&self, f: impl FnOnce() + 'static) {
        use crate::runtime::callbacks::{CallbackState, LocalCallback};
        LocalCallback {
            f: Box::new(f),
            state: CallbackState::Shared(self.0.state.clone()),
            location: Location::caller(),
        }
        .run(0);
    }
}

// ===== Local<T> dropped on a foreign thread =====

/// `local::home::send_home`, the decision `Local::drop` makes off its owner
/// thread: through `gate`, unless the owner has `closed`, `send` gets a call
/// that drops `value` when the owner runs it; otherwise `value` is leaked.
/// Returns whether it was sent.
pub fn send_home<T: 'static>(
    value: T,
    gate: &Gate,
    owner_closed: &crate::sync::atomic::AtomicBool,
    send: impl FnOnce(Box<dyn FnOnce() + Send>),
) -> bool {
    crate::handoff::home::send_home(value, &gate.0, owner_closed, send)
}

// ===== an I/O source's readiness cache =====

pub use crate::reactor::readiness::Interest;

/// The read direction (`reactor::readiness::READ`).
pub const READ: usize = crate::reactor::readiness::READ;
/// The write direction (`reactor::readiness::WRITE`).
pub const WRITE: usize = crate::reactor::readiness::WRITE;

/// `reactor::readiness::Readiness`: the per-direction `ready` flag, event
/// tick and waiter list of one registered fd (`reactor::io::Source`), without
/// the fd and the poller: the model supplies the syscall (`op`) and, in
/// oneshot mode, the re-arm (`rearm`, called under the source's lock).
#[derive(Default)]
pub struct Readiness(crate::reactor::readiness::Readiness);

impl Readiness {
    /// A new source's cache: both directions ready (try the syscall first).
    pub fn new() -> Readiness {
        Readiness(crate::reactor::readiness::Readiness::new())
    }
    /// See `Readiness::poll_io`: the sequence `Async::read_with` /
    /// `write_with` run (sample, `op`, `clear_ready_if` on `WouldBlock`,
    /// `poll_ready`).
    pub fn poll_io<R>(
        &self,
        dir: usize,
        cx: &mut std::task::Context<'_>,
        mut op: impl FnMut() -> std::io::Result<R>,
        rearm: impl FnMut(Interest) -> std::io::Result<()>,
    ) -> std::task::Poll<std::io::Result<R>> {
        self.0.poll_io(dir, cx, || op().map(|r| (r, false)), rearm)
    }
    /// See `Readiness::poll_io`: the sequence `TcpStream`'s reads run, where
    /// `op` also says whether the read left the fd drained (`TCP_INQ`
    /// reported nothing left, not even an end of stream), which clears
    /// `ready` as a `WouldBlock` would.
    pub fn poll_io_drained<R>(
        &self,
        dir: usize,
        cx: &mut std::task::Context<'_>,
        op: impl FnMut() -> std::io::Result<(R, bool)>,
        rearm: impl FnMut(Interest) -> std::io::Result<()>,
    ) -> std::task::Poll<std::io::Result<R>> {
        self.0.poll_io(dir, cx, op, rearm)
    }
    /// See `Readiness::mark_closed`: what `reactor::io::dispatch` does before
    /// `dispatch` for an event with `EPOLLHUP` or `EPOLLERR`.
    pub fn mark_closed(&self) {
        self.0.mark_closed()
    }
    /// See `Readiness::poll_ready` (`Async::poll_readable` / `poll_writable`).
    pub fn poll_ready(
        &self,
        dir: usize,
        cx: &mut std::task::Context<'_>,
        rearm: impl FnOnce(Interest) -> std::io::Result<()>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.0.poll_ready(dir, cx, rearm)
    }
    /// See `Readiness::readiness`: `(ready, tick)` of direction `dir`.
    pub fn readiness(&self, dir: usize) -> (bool, u64) {
        self.0.readiness(dir)
    }
    /// See `Readiness::clear_ready_if`.
    pub fn clear_ready_if(&self, dir: usize, tick: u64) {
        self.0.clear_ready_if(dir, tick)
    }
    /// See `Readiness::dispatch`, the step `Driver::dispatch` takes per event
    /// (`reactor::io::dispatch`): returns the waiters to wake, which
    /// `Driver::dispatch` wakes after unlocking.
    pub fn dispatch(&self, fired: Interest, rearm: impl FnOnce(Interest)) -> Vec<Waker> {
        let mut wake = Vec::new();
        self.0.dispatch(fired, &mut wake, rearm);
        wake
    }
}
