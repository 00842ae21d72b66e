//! The thread-crossing entry points of a loop: `run_coroutine_threadsafe`
//! and `spawn_local_threadsafe`, which hand a future to a loop from any
//! thread and return a [`ConcurrentFuture`] for its result.

use super::concurrent::{self, CancelOnDrop, ConcurrentFuture, Deliver};
use crate::runtime::shared::InboxItem;
use crate::runtime::{spawn_local_inner, LoopHandle};
use crate::scheduler::PinnedScheduler;
use crate::sync::Arc;
use crate::task::{new_task, Panic, TaskError, TaskKind, TaskMeta};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};

impl LoopHandle {
    /// Runs `fut` as a task pinned to this loop and returns a
    /// [`ConcurrentFuture`] for its result (asyncio's
    /// `run_coroutine_threadsafe`). Callable from any thread.
    ///
    /// If the runtime is closed, the returned future is already resolved to
    /// [`TaskError::Cancelled`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    /// let lp = rt.loop_handle(0);
    /// let answer = std::thread::spawn(move || {
    ///     lp.run_coroutine_threadsafe(async { 40 + 2 }).result().unwrap()
    /// });
    /// assert_eq!(answer.join().unwrap(), 42);
    /// rt.close();
    /// ```
    #[track_caller]
    pub fn run_coroutine_threadsafe<F>(&self, fut: F) -> ConcurrentFuture<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let shared_cf = concurrent::Shared::pinned_to(
            (Arc::as_ptr(&self.shared) as usize, self.index),
            self.result_spin(),
        );
        let meta = TaskMeta::new(None, Location::caller(), TaskKind::Pinned(self.index));
        let scheduler = PinnedScheduler {
            shared: self.shared.sched.clone(),
            owner: self.index,
        };
        let (notified, task) = new_task(Deliver::new(fut, shared_cf.clone()), scheduler, meta);
        shared_cf.set_task(task);
        // On a closed runtime the future is dropped here: it resolves to
        // Cancelled. (A loop closes only after the gate has.)
        self.shared.sched.submit_to(self.index, notified);
        ConcurrentFuture::from_shared(shared_cf, Location::caller())
    }

    /// How long a blocking `result()` on work handed to this loop now should
    /// spin: `Builder::result_spin` if the loop is awake, zero if it is
    /// parked. A parked loop must be woken first (an eventfd write, the
    /// wake-up of its thread, the way out of `epoll_wait`), which takes longer
    /// than the spin; spinning then only keeps a CPU busy that, on a small
    /// machine, the woken loop may be queued behind. A hint: the loop may
    /// park or wake at once.
    fn result_spin(&self) -> std::time::Duration {
        if self.shared.sched.loops[self.index].park.parked_hint() {
            std::time::Duration::ZERO
        } else {
            self.shared.config.result_spin
        }
    }

    /// Builds a future *on this loop* with `factory` and runs it there as a
    /// pinned task. The factory must be `Send`; the future it makes need not
    /// be (it may hold `Rc`s). Callable from any thread.
    ///
    /// If the runtime is closed, or the factory panics, the returned future
    /// resolves to `Cancelled` or `Panicked`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    /// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    /// let fut = rt.loop_handle(0).spawn_local_threadsafe(|| async {
    ///     let local = Rc::new(20); // !Send, lives only on the loop
    ///     loopwork::yield_now().await;
    ///     *local + 1
    /// });
    /// assert_eq!(fut.result().unwrap(), 21);
    /// rt.close();
    /// ```
    #[track_caller]
    pub fn spawn_local_threadsafe<Fac, F>(&self, factory: Fac) -> ConcurrentFuture<F::Output>
    where
        Fac: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        let location = Location::caller();
        let shared_cf = concurrent::Shared::pinned_to(
            (Arc::as_ptr(&self.shared) as usize, self.index),
            self.result_spin(),
        );
        // Resolves the future to Cancelled if the handoff is dropped unrun.
        let guard = CancelOnDrop(Some(shared_cf.clone()));
        let build = move || {
            let shared_cf = guard.disarm();
            if shared_cf.is_done() {
                return; // cancelled before it reached the loop
            }
            match catch_unwind(AssertUnwindSafe(factory)) {
                Ok(fut) => {
                    let task = spawn_local_inner(
                        Deliver::new(fut, shared_cf.clone()),
                        crate::task::Builder::new(),
                        location,
                    );
                    shared_cf.set_task(task);
                }
                Err(p) => {
                    shared_cf.resolve(Err(TaskError::Panicked(Panic::new(p))));
                }
            }
        };
        if let Ok(_pass) = self.admit() {
            self.shared
                .send(self.index, InboxItem::Call(Box::new(build)));
        } else {
            drop(build); // its guard resolves the future to Cancelled
        }
        ConcurrentFuture::from_shared(shared_cf, location)
    }
}
