//! The public entry points: `spawn_blocking`, `Handle::spawn_blocking`,
//! `LoopHandle::run_in_executor` and `LoopHandle::run_in_executor_on`.

use super::{BlockingExecutor, ExecutorJob};
use crate::runtime::blocking::{BlockingScheduler, BlockingTask};
use crate::runtime::context;
use crate::runtime::not_in_runtime;
use crate::runtime::shared::Shared;
use crate::runtime::{Handle, LoopHandle};
use crate::sync::Arc;
use crate::task::{new_task, Notified, Task, TaskKind, TaskMeta};
use std::panic::Location;

/// Runs `f` on the current runtime's blocking pool and returns its task.
///
/// Blocking code — a synchronous file or database call, a CPU-heavy loop —
/// must not run on a loop, where it would stall every task of that loop:
/// run it here instead. Awaiting the [`Task`] gives `f`'s result, or
/// [`TaskError::Panicked`](crate::TaskError::Panicked) if `f` panicked (the
/// pool thread survives).
///
/// The pool grows on demand up to
/// [`Builder::max_blocking_threads`](crate::runtime::Builder::max_blocking_threads);
/// past that, jobs queue and run as threads free up. Idle threads exit after
/// [`Builder::blocking_keep_alive`](crate::runtime::Builder::blocking_keep_alive).
/// Threads are named `{prefix}-blocking-{n}` (prefix from
/// [`Builder::thread_name`](crate::runtime::Builder::thread_name), `loopwork` by default).
///
/// Inside `f`, [`spawn`](crate::spawn), `spawn_blocking` and
/// [`Handle::try_current`] see the runtime.
///
/// # Cancellation
/// [`Task::cancel`] on a job that has not started guarantees `f` never runs
/// (it is dropped when a pool thread reaches the job, and the task resolves to
/// [`TaskError::Cancelled`](crate::TaskError::Cancelled)). A job already
/// running cannot be interrupted: it runs to completion, its result is
/// dropped and the task resolves to `Cancelled`. Dropping the `Task`
/// detaches the job, which still runs.
///
/// # Shutdown
/// Once the runtime is shutting down (or shut down), `spawn_blocking` does
/// not run `f`: the task it returns is already `Cancelled`. Jobs still queued
/// when the runtime shuts down resolve to `Cancelled`; running ones are
/// waited for (see [`Runtime::shutdown_timeout`](crate::Runtime::shutdown_timeout)).
///
/// # Panics
/// Outside a loopwork runtime (no task, no `block_on`, no blocking job on
/// this thread): use [`Handle::spawn_blocking`] there.
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let digest = loopwork::spawn_blocking(|| {
///         // Pretend this is slow: it runs on a pool thread, not on a loop.
///         (1..=1_000u64).fold(0u64, |h, i| h.wrapping_mul(31).wrapping_add(i))
///     })
///     .await
///     .unwrap();
///     assert_ne!(digest, 0);
/// });
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> Task<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let location = Location::caller();
    let shared =
        context::current_shared().unwrap_or_else(|| not_in_runtime("spawn_blocking", location));
    spawn_on_pool(&shared, f, location)
}

impl Handle {
    /// Runs `f` on this runtime's blocking pool, from any thread. As
    /// [`spawn_blocking`](crate::spawn_blocking), including after shutdown:
    /// the task is then already `Cancelled`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    /// let handle = rt.handle();
    /// let task = handle.spawn_blocking(|| std::thread::current().name().map(str::to_owned));
    /// let name = rt.block_on(task).unwrap().unwrap();
    /// assert!(name.starts_with("loopwork-blocking-"), "{name}");
    /// rt.close();
    /// assert!(rt_closed_gives_cancelled(&handle));
    /// # fn rt_closed_gives_cancelled(h: &loopwork::runtime::Handle) -> bool {
    /// #     futures::executor::block_on(h.spawn_blocking(|| ())).unwrap_err().is_cancelled()
    /// # }
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> Task<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        spawn_on_pool(&self.shared, f, Location::caller())
    }
}

impl LoopHandle {
    /// Runs `f` on the runtime's blocking pool: asyncio's
    /// `loop.run_in_executor(None, func)`. Thread-safe; the same as
    /// [`Handle::spawn_blocking`] on this loop's runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     let here = loopwork::spawn(async { loopwork::current_loop() }).await.unwrap();
    ///     let sum = here.run_in_executor(|| (1..=100u32).sum::<u32>()).await.unwrap();
    ///     assert_eq!(sum, 5050);
    /// });
    /// ```
    #[track_caller]
    pub fn run_in_executor<F, R>(&self, f: F) -> Task<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        spawn_on_pool(&self.shared, f, Location::caller())
    }

    /// Runs `f` on a user-supplied [`BlockingExecutor`]: asyncio's
    /// `loop.run_in_executor(executor, func)`. The returned task resolves
    /// like a pool job's; if the executor drops the job without running it,
    /// it resolves to [`TaskError::Cancelled`](crate::TaskError::Cancelled).
    /// On a closed runtime the job is not handed to the executor and the task
    /// is already `Cancelled`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    /// let lp = rt.loop_handle(0);
    /// // Any `Fn(Box<dyn FnOnce() + Send>)` is an executor.
    /// let one_thread_per_job = |job: Box<dyn FnOnce() + Send>| {
    ///     std::thread::spawn(job);
    /// };
    /// let task = lp.run_in_executor_on(&one_thread_per_job, || 6 * 7);
    /// assert_eq!(rt.block_on(task).unwrap(), 42);
    ///
    /// // An executor that drops its jobs: the task is cancelled, not stuck.
    /// let refuse_all = |job: Box<dyn FnOnce() + Send>| drop(job);
    /// let task = lp.run_in_executor_on(&refuse_all, || 1);
    /// assert!(rt.block_on(task).unwrap_err().is_cancelled());
    /// rt.close();
    /// ```
    #[track_caller]
    pub fn run_in_executor_on<E, F, R>(&self, executor: &E, f: F) -> Task<R>
    where
        E: BlockingExecutor + ?Sized,
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        submit_job(
            &self.shared,
            f,
            BlockingScheduler::detached(),
            Location::caller(),
            |notified| {
                let job = ExecutorJob::new(notified);
                executor.execute(Box::new(move || job.run()));
            },
        )
    }
}

/// Creates the job's task and submits it to `shared`'s pool (cancelled at
/// once if the runtime is shutting down).
fn spawn_on_pool<F, R>(shared: &Arc<Shared>, f: F, location: &'static Location<'static>) -> Task<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let pool = shared.blocking.clone();
    submit_job(
        shared,
        f,
        BlockingScheduler::pool(pool.clone()),
        location,
        |notified| pool.submit(notified),
    )
}

/// Creates a blocking job's task (its scheduler says who runs it) and
/// hands it to `submit`, or — on a closed runtime, including while the
/// loops wind down, as `spawn` does — cancels it at once: its joiner sees
/// `Cancelled`. (The pool refuses jobs after its own shutdown too.)
fn submit_job<F, R>(
    shared: &Arc<Shared>,
    f: F,
    scheduler: BlockingScheduler,
    location: &'static Location<'static>,
    submit: impl FnOnce(Notified),
) -> Task<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let (notified, task): (Notified, Task<R>) = new_task(
        BlockingTask::new(in_context(shared, f)),
        scheduler,
        TaskMeta::new(None, location, TaskKind::Blocking),
    );
    if shared.is_closed() {
        notified.shutdown();
    } else {
        submit(notified);
    }
    task
}

/// Wraps `f` so that it runs inside `shared`'s context (so `spawn`,
/// `spawn_blocking` and `Handle::try_current` work in a job).
fn in_context<F, R>(shared: &Arc<Shared>, f: F) -> impl FnOnce() -> R + Send + 'static
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let shared = shared.clone();
    move || {
        let _enter = context::enter(shared);
        f()
    }
}
