//! The two spawn paths: stealable (`Send`) and pinned (`!Send`).

use super::context;
use super::shared::Shared;
use super::Handle;
use crate::scheduler::{PinnedScheduler, StealableScheduler};
use crate::sync::Arc;
use crate::task::Builder;
use crate::task::{new_task, Task, TaskKind, TaskMeta};
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Spawns a `Send` task on `shared`: onto the current loop's deque when called
/// on one of its loops, otherwise through the gate onto the injector.
/// On a closed runtime the task is cancelled at once.
pub(crate) fn spawn_stealable<F>(
    shared: &Arc<Shared>,
    fut: F,
    options: Builder,
    location: &'static Location<'static>,
) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let meta = TaskMeta::with_options(options, location, TaskKind::Stealable, shared.is_debug());
    let scheduler = StealableScheduler {
        shared: shared.sched.clone(),
    };
    let (notified, task) = new_task(fut, scheduler, meta);
    shared.sched.spawn(notified);
    task
}

/// Spawns a task pinned to the current loop.
///
/// # Panics
/// Off a loop thread.
pub(crate) fn spawn_local_inner<F>(
    fut: F,
    options: Builder,
    location: &'static Location<'static>,
) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    context::with_core(|core| {
        let Some(core) = core else {
            context::not_a_loop_thread(
                "loopwork::spawn_local",
                location,
                "a !Send task must be created on the loop that will run it. Call it from inside a \
                 task, or use LoopHandle::spawn_local_threadsafe from other threads",
            )
        };
        let meta = TaskMeta::with_options(
            options,
            location,
            TaskKind::Pinned(core.index),
            core.shared.is_debug(),
        );
        let scheduler = PinnedScheduler {
            shared: core.shared.sched.clone(),
            owner: core.index,
        };
        let fut = Pinned {
            inner: ManuallyDrop::new(fut),
            owner: core.identity(),
        };
        let (notified, task) = new_task(fut, scheduler, meta);
        core.sched.spawn(notified, true);
        task
    })
}

/// Wraps a pinned task's future: dropping it off its owner loop leaks it
/// (and logs) instead of running a `!Send` destructor on the wrong thread.
/// Polling off the owner is refused earlier, by `PinnedScheduler::before_poll`.
struct Pinned<F> {
    inner: ManuallyDrop<F>,
    /// The owner loop: (runtime address, loop index). The task's scheduler
    /// keeps that runtime alive, so the address cannot be reused meanwhile.
    owner: (usize, usize),
}

impl<F: Future> Future for Pinned<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned; it is never moved out.
        unsafe { self.map_unchecked_mut(|p| &mut *p.inner) }.poll(cx)
    }
}

impl<F> Drop for Pinned<F> {
    fn drop(&mut self) {
        let here = context::with_core(|c| c.map(|c| c.identity()));
        if here == Some(self.owner) {
            // SAFETY: dropped once, here, on its owner thread.
            unsafe { ManuallyDrop::drop(&mut self.inner) };
        } else {
            log::error!(
                target: "loopwork",
                "a pinned task's future was about to be dropped off its owner loop; it was leaked \
                 instead (its destructor would not be thread-safe)"
            );
        }
    }
}

/// The spawning side of [`task::Builder`](Builder).
impl Builder {
    /// As [`crate::spawn`].
    #[track_caller]
    pub fn spawn<F>(self, fut: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let location = Location::caller();
        let shared = context::current_shared().unwrap_or_else(|| not_in_runtime("spawn", location));
        spawn_stealable(&shared, fut, self, location)
    }

    /// As [`Handle::spawn`].
    #[track_caller]
    pub fn spawn_on<F>(self, handle: &Handle, fut: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_stealable(&handle.shared, fut, self, Location::caller())
    }

    /// As [`crate::spawn_local`].
    #[track_caller]
    pub fn spawn_local<F>(self, fut: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        spawn_local_inner(fut, self, Location::caller())
    }

    /// As [`spawn`](Builder::spawn), for a task whose output is a `Result`:
    /// if it returns `Err` and nobody retrieves it (its [`Task`] was dropped
    /// or detached, not awaited), the error is logged as a panic would be:
    /// `Task exception was never retrieved: <Task …> returned Err(…)`, at
    /// error level (debug mode adds the spawn backtrace). A plain `spawn`
    /// cannot tell an `Err` from any other value, so its errors vanish
    /// with the detached handle.
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     let task = loopwork::task::Builder::new()
    ///         .name("upload")
    ///         .spawn_fallible(async { Err::<(), _>("disk full") });
    ///     // Awaited: the error is retrieved here, nothing is logged.
    ///     assert_eq!(task.await.unwrap(), Err("disk full"));
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_fallible<F, T, E>(self, fut: F) -> Task<Result<T, E>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: fmt::Debug + Send + 'static,
    {
        self.reporting_err::<T, E>().spawn(fut)
    }

    /// As [`spawn_local`](Builder::spawn_local), with the error report of
    /// [`spawn_fallible`](Builder::spawn_fallible).
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     loopwork::spawn(async {
    ///         let task = loopwork::task::Builder::new()
    ///             .spawn_local_fallible(async { "42".parse::<u8>() });
    ///         assert_eq!(task.await.unwrap(), Ok(42));
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_local_fallible<F, T, E>(self, fut: F) -> Task<Result<T, E>>
    where
        F: Future<Output = Result<T, E>> + 'static,
        T: 'static,
        E: fmt::Debug + 'static,
    {
        self.reporting_err::<T, E>().spawn_local(fut)
    }

    fn reporting_err<T, E: fmt::Debug>(mut self) -> Builder {
        self.describe_err = Some(describe_err::<T, E>);
        self
    }
}

/// The `DescribeErr` of a task whose output is `Result<T, E>`.
///
/// # Safety
/// `out` must point to a live `Result<T, E>`.
unsafe fn describe_err<T, E: fmt::Debug>(out: *const ()) -> Option<String> {
    // SAFETY: the caller's contract.
    let out = unsafe { &*(out as *const Result<T, E>) };
    out.as_ref().err().map(|e| format!("{e:?}"))
}

pub(crate) fn not_in_runtime(api: &str, location: &Location<'_>) -> ! {
    panic!(
        "loopwork::{api} called at {location} outside a loopwork runtime (thread '{}'): call it \
         from inside a task, Runtime::block_on or a blocking job, or use Handle::{api} with a \
         runtime's handle",
        std::thread::current().name().unwrap_or("<unnamed>")
    )
}

/// Spawns a `Send` task on the current runtime; any loop may run it.
///
/// # Panics
/// Outside a loopwork runtime (no task, no `block_on` on this thread).
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let t = loopwork::spawn(async { "hello" });
///     assert_eq!(t.await.unwrap(), "hello");
/// });
/// ```
#[track_caller]
pub fn spawn<F>(fut: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Builder::new().spawn(fut)
}

/// Spawns a task pinned to the current loop: it may be `!Send` (hold an `Rc`),
/// is never stolen, and is polled and dropped only on this loop's thread.
///
/// # Panics
/// Off a loop thread (including inside `block_on`): use
/// `LoopHandle::spawn_local_threadsafe` from other threads.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// loopwork::run(async {
///     let outer = loopwork::spawn(async {
///         // The Rc lives only inside the pinned task, which never moves.
///         loopwork::spawn_local(async {
///             let shared = Rc::new(5);
///             loopwork::yield_now().await;
///             *shared + 1
///         })
///         .await
///         .unwrap()
///     });
///     assert_eq!(outer.await.unwrap(), 6);
/// });
/// ```
#[track_caller]
pub fn spawn_local<F>(fut: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    Builder::new().spawn_local(fut)
}
