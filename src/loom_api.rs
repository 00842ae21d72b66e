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
    pub fn id(&self) -> crate::TaskId {
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

// ===== the idle protocol =====

/// `scheduler::idle::Idle`: searching / unparked counts and the parked set.
pub struct Idle(crate::scheduler::idle::Idle);

impl Idle {
    /// An idle tracker for `num_loops` loops, all unparked.
    pub fn new(num_loops: usize) -> Idle {
        Idle(crate::scheduler::idle::Idle::new(num_loops))
    }
    /// See `Idle::transition_to_searching`.
    pub fn transition_to_searching(&self) -> bool {
        self.0.transition_to_searching()
    }
    /// See `Idle::transition_from_searching`.
    pub fn transition_from_searching(&self) -> bool {
        self.0.transition_from_searching()
    }
    /// See `Idle::notify_one`.
    pub fn notify_one(&self) -> Option<usize> {
        self.0.notify_one()
    }
    /// See `Idle::keeps_awake`: the park re-check's rule.
    pub fn keeps_awake(&self, local: bool, shared: impl FnOnce() -> bool) -> bool {
        self.0.keeps_awake(local, shared)
    }
    /// See `Idle::num_searching`.
    pub fn num_searching(&self) -> usize {
        self.0.num_searching()
    }
    /// See `Idle::num_unparked`.
    pub fn num_unparked(&self) -> usize {
        self.0.num_unparked()
    }
    /// See `Idle::is_parked`.
    pub fn is_parked(&self, index: usize) -> bool {
        self.0.is_parked(index)
    }
}

/// `reactor::ParkFlag`: the handshake between a parking loop and its inbox's producers.
#[derive(Default)]
pub struct ParkFlag(crate::reactor::ParkFlag);

impl ParkFlag {
    /// A flag for a running loop.
    pub fn new() -> ParkFlag {
        ParkFlag(crate::reactor::ParkFlag::new())
    }
    /// Producer side, after pushing to the inbox (`ParkFlag::should_notify`).
    pub fn should_notify(&self) -> bool {
        self.0.should_notify()
    }
}

/// The runtime's parking sequence (`reactor::park_loop`), the one
/// `LoopCore::park` runs: publish parked, re-check with `has_work`, `wait`
/// only if nothing is there, unpark. Returns whether a producer woke the loop
/// as a searcher.
pub fn park_loop(
    idle: &Idle,
    flag: &ParkFlag,
    index: usize,
    was_searching: bool,
    has_work: impl FnOnce() -> bool,
    wait: impl FnOnce(),
) -> bool {
    crate::reactor::park_loop(&idle.0, &flag.0, index, was_searching, has_work, wait)
}

/// I/O event stealing's stealer side (`reactor::poll_sibling`), the one
/// `LoopCore::search` runs on a sibling: skipped while the sibling's `flag`
/// is up; after `poll` (a zero-timeout wait on the sibling's poller, which
/// may consume a notify meant for it), `notify` if the flag is up.
pub fn poll_sibling(flag: &ParkFlag, poll: impl FnOnce() -> bool, notify: impl FnOnce()) -> bool {
    crate::reactor::poll_sibling(&flag.0, poll, notify)
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
    /// Takes one item and moves a batch into `dest`.
    pub fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        steal(self.0.steal_batch_and_pop(&dest.0))
    }
    /// Whether it looks empty (lock-free, as crossbeam's).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `scheduler::queue::Worker`: a loop's own FIFO deque.
pub struct Worker<T>(crate::scheduler::queue::Worker<T>);

/// `scheduler::queue::Stealer`: the siblings' end of a `Worker`.
pub struct Stealer<T>(crate::scheduler::queue::Stealer<T>);

impl<T> Worker<T> {
    /// An empty FIFO deque.
    pub fn new_fifo() -> Worker<T> {
        Worker(crate::scheduler::queue::Worker::new_fifo())
    }
    /// The stealing end.
    pub fn stealer(&self) -> Stealer<T> {
        Stealer(self.0.stealer())
    }
    /// Appends an item.
    pub fn push(&self, t: T) {
        self.0.push(t)
    }
    /// Takes the oldest item.
    pub fn pop(&self) -> Option<T> {
        self.0.pop()
    }
    /// Whether it looks empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// How many items it holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T> Clone for Stealer<T> {
    fn clone(&self) -> Self {
        Stealer(self.0.clone())
    }
}

impl<T> Stealer<T> {
    /// Steals half the items: one returned, the rest moved to `dest`.
    pub fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        steal(self.0.steal_batch_and_pop(&dest.0))
    }
    /// Whether it looks empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

// Entry points for further protocols (blocking pool, ConcurrentFuture, Local)
// go below, one section each.

// ===== the blocking pool =====

/// The blocking pool (`crate::blocking`): its wrappers live next to the pool,
/// in `src/blocking/loom_api.rs`.
pub use crate::blocking::loom_api as blocking;

// ===== ConcurrentFuture =====

pub use crate::concurrent::{ConcurrentFuture, Elapsed};
pub use crate::task::TaskError;

/// The producing side of a `ConcurrentFuture`: the shared state
/// (`concurrent::Shared`) that `run_coroutine_threadsafe` keeps for its task.
pub struct Producer<T>(crate::sync::Arc<crate::concurrent::Shared<T>>);

/// A pending `ConcurrentFuture` and its producing side (`Shared::new`).
pub fn concurrent_future<T>() -> (Producer<T>, ConcurrentFuture<T>) {
    let shared = crate::concurrent::Shared::new();
    (
        Producer(shared.clone()),
        ConcurrentFuture::from_shared(shared),
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
        crate::concurrent::Deliver::new(fut, self.0.clone())
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
    crate::local::home::send_home(value, &gate.0, owner_closed, send)
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
