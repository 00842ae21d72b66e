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
//! One mutex guards the state: `done`, the result slot, the done callbacks and
//! the waker of an `.await`er; a condvar wakes blocking waiters. Resolution
//! (by the task, or by `cancel`) happens once under the lock: the first to
//! set `done` wins and the loser's value is dropped. Done callbacks run exactly
//! once: under the lock by whoever resolves, or at once by
//! `add_done_callback` if the future is already done. `cancel` resolves
//! first and then cancels the task outside the lock, through the task's own
//! thread-safe path, so the task's future is dropped at its next scheduling
//! point on its loop.
//!
//! Under `--cfg loopwork_loom` this state machine is built on its own (the
//! runtime is not): `check_blocking_wait` is a no-op and `Elapsed` a
//! same-named stand-in, both at the end of this file; loom model 5
//! (`loom-tests/tests/concurrent_future.rs`) drives the real code.
//!
//! [`LoopHandle::run_coroutine_threadsafe`]: crate::LoopHandle::run_coroutine_threadsafe
//! [`LoopHandle::spawn_local_threadsafe`]: crate::LoopHandle::spawn_local_threadsafe

#[cfg(not(loopwork_loom))]
use crate::runtime::check_blocking_wait;
use crate::sync::{Arc, Condvar, Mutex};
use crate::task::{Panic, Task, TaskError};
#[cfg(not(loopwork_loom))]
use crate::time::Elapsed;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// How long a blocking `result()` watches for the result before it sleeps.
#[cfg(not(loopwork_loom))]
const RESULT_SPIN: Duration = Duration::from_micros(20);

type DoneCallback<T> = Box<dyn FnOnce(&Result<T, TaskError>) + Send>;

pub(crate) struct Shared<T> {
    state: Mutex<State<T>>,
    cv: Condvar,
    /// Set (after `state.done`) when resolved: lets a blocking waiter spin
    /// briefly without taking the lock (see `spin_until_done`). A hint only;
    /// `state.done` under the lock decides.
    #[cfg(not(loopwork_loom))]
    done_hint: std::sync::atomic::AtomicBool,
}

struct State<T> {
    done: bool,
    cancelled: bool,
    result: Option<Result<T, TaskError>>,
    callbacks: Vec<DoneCallback<T>>,
    waker: Option<Waker>,
    /// The task producing the value, to cancel it.
    task: Option<Task<()>>,
}

impl<T> Shared<T> {
    pub(crate) fn new() -> Arc<Shared<T>> {
        Arc::new(Shared {
            state: Mutex::new(State {
                done: false,
                cancelled: false,
                result: None,
                callbacks: Vec::new(),
                waker: None,
                task: None,
            }),
            cv: Condvar::new(),
            #[cfg(not(loopwork_loom))]
            done_hint: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Resolves the future; `false` (and the value dropped) if it already was.
    pub(crate) fn resolve(&self, result: Result<T, TaskError>) -> bool {
        let mut st = self.state.lock();
        if st.done {
            return false;
        }
        st.done = true;
        st.cancelled = matches!(result, Err(TaskError::Cancelled));
        let callbacks = std::mem::take(&mut st.callbacks);
        let result = st.result.insert(result);
        for cb in callbacks {
            run_callback(cb, result);
        }
        let waker = st.waker.take();
        let task = st.task.take();
        #[cfg(not(loopwork_loom))]
        self.done_hint
            .store(true, std::sync::atomic::Ordering::Release);
        self.cv.notify_all();
        drop(st);
        drop(task);
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state.lock().done
    }

    /// Before a blocking waiter sleeps on the condvar: watch for the result
    /// for up to `RESULT_SPIN`. A loop usually resolves a short piece of work
    /// within microseconds, and a waiter still awake then skips both the
    /// futex sleep and the wake-up (which, to an idle CPU, costs more than
    /// the work). Longer work falls through to the condvar as before.
    fn spin_until_done(&self) {
        #[cfg(not(loopwork_loom))]
        {
            use std::sync::atomic::Ordering::Acquire;
            let deadline = Instant::now() + RESULT_SPIN;
            while !self.done_hint.load(Acquire) {
                for _ in 0..32 {
                    std::hint::spin_loop();
                }
                if Instant::now() >= deadline {
                    return;
                }
            }
        }
    }

    /// Attaches the producing task; cancels it at once if the future was
    /// cancelled before the task existed.
    pub(crate) fn set_task(&self, task: Task<()>) {
        let mut st = self.state.lock();
        if st.done {
            drop(st);
            if !task.is_finished() {
                task.cancel();
            }
            return;
        }
        st.task = Some(task);
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
        // SAFETY: as above.
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        let result = match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(v)) => Ok(v),
            Err(p) => Err(TaskError::Panicked(Panic::new(p))),
        };
        if let Some(shared) = this.shared.take() {
            shared.resolve(result);
        }
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
#[must_use = "dropping a ConcurrentFuture does not cancel the work; call cancel() for that"]
pub struct ConcurrentFuture<T> {
    shared: Arc<Shared<T>>,
}

impl<T> ConcurrentFuture<T> {
    pub(crate) fn from_shared(shared: Arc<Shared<T>>) -> ConcurrentFuture<T> {
        ConcurrentFuture { shared }
    }

    /// Blocks the calling thread until the work is done.
    ///
    /// On a loop thread this would stall (or deadlock) the loop: debug mode
    /// panics, production warns once per call site.
    ///
    /// # Panics
    /// If the result was already taken by [`result_timeout`](ConcurrentFuture::result_timeout) or `.await`.
    #[track_caller]
    pub fn result(self) -> Result<T, TaskError> {
        check_blocking_wait("ConcurrentFuture::result", Location::caller());
        self.shared.spin_until_done();
        let mut st = self.shared.state.lock();
        while !st.done {
            st = self.shared.cv.wait(st);
        }
        take_result(&mut st)
    }

    /// Blocks at most `timeout`. `Err(Elapsed)` if the work is not done by
    /// then; the future stays usable (call it again, `.await` it, cancel it).
    ///
    /// # Panics
    /// If the result was already taken.
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
        check_blocking_wait("ConcurrentFuture::result_timeout", Location::caller());
        let deadline = Instant::now().checked_add(timeout);
        let mut st = self.shared.state.lock();
        while !st.done {
            match deadline {
                None => st = self.shared.cv.wait(st),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Err(Elapsed::new());
                    }
                    let (guard, timed_out) = self.shared.cv.wait_timeout(st, d - now);
                    st = guard;
                    // Timed out means the deadline has passed (under loom,
                    // which has no clock, it means "the timeout fired first").
                    if timed_out && !st.done {
                        return Err(Elapsed::new());
                    }
                }
            }
        }
        Ok(take_result(&mut st))
    }

    /// Cancels the work. Returns `true` if it was not done yet: the future
    /// then resolves to `Cancelled` at once, and the task is cancelled at its
    /// next scheduling point on its loop (before it starts, it never runs).
    /// Returns `false` if the work had already completed.
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
        let task = {
            let mut st = self.shared.state.lock();
            if st.done {
                return false;
            }
            st.task.take()
        };
        // Resolve first, so the task's own resolution (if it races us) loses.
        let won = self.shared.resolve(Err(TaskError::Cancelled));
        if let Some(task) = task {
            task.cancel();
        }
        won
    }

    /// Whether the work is done (completed, panicked or cancelled).
    pub fn done(&self) -> bool {
        self.shared.is_done()
    }

    /// Whether the future was cancelled.
    pub fn cancelled(&self) -> bool {
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
        let mut st = self.shared.state.lock();
        if st.done {
            let result = st
                .result
                .as_ref()
                .expect("ConcurrentFuture::add_done_callback after its result was taken");
            run_callback(Box::new(f), result);
        } else {
            st.callbacks.push(Box::new(f));
        }
    }
}

fn take_result<T>(st: &mut State<T>) -> Result<T, TaskError> {
    st.result
        .take()
        .expect("ConcurrentFuture result already taken (by result_timeout or .await)")
}

impl<T> Future for ConcurrentFuture<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut st = self.shared.state.lock();
        if st.done {
            return Poll::Ready(take_result(&mut st));
        }
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> fmt::Debug for ConcurrentFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared.state.lock();
        let state = match (st.done, st.cancelled) {
            (false, _) => "pending",
            (true, true) => "cancelled",
            (true, false) => "done",
        };
        write!(f, "<ConcurrentFuture {state}>")
    }
}

/// Under loom there is no runtime, so no loop thread to warn about.
#[cfg(loopwork_loom)]
fn check_blocking_wait(_api: &str, _location: &'static Location<'static>) {}

/// Under loom `crate::time` is not built: the same error, standing in for
/// `time::Elapsed`.
#[cfg(loopwork_loom)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

#[cfg(loopwork_loom)]
impl Elapsed {
    fn new() -> Elapsed {
        Elapsed(())
    }
}
