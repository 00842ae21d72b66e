//! `ConcurrentFuture<T>`: a result handed across threads, asyncio's
//! `concurrent.futures.Future`.
//!
//! Made by [`LoopHandle::run_coroutine_threadsafe`] and
//! [`LoopHandle::spawn_local_threadsafe`]. The producing side is a `Deliver`
//! wrapper around the task's future: it resolves the shared state exactly
//! once — with the value, with the panic, or with `Cancelled` when the future
//! is dropped unfinished (task cancelled, loop shut down).
//!
//! # Protocol
//! One mutex guards the state: `done`, the result slot, the done callbacks,
//! the waker of an `.await`er and `polling` (the thread polling the work right
//! now, if any); a condvar wakes blocking waiters. Resolution (by the task,
//! or by `cancel`) happens once under the lock: the first to set `done` wins
//! and the loser's value is dropped. Done callbacks run exactly once: under
//! the lock by whoever resolves, or at once by `add_done_callback` if the
//! future is already done.
//!
//! **Cancel versus complete is one decision.** `Deliver` polls the work only
//! after setting `polling` under the lock, and only if the future is not
//! done; it clears `polling` under the lock after the poll, delivering the
//! value in that same critical section if the work completed. `cancel`
//! decides under the lock, and never while another thread's poll is in
//! progress: it waits on the condvar for that poll to end (one poll, not the
//! whole work). So `cancel()` returns `true` only if no poll will ever
//! complete the work (the body is never polled again), and `false` only if
//! the result is delivered (or was: done already). The one exception is a
//! cancel from *inside* the poll (the work cancelling its own future): it
//! cannot wait for itself, so it wins, and a value that poll returns is
//! dropped. After deciding, `cancel` cancels the task outside the lock,
//! through the task's own thread-safe path, so the task's future is dropped
//! at its next scheduling point on its loop.
//!
//! The await graph (see `task/trace.rs`) rides on the same lock: an
//! `.await` that returns `Pending` marks the producing task as awaited by
//! the polling task, and a thread that blocks in `result*` after the spin
//! registers as a node and marks it as awaited by that thread, until it
//! returns. Bookkeeping only, never part of the cancel/complete decision;
//! off under loom.
//!
//! Under `--cfg loopwork_loom` (and the feature `loom`) it is built with
//! loom's primitives; loom model 5
//! (`loom-tests/tests/concurrent_future.rs`) drives the real code.
//!
//! [`LoopHandle::run_coroutine_threadsafe`]: crate::runtime::LoopHandle::run_coroutine_threadsafe
//! [`LoopHandle::spawn_local_threadsafe`]: crate::runtime::LoopHandle::spawn_local_threadsafe

use super::oneshot::OneShot;
use crate::debug::unawaited::SharedOrigin;
use crate::runtime::check_blocking_wait;
use crate::sync::thread::{self, ThreadId};
use crate::sync::{Arc, Condvar, Mutex, MutexGuard};
use crate::task::trace::{self, BlockingWait, LeafKind};
use crate::task::{Panic, Task, TaskError};
use crate::time::Elapsed;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

type DoneCallback<T> = Box<dyn FnOnce(&Result<T, TaskError>) + Send>;

pub(crate) struct Shared<T> {
    state: Mutex<State<T>>,
    cv: Condvar,
    /// Set (after `state.done`) when resolved: lets a blocking waiter spin
    /// briefly without taking the lock (see `spin_until_done`). A hint only;
    /// `state.done` under the lock decides.
    #[cfg(not(loopwork_loom))]
    done_hint: crate::sync::atomic::AtomicBool,
    /// The loop (runtime address, index) the producing task is pinned to,
    /// if it is: a blocking wait on that loop's own thread can never end.
    home: Option<(usize, usize)>,
    /// How long a blocking `result()` watches for the result before it
    /// sleeps (see `spin_until_done`); zero: not at all (and never
    /// used under loom).
    #[cfg_attr(loopwork_loom, allow(dead_code))]
    spin: Duration,
}

struct State<T> {
    /// The result and the awaiting task's waker (the core shared with
    /// `PromiseFuture`); set once: the future is done.
    shot: OneShot<Result<T, TaskError>>,
    cancelled: bool,
    callbacks: Vec<DoneCallback<T>>,
    /// The task producing the value, to cancel it.
    task: Option<Task<()>>,
    /// The thread polling the work right now (see the protocol).
    polling: Option<ThreadId>,
    /// A `cancel` waits for that poll to end: notify the condvar after it.
    cancel_waiting: bool,
    /// The await graph: the foreign thread blocked in `result*`, if any
    /// (`BlockingWait::node`), applied to a task attached later.
    blocked_node: u64,
}

impl<T> Shared<T> {
    pub(crate) fn new() -> Arc<Shared<T>> {
        Arc::new(Shared {
            state: Mutex::new(State {
                shot: OneShot::new(),
                cancelled: false,
                callbacks: Vec::new(),
                task: None,
                polling: None,
                cancel_waiting: false,
                blocked_node: 0,
            }),
            cv: Condvar::new(),
            #[cfg(not(loopwork_loom))]
            done_hint: crate::sync::atomic::AtomicBool::new(false),
            home: None,
            spin: Duration::ZERO,
        })
    }

    /// A future whose producing task will be pinned to loop `home`
    /// (`LoopCore::identity`); a blocking `result()` spins for up to `spin`
    /// before it sleeps.
    pub(crate) fn pinned_to(home: (usize, usize), spin: Duration) -> Arc<Shared<T>> {
        let mut shared = Shared::new();
        let this = Arc::get_mut(&mut shared).expect("not shared yet");
        this.home = Some(home);
        this.spin = spin;
        shared
    }

    /// A blocking wait for work pinned to the calling loop thread's own
    /// loop is a certain deadlock (the loop cannot run the work while it
    /// waits): panic in every mode, naming it, instead of hanging.
    #[track_caller]
    fn check_not_own_loop(&self, api: &str) {
        let Some(home) = self.home else { return };
        let here = crate::runtime::context::with_core(|c| c.map(|c| c.identity()));
        if here == Some(home) && !self.is_done() {
            panic!(
                "{api} called at {} on loop {}, the loop that runs the awaited work: \
                 it can never complete while this wait holds the loop (deadlock). \
                 `.await` the ConcurrentFuture instead, or wait from a thread that is not this loop",
                Location::caller(),
                home.1
            );
        }
    }

    /// Resolves the future; `false` (and the value dropped) if it already was.
    pub(crate) fn resolve(&self, result: Result<T, TaskError>) -> bool {
        self.resolve_locked(self.state.lock(), result)
    }

    /// `resolve`, in a critical section the caller has already entered.
    fn resolve_locked(
        &self,
        mut st: MutexGuard<'_, State<T>>,
        result: Result<T, TaskError>,
    ) -> bool {
        if st.shot.is_set() {
            // The loser's value is dropped outside the lock: its drop may
            // touch this future.
            drop(st);
            drop(result);
            return false;
        }
        st.cancelled = matches!(result, Err(TaskError::Cancelled));
        let callbacks = std::mem::take(&mut st.callbacks);
        let waker = st.shot.set(result);
        let result = st.shot.get().expect("just set");
        for cb in callbacks {
            run_callback(cb, result);
        }
        let task = st.task.take();
        // Release: pairs with the Acquire load in `spin_until_done`; a
        // waiter that sees the hint then takes the lock, which orders the
        // result anyway.
        #[cfg(not(loopwork_loom))]
        {
            self.done_hint
                .store(true, crate::sync::atomic::Ordering::Release);
            // A blocked `result()` may be released now: if this is a loop,
            // its next spin lets that waiter have the CPU.
            crate::scheduler::spin::released_a_waiter();
        }
        self.cv.notify_all();
        drop(st);
        drop(task);
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    /// `Deliver` is about to poll the work: `false` if the future is done
    /// (cancelled), and then the work must never be polled again.
    fn begin_poll(&self) -> bool {
        let mut st = self.state.lock();
        if st.shot.is_set() {
            return false;
        }
        st.polling = Some(thread::current().id());
        true
    }

    /// The poll ended. With `Some(result)` the work finished: it is
    /// delivered unless a cancel from inside the poll won (then dropped).
    /// With `None` it is still pending: returns whether it is still wanted
    /// (`false`: cancelled from inside the poll; stop polling it).
    fn end_poll(&self, result: Option<Result<T, TaskError>>) -> bool {
        let mut st = self.state.lock();
        st.polling = None;
        if std::mem::take(&mut st.cancel_waiting) {
            self.cv.notify_all();
        }
        match result {
            Some(result) => {
                self.resolve_locked(st, result);
                false
            }
            None => !st.shot.is_set(),
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state.lock().shot.is_set()
    }

    /// Before a blocking waiter sleeps on the condvar: watch for the result
    /// for up to `spin` (`Builder::result_spin`; zero when the loop was
    /// parked at submission, see `run_coroutine_threadsafe`). An awake loop
    /// usually resolves a short piece of work within microseconds, and a
    /// waiter still awake then skips both the futex sleep and the wake-up
    /// (which, to an idle CPU, costs more than the work). Longer work falls
    /// through to the condvar as before. Between two looks it yields its CPU:
    /// the loop that runs the work may be queued on this CPU (more runnable
    /// threads than CPUs), and a pure spin would keep it from running until
    /// the window ends.
    fn spin_until_done(&self) {
        #[cfg(not(loopwork_loom))]
        {
            use crate::sync::atomic::Ordering::Acquire;
            spin_until(
                self.spin,
                Instant::now,
                // Acquire: pairs with `resolve`'s Release store of the hint.
                || self.done_hint.load(Acquire),
                std::thread::yield_now,
            );
        }
    }

    /// Attaches the producing task; cancels it at once if the future was
    /// cancelled before the task existed.
    pub(crate) fn set_task(&self, task: Task<()>) {
        let mut st = self.state.lock();
        if st.shot.is_set() {
            drop(st);
            if !task.is_finished() {
                task.cancel();
            }
            return;
        }
        if st.blocked_node != 0 {
            if let Some(h) = task.header() {
                trace::awaited_by_node(h, st.blocked_node);
            }
        }
        st.task = Some(task);
    }

    /// A foreign thread is about to block on the result: makes it a node of
    /// the await graph, awaiting the producing task, until the guard drops.
    fn block(&self, api: &'static str, location: &'static Location<'static>) -> Blocked<'_, T> {
        let wait = BlockingWait::enter(api, location);
        let mut st = self.state.lock();
        st.blocked_node = wait.node();
        if let Some(h) = st.task.as_ref().and_then(|t| t.header()) {
            trace::awaited_by_node(h, wait.node());
        }
        Blocked {
            shared: self,
            wait: Some(wait),
        }
    }
}

/// The spin's decisions (`Shared::spin_until_done`), with the clock, the
/// result hint and the pause handed in so that the unit tests can script
/// them: no spin at all for a zero `spin`; otherwise look at `done`, and
/// while it is false pause, then give up once `spin` has passed since the
/// start.
#[cfg(not(loopwork_loom))]
#[inline]
fn spin_until(
    spin: Duration,
    mut now: impl FnMut() -> Instant,
    mut done: impl FnMut() -> bool,
    mut pause: impl FnMut(),
) {
    if spin.is_zero() {
        return;
    }
    let deadline = now() + spin;
    while !done() {
        pause();
        if now() >= deadline {
            return;
        }
    }
}

/// Whether a timed wait in `result_timeout` ends with `Elapsed` after its
/// condvar wait returned: only if that wait timed out *and* no result is
/// there. A result set as the wait timed out (the resolver held the lock
/// at the deadline) is returned, not reported late; a wake-up without a
/// result (a waiting `cancel`'s notify) waits again.
#[inline]
fn elapsed_after_wait(timed_out: bool, result_set: bool) -> bool {
    timed_out && !result_set
}

/// A foreign thread blocked on a `ConcurrentFuture` (see `Shared::block`).
struct Blocked<'a, T> {
    shared: &'a Shared<T>,
    wait: Option<BlockingWait>,
}

impl<T> Drop for Blocked<'_, T> {
    fn drop(&mut self) {
        let mut st = self.shared.state.lock();
        st.blocked_node = 0;
        let task = st.task.as_ref().and_then(|t| t.header());
        if let Some(wait) = self.wait.take() {
            wait.finish(task);
        }
    }
}

fn run_callback<T>(cb: DoneCallback<T>, result: &Result<T, TaskError>) {
    if let Err(p) = catch_unwind(AssertUnwindSafe(|| cb(result))) {
        log::error!(
            target: "loopwork",
            "a ConcurrentFuture done callback panicked: {}",
            crate::task::panic_message(&*p)
        );
    }
}

/// The producing side: wraps the task's future and resolves the shared
/// state with its value, its panic, or `Cancelled` if dropped unfinished.
pub(crate) struct Deliver<F: Future> {
    fut: F,
    shared: Option<Arc<Shared<F::Output>>>,
}

impl<F: Future> Deliver<F> {
    pub(crate) fn new(fut: F, shared: Arc<Shared<F::Output>>) -> Deliver<F> {
        Deliver {
            fut,
            shared: Some(shared),
        }
    }
}

impl<F: Future> Future for Deliver<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `fut` is structurally pinned (never moved); `shared` is not.
        let this = unsafe { self.get_unchecked_mut() };
        let Some(shared) = this.shared.as_ref() else {
            return Poll::Ready(());
        };
        // Cancelled (decided under the lock): the work is never polled again.
        if !shared.begin_poll() {
            this.shared = None;
            return Poll::Ready(());
        }
        // SAFETY: as above.
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        let result = match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => None,
            Ok(Poll::Ready(v)) => Some(Ok(v)),
            Err(p) => Some(Err(TaskError::Panicked(Panic::new(p)))),
        };
        if shared.end_poll(result) {
            return Poll::Pending;
        }
        // Delivered (or cancelled from inside the poll): done either way.
        this.shared = None;
        Poll::Ready(())
    }
}

impl<F: Future> Drop for Deliver<F> {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.resolve(Err(TaskError::Cancelled));
        }
    }
}

/// Resolves a `ConcurrentFuture` with `Cancelled` if dropped while armed:
/// guards a handoff that may be dropped without running.
pub(crate) struct CancelOnDrop<T>(pub(crate) Option<Arc<Shared<T>>>);

impl<T> CancelOnDrop<T> {
    pub(crate) fn disarm(mut self) -> Arc<Shared<T>> {
        self.0.take().expect("armed")
    }
}

impl<T> Drop for CancelOnDrop<T> {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            s.resolve(Err(TaskError::Cancelled));
        }
    }
}

/// The result of work handed to a loop from any thread: block on it, poll it
/// with a timeout, cancel it, or `.await` it from any executor.
///
/// Dropping it does **not** cancel the work (asyncio semantics); call
/// [`cancel`](ConcurrentFuture::cancel). If the loop shuts down before the
/// work completes, the future resolves to [`TaskError::Cancelled`]: it never
/// hangs.
///
/// # Examples
///
/// ```
/// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
/// let fut = rt.loop_handle(0).run_coroutine_threadsafe(async { 6 * 7 });
/// assert_eq!(fut.result().unwrap(), 42);
/// rt.close();
/// ```
#[must_use = "dropping a ConcurrentFuture does not cancel the work; call cancel() for that, or detach() for fire-and-forget"]
pub struct ConcurrentFuture<T> {
    shared: Arc<Shared<T>>,
    /// Where it was made; reported if dropped without being consumed.
    origin: SharedOrigin,
    /// Polled (as a future) at least once: dropping it ends an await.
    awaited: bool,
}

/// The hint of the never-awaited report.
const DETACH_HINT: &str =
    "its work keeps running and its result is lost; await it, call result(), \
     or call detach() if fire-and-forget is meant";

impl<T> ConcurrentFuture<T> {
    pub(crate) fn from_shared(
        shared: Arc<Shared<T>>,
        site: &'static Location<'static>,
    ) -> ConcurrentFuture<T> {
        ConcurrentFuture {
            shared,
            origin: SharedOrigin::new(site),
            awaited: false,
        }
    }

    /// Lets the work run on with nobody waiting for its result
    /// (fire-and-forget), without the "dropped without being awaited"
    /// report that a plain drop gets. The work is not cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// rt.loop_handle(0)
    ///     .run_coroutine_threadsafe(async move { tx.send("ran").unwrap() })
    ///     .detach();
    /// assert_eq!(rx.recv().unwrap(), "ran");
    /// rt.close();
    /// ```
    pub fn detach(self) {
        self.origin.consume();
    }

    /// Blocks the calling thread until the work is done.
    ///
    /// On a loop thread this would stall (or deadlock) the loop: debug mode
    /// panics, production warns once per call site.
    ///
    /// # Panics
    /// If the result was already taken by [`result_timeout`](ConcurrentFuture::result_timeout) or `.await`.
    /// In every mode, if called on the loop thread that runs the work (it
    /// could never complete: a certain deadlock).
    #[track_caller]
    pub fn result(self) -> Result<T, TaskError> {
        self.origin.consume();
        check_blocking_wait("ConcurrentFuture::result", Location::caller());
        self.shared.check_not_own_loop("ConcurrentFuture::result");
        self.shared.spin_until_done();
        // Not done after the spin: this thread blocks, and the await graph
        // shows it ("awaited by thread 'name' (blocking)").
        let location = Location::caller();
        let _blocked = (cfg!(not(loopwork_loom)) && !self.shared.is_done())
            .then(|| self.shared.block("ConcurrentFuture::result", location));
        let mut st = self.shared.state.lock();
        while !st.shot.is_set() {
            st = self.shared.cv.wait(st);
        }
        take_result(&mut st)
    }

    /// Blocks at most `timeout`. `Err(Elapsed)` if the work is not done by
    /// then; the future stays usable (call it again, `.await` it, cancel it).
    ///
    /// # Panics
    /// If the result was already taken; on the loop thread that runs the
    /// work, as [`result`](ConcurrentFuture::result).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    /// let mut fut = rt.loop_handle(0).run_coroutine_threadsafe(async {
    ///     loopwork::sleep(Duration::from_millis(50)).await;
    ///     "late"
    /// });
    /// assert!(fut.result_timeout(Duration::from_millis(1)).is_err());
    /// assert_eq!(fut.result_timeout(Duration::from_secs(30)).unwrap().unwrap(), "late");
    /// rt.close();
    /// ```
    #[track_caller]
    pub fn result_timeout(&mut self, timeout: Duration) -> Result<Result<T, TaskError>, Elapsed> {
        self.origin.consume();
        check_blocking_wait("ConcurrentFuture::result_timeout", Location::caller());
        self.shared
            .check_not_own_loop("ConcurrentFuture::result_timeout");
        let deadline = crate::sync::now().checked_add(timeout);
        let location = Location::caller();
        let _blocked = (cfg!(not(loopwork_loom)) && !self.shared.is_done()).then(|| {
            self.shared
                .block("ConcurrentFuture::result_timeout", location)
        });
        let mut st = self.shared.state.lock();
        while !st.shot.is_set() {
            match deadline {
                None => st = self.shared.cv.wait(st),
                Some(d) => {
                    let now = crate::sync::now();
                    if now >= d {
                        return Err(Elapsed::new());
                    }
                    let (guard, timed_out) = self.shared.cv.wait_timeout(st, d - now);
                    st = guard;
                    // Timed out means the deadline has passed (under loom,
                    // which has no clock, it means "the timeout fired first").
                    if elapsed_after_wait(timed_out, st.shot.is_set()) {
                        return Err(Elapsed::new());
                    }
                }
            }
        }
        Ok(take_result(&mut st))
    }

    /// Cancels the work. Returns `true` if the work will not complete: the
    /// future then resolves to `Cancelled` at once, the work is never polled
    /// again, and the task is cancelled at its next scheduling point on its
    /// loop (before it starts, it never runs). Returns `false` if the work
    /// completed: its result is delivered. The answer is exact: if a loop is
    /// polling the work at that moment, `cancel` waits for that one poll to
    /// end and then decides. Called from inside the work itself (which
    /// cannot be waited for), it cancels, and a value that poll returns is
    /// dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    /// let fut = rt.loop_handle(0).run_coroutine_threadsafe(std::future::pending::<()>());
    /// assert!(fut.cancel());
    /// assert!(fut.cancelled());
    /// assert!(fut.result().unwrap_err().is_cancelled());
    /// rt.close();
    /// ```
    pub fn cancel(&self) -> bool {
        self.origin.consume();
        let me = thread::current().id();
        let mut st = self.shared.state.lock();
        loop {
            if st.shot.is_set() {
                return false;
            }
            match st.polling {
                // Another thread is polling the work: it may complete in
                // this poll. Wait for the poll to end, then decide.
                Some(poller) if poller != me => {
                    st.cancel_waiting = true;
                    st = self.shared.cv.wait(st);
                }
                _ => break,
            }
        }
        let task = st.task.take();
        // Decided under the lock: the work is not polled again (Deliver's
        // `begin_poll` sees `done`).
        let won = self.shared.resolve_locked(st, Err(TaskError::Cancelled));
        if let Some(task) = task {
            task.cancel();
        }
        won
    }

    /// Whether the work is done (completed, panicked or cancelled).
    pub fn done(&self) -> bool {
        self.origin.consume();
        self.shared.is_done()
    }

    /// Whether the future was cancelled.
    pub fn cancelled(&self) -> bool {
        self.origin.consume();
        self.shared.state.lock().cancelled
    }

    /// Runs `f` once when the future is done: on the completing thread, or
    /// right away on this thread if it is already done. `f` runs while the
    /// future's internal lock is held: keep it short and do not wait on this
    /// same future from it.
    ///
    /// # Panics
    /// If the future is done and its result was already taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    /// let fut = rt.loop_handle(0).run_coroutine_threadsafe(async { 5 });
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// fut.add_done_callback(move |r| tx.send(*r.as_ref().unwrap()).unwrap());
    /// assert_eq!(rx.recv().unwrap(), 5);
    /// rt.close();
    /// ```
    pub fn add_done_callback(&self, f: impl FnOnce(&Result<T, TaskError>) + Send + 'static) {
        self.origin.consume();
        let mut st = self.shared.state.lock();
        if st.shot.is_set() {
            let result = st
                .shot
                .get()
                .expect("ConcurrentFuture::add_done_callback after its result was taken");
            run_callback(Box::new(f), result);
        } else {
            st.callbacks.push(Box::new(f));
        }
    }
}

fn take_result<T>(st: &mut State<T>) -> Result<T, TaskError> {
    st.shot
        .take()
        .expect("ConcurrentFuture result already taken (by result_timeout or .await)")
}

impl<T> Future for ConcurrentFuture<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.origin.consume();
        self.awaited = true;
        crate::task::coop::poll(cx, |cx| self.poll_result(cx))
    }
}

/// Dropping an awaited `ConcurrentFuture` ends the await: the edge to the
/// producing task goes (the work itself keeps running). One never consumed
/// is reported (see `debug::unawaited`).
impl<T> Drop for ConcurrentFuture<T> {
    fn drop(&mut self) {
        self.origin.check_dropped("ConcurrentFuture", DETACH_HINT);
        // (Not under loom: the models check the protocol, not the graph.)
        if cfg!(not(loopwork_loom)) && self.awaited {
            let st = self.shared.state.lock();
            if let Some(h) = st.task.as_ref().and_then(|t| t.header()) {
                trace::await_ended(h);
            }
        }
    }
}

impl<T> ConcurrentFuture<T> {
    fn poll_result(&self, cx: &mut Context<'_>) -> Poll<Result<T, TaskError>> {
        let mut st = self.shared.state.lock();
        let res = st.shot.poll_take(cx);
        if res.is_pending() {
            // The await graph: this task awaits the producing task.
            match st.task.as_ref().and_then(|t| t.header()) {
                Some(h) => trace::awaiting(h, LeafKind::Concurrent),
                None => trace::set_leaf(LeafKind::Concurrent, 0, None),
            }
        }
        res.map(|r| {
            r.unwrap_or_else(|| {
                panic!("ConcurrentFuture result already taken (by result_timeout or .await)")
            })
        })
    }
}

impl<T> fmt::Debug for ConcurrentFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared.state.lock();
        let state = match (st.shot.is_set(), st.cancelled) {
            (false, _) => "pending",
            (true, true) => "cancelled",
            (true, false) => "done",
        };
        write!(
            f,
            "<ConcurrentFuture {state} created at {}>",
            self.origin.site()
        )
    }
}

// The shared state driven by hand, without a loop: the `Deliver` side
// polled by the test, the consumer's answers read back. The integration
// tests (handoff.rs, cancel_exact.rs) run the same protocol through loops.
#[cfg(test)]
#[cfg(not(loopwork_loom))]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::task::Waker;

    fn cx() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    #[test]
    fn a_concurrent_future_debug_prints_its_state() {
        let pending = ConcurrentFuture::<u8>::from_shared(Shared::new(), Location::caller());
        let repr = |f: &ConcurrentFuture<u8>| format!("{f:?}");
        assert!(repr(&pending)
            .starts_with("<ConcurrentFuture pending created at src/handoff/concurrent.rs:"));
        let shared = Shared::new();
        let done = ConcurrentFuture::from_shared(shared.clone(), Location::caller());
        assert!(shared.resolve(Ok(1u8)));
        assert!(repr(&done).starts_with("<ConcurrentFuture done created at "));
        let cancelled = ConcurrentFuture::<u8>::from_shared(Shared::new(), Location::caller());
        assert!(cancelled.cancel());
        assert!(repr(&cancelled).starts_with("<ConcurrentFuture cancelled created at "));
    }

    #[test]
    fn the_first_resolution_wins_and_the_second_is_dropped() {
        let shared = Shared::new();
        let fut = ConcurrentFuture::from_shared(shared.clone(), Location::caller());
        assert!(!fut.done() && !fut.cancelled());
        assert!(shared.resolve(Ok(1)));
        assert!(!shared.resolve(Ok(2)));
        assert!(!shared.resolve(Err(TaskError::Cancelled)));
        assert!(fut.done() && !fut.cancelled());
        assert!(!fut.cancel(), "done: the result is delivered");
        assert_eq!(fut.result().unwrap(), 1);
    }

    #[test]
    fn deliver_resolves_with_the_value_and_is_never_polled_again() {
        let shared = Shared::new();
        let fut = ConcurrentFuture::from_shared(shared.clone(), Location::caller());
        let polls = AtomicUsize::new(0);
        let mut deliver = std::pin::pin!(Deliver::new(
            std::future::poll_fn(|_| {
                if polls.fetch_add(1, SeqCst) == 0 {
                    Poll::Pending
                } else {
                    Poll::Ready(9)
                }
            }),
            shared
        ));
        assert!(deliver.as_mut().poll(&mut cx()).is_pending());
        assert!(!fut.done());
        assert!(deliver.as_mut().poll(&mut cx()).is_ready());
        assert!(deliver.as_mut().poll(&mut cx()).is_ready());
        assert_eq!(polls.load(SeqCst), 2);
        assert_eq!(fut.result().unwrap(), 9);
    }

    #[test]
    fn a_cancelled_future_stops_deliver_before_the_next_poll() {
        let shared = Shared::new();
        let fut = ConcurrentFuture::from_shared(shared.clone(), Location::caller());
        let polls = AtomicUsize::new(0);
        let mut deliver = std::pin::pin!(Deliver::new(
            std::future::poll_fn(|_| {
                polls.fetch_add(1, SeqCst);
                Poll::<()>::Pending
            }),
            shared
        ));
        assert!(deliver.as_mut().poll(&mut cx()).is_pending());
        assert!(fut.cancel());
        assert!(fut.cancelled() && fut.done());
        assert!(deliver.as_mut().poll(&mut cx()).is_ready());
        assert_eq!(polls.load(SeqCst), 1, "never polled after the cancel");
        assert!(fut.result().unwrap_err().is_cancelled());
    }

    #[test]
    fn a_deliver_dropped_unfinished_resolves_cancelled_and_one_that_finished_does_not() {
        let shared = Shared::<u8>::new();
        let fut = ConcurrentFuture::from_shared(shared.clone(), Location::caller());
        drop(Deliver::new(std::future::pending::<u8>(), shared));
        assert!(fut.cancelled());
        assert!(fut.result().unwrap_err().is_cancelled());

        let shared = Shared::new();
        let fut = ConcurrentFuture::from_shared(shared.clone(), Location::caller());
        let mut deliver = Box::pin(Deliver::new(std::future::ready(3), shared));
        assert!(deliver.as_mut().poll(&mut cx()).is_ready());
        drop(deliver);
        assert!(!fut.cancelled());
        assert_eq!(fut.result().unwrap(), 3);
    }

    #[test]
    fn a_cancel_from_inside_the_poll_wins_and_the_value_is_dropped() {
        let shared = Shared::new();
        let fut = std::sync::Arc::new(ConcurrentFuture::from_shared(
            shared.clone(),
            Location::caller(),
        ));
        let inner = fut.clone();
        let mut deliver = std::pin::pin!(Deliver::new(
            std::future::poll_fn(move |_| {
                assert!(inner.cancel(), "nobody else polls: the cancel wins");
                Poll::Ready(5)
            }),
            shared
        ));
        assert!(deliver.as_mut().poll(&mut cx()).is_ready());
        assert!(fut.cancelled());
    }

    #[test]
    fn a_pending_poll_cancelled_from_inside_stops_polling() {
        let shared = Shared::new();
        let fut = std::sync::Arc::new(ConcurrentFuture::from_shared(
            shared.clone(),
            Location::caller(),
        ));
        let inner = fut.clone();
        let mut deliver = std::pin::pin!(Deliver::new(
            std::future::poll_fn(move |_| {
                inner.cancel();
                Poll::<u8>::Pending
            }),
            shared
        ));
        assert!(
            deliver.as_mut().poll(&mut cx()).is_ready(),
            "not wanted any more"
        );
        assert!(fut.cancelled());
    }

    #[test]
    fn a_panicking_poll_resolves_panicked() {
        let shared = Shared::new();
        let fut = ConcurrentFuture::from_shared(shared.clone(), Location::caller());
        let mut deliver = std::pin::pin!(Deliver::new(
            std::future::poll_fn(|_| -> Poll<u8> { panic!("boom") }),
            shared
        ));
        assert!(deliver.as_mut().poll(&mut cx()).is_ready());
        match fut.result() {
            Err(TaskError::Panicked(p)) => assert_eq!(p.message(), "boom"),
            other => panic!("expected the panic, got {other:?}"),
        }
    }

    #[test]
    fn a_cancel_on_drop_guard_resolves_cancelled_unless_disarmed() {
        let shared = Shared::<u8>::new();
        drop(CancelOnDrop(Some(shared.clone())));
        assert!(shared.is_done());
        assert!(ConcurrentFuture::from_shared(shared, Location::caller()).cancelled());

        let shared = Shared::<u8>::new();
        let back = CancelOnDrop(Some(shared.clone())).disarm();
        assert!(Arc::ptr_eq(&back, &shared));
        assert!(!shared.is_done());
    }

    #[test]
    fn done_callbacks_run_once_with_the_result_before_or_after_it_is_set() {
        let shared = Shared::new();
        let fut = ConcurrentFuture::from_shared(shared.clone(), Location::caller());
        let seen = std::sync::Arc::new(AtomicUsize::new(0));
        let s = seen.clone();
        fut.add_done_callback(move |r| {
            s.fetch_add(*r.as_ref().unwrap(), SeqCst);
        });
        assert_eq!(seen.load(SeqCst), 0);
        shared.resolve(Ok(10));
        assert_eq!(seen.load(SeqCst), 10);
        let s = seen.clone();
        fut.add_done_callback(move |r| {
            s.fetch_add(*r.as_ref().unwrap() * 10, SeqCst);
        });
        assert_eq!(seen.load(SeqCst), 110);
        // A panicking callback is logged, not propagated.
        fut.add_done_callback(|_| panic!("callback"));
        assert_eq!(fut.result().unwrap(), 10);
    }

    #[test]
    fn result_timeout_elapses_while_pending_and_returns_the_result_once_set() {
        let shared = Shared::new();
        let mut fut = ConcurrentFuture::from_shared(shared.clone(), Location::caller());
        assert!(fut.result_timeout(Duration::ZERO).is_err());
        assert!(fut.result_timeout(Duration::from_millis(1)).is_err());
        shared.resolve(Ok(4));
        assert_eq!(fut.result_timeout(Duration::ZERO).unwrap().unwrap(), 4);
    }

    #[test]
    fn result_timeout_keeps_waiting_through_a_wake_up_without_a_result() {
        let shared = Shared::new();
        let mut fut = ConcurrentFuture::from_shared(shared.clone(), Location::caller());
        let waiter = std::thread::spawn(move || fut.result_timeout(Duration::from_secs(60)));
        // Condvar wake-ups with no result (as `end_poll` gives a waiting
        // cancel): the waiter must not take them for its timeout.
        for _ in 0..2000 {
            drop(shared.state.lock());
            shared.cv.notify_all();
            std::thread::yield_now();
        }
        shared.resolve(Ok(8));
        assert_eq!(waiter.join().unwrap().expect("not elapsed").unwrap(), 8);
    }

    /// `spin_until` on a scripted clock that advances one microsecond per
    /// reading and a hint that turns true at look `done_at` (1-based):
    /// how many times it looked at the hint and how many times it paused.
    fn scripted_spin(spin: Duration, done_at: Option<usize>) -> (usize, usize) {
        let start = Instant::now();
        let (readings, looks, pauses) = (Cell::new(0), Cell::new(0), Cell::new(0));
        spin_until(
            spin,
            || {
                readings.set(readings.get() + 1);
                start + Duration::from_micros(readings.get() - 1)
            },
            || {
                looks.set(looks.get() + 1);
                done_at.is_some_and(|n| looks.get() >= n)
            },
            || pauses.set(pauses.get() + 1),
        );
        (looks.get(), pauses.get())
    }

    #[test]
    fn the_spin_watches_an_absent_result_until_its_window_ends() {
        // Clock readings 1..=10 are before the deadline (reading 0 + 10 us).
        assert_eq!(
            scripted_spin(Duration::from_micros(10), None),
            (10, 10),
            "one look and one pause per microsecond of the window, no more"
        );
    }

    #[test]
    fn the_spin_stops_at_the_look_that_sees_the_result() {
        assert_eq!(scripted_spin(Duration::from_micros(10), Some(1)), (1, 0));
        assert_eq!(scripted_spin(Duration::from_micros(10), Some(3)), (3, 2));
    }

    #[test]
    fn a_zero_spin_window_does_not_look_at_all() {
        assert_eq!(scripted_spin(Duration::ZERO, Some(1)), (0, 0));
    }

    #[test]
    fn a_blocking_wait_with_a_spin_window_watches_for_the_result_until_the_window_ends() {
        // Not a timing assertion: `spin_until` returns on a clock reading at
        // or past its deadline, which it took after `start`.
        let window = Duration::from_millis(2);
        let shared = Shared::<u8>::pinned_to((0, 0), window);
        let start = Instant::now();
        shared.spin_until_done();
        assert!(
            start.elapsed() >= window,
            "the waiter stopped watching before its window ended"
        );
    }

    #[test]
    fn a_timed_wait_is_elapsed_only_when_it_timed_out_without_a_result() {
        assert!(elapsed_after_wait(true, false));
        assert!(
            !elapsed_after_wait(true, true),
            "a result set as the wait timed out is returned, not Elapsed"
        );
        assert!(
            !elapsed_after_wait(false, false),
            "a wake-up without a result waits again"
        );
        assert!(!elapsed_after_wait(false, true));
    }

    /// Waits (yielding, bounded: hang detection only) until `cond` holds.
    fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_thread_waiting_for_a_pending_result_is_listed_as_blocked_until_it_returns() {
        for timed in [false, true] {
            let shared = Shared::<u8>::new();
            let mut fut = ConcurrentFuture::from_shared(shared.clone(), Location::caller());
            let waiter = std::thread::spawn(move || {
                if timed {
                    fut.result_timeout(Duration::from_secs(60))
                        .expect("resolved long before")
                } else {
                    fut.result()
                }
            });
            wait_until(
                &format!(
                    "the waiting thread never became a node of the await graph (timed: {timed})"
                ),
                || shared.state.lock().blocked_node != 0,
            );
            shared.resolve(Ok(3));
            assert_eq!(waiter.join().unwrap().unwrap(), 3);
            assert_eq!(
                shared.state.lock().blocked_node,
                0,
                "no node once it returned"
            );
        }
    }

    #[test]
    fn a_cancel_during_another_threads_poll_waits_for_it_and_loses_to_its_value() {
        let shared = Shared::new();
        let fut = std::sync::Arc::new(ConcurrentFuture::from_shared(
            shared.clone(),
            Location::caller(),
        ));
        let (in_poll_tx, in_poll) = std::sync::mpsc::channel();
        let (go_tx, go) = std::sync::mpsc::channel::<()>();
        let work = shared.clone();
        let poller = std::thread::spawn(move || {
            let mut deliver = std::pin::pin!(Deliver::new(
                std::future::poll_fn(move |_| {
                    in_poll_tx.send(()).unwrap();
                    go.recv().unwrap();
                    Poll::Ready(5u8)
                }),
                work
            ));
            deliver.as_mut().poll(&mut cx()).is_ready()
        });
        in_poll.recv().unwrap();
        let (decided_tx, decided) = std::sync::mpsc::channel();
        let canceller = {
            let fut = fut.clone();
            std::thread::spawn(move || {
                let won = fut.cancel();
                decided_tx.send(()).unwrap();
                won
            })
        };
        // The cancel waits for the poll in progress (or, wrongly, decided
        // without waiting); only then does the poll end.
        wait_until("the cancel neither waited nor decided", || {
            shared.state.lock().cancel_waiting || decided.try_recv().is_ok()
        });
        go_tx.send(()).unwrap();
        assert!(poller.join().unwrap());
        assert!(
            !canceller.join().unwrap(),
            "the poll in progress completed the work: the cancel must lose"
        );
        let fut = std::sync::Arc::try_unwrap(fut).expect("the only handle left");
        assert!(!fut.cancelled());
        assert_eq!(fut.result().unwrap(), 5);
    }

    /// A scheduler for tasks the test runs by hand: nothing wakes them.
    struct ByHand;
    impl crate::task::Schedule for ByHand {
        fn schedule(&self, task: crate::task::Notified) {
            drop(task);
        }
    }

    /// Who awaits the producing task attached to `shared` (the await graph).
    fn awaited_by(shared: &Shared<u8>) -> Option<u64> {
        let st = shared.state.lock();
        let header = st.task.as_ref().and_then(|t| t.header());
        header.map(|h| h.trace.awaited_by())
    }

    #[test]
    fn a_task_attached_while_a_thread_is_blocked_is_awaited_by_that_thread_until_the_wait_ends() {
        let shared = Shared::<u8>::new();
        // A foreign thread blocks in `result` before the loop attached the
        // task (the loop has not run it yet).
        let blocked = shared.block("ConcurrentFuture::result", Location::caller());
        let node = shared.state.lock().blocked_node;
        assert_ne!(node, 0);
        let (_notified, task) = crate::task::new_task(
            std::future::pending::<()>(),
            ByHand,
            crate::task::TaskMeta::new(None, Location::caller(), crate::task::TaskKind::Stealable),
        );
        shared.set_task(task);
        assert_eq!(
            awaited_by(&shared),
            Some(node),
            "the task attached later is awaited by the blocked thread"
        );
        drop(blocked);
        assert_eq!(
            awaited_by(&shared),
            Some(0),
            "the wait ended: no edge from the thread is left"
        );
    }

    #[test]
    fn a_task_attached_to_a_cancelled_future_is_cancelled_before_it_runs() {
        struct CountDrop(std::sync::Arc<AtomicUsize>);
        impl Drop for CountDrop {
            fn drop(&mut self) {
                self.0.fetch_add(1, SeqCst);
            }
        }
        let shared = Shared::<u8>::new();
        let fut = ConcurrentFuture::from_shared(shared.clone(), Location::caller());
        assert!(fut.cancel(), "no task yet: the cancel wins");
        let (polled, dropped) = (
            std::sync::Arc::new(AtomicUsize::new(0)),
            std::sync::Arc::new(AtomicUsize::new(0)),
        );
        let guard = CountDrop(dropped.clone());
        let counter = polled.clone();
        let (notified, task) = crate::task::new_task(
            async move {
                let _guard = guard;
                counter.fetch_add(1, SeqCst);
                std::future::pending::<()>().await
            },
            ByHand,
            crate::task::TaskMeta::new(None, Location::caller(), crate::task::TaskKind::Stealable),
        );
        shared.set_task(task);
        notified.run();
        assert_eq!(
            (polled.load(SeqCst), dropped.load(SeqCst)),
            (0, 1),
            "the task of a future cancelled before it was attached is dropped unpolled"
        );
    }

    #[test]
    fn awaiting_takes_the_result_once_set() {
        let shared = Shared::new();
        let mut fut = ConcurrentFuture::from_shared(shared.clone(), Location::caller());
        assert!(Pin::new(&mut fut).poll(&mut cx()).is_pending());
        shared.resolve(Ok(6));
        assert!(matches!(
            Pin::new(&mut fut).poll(&mut cx()),
            Poll::Ready(Ok(6))
        ));
    }
}
