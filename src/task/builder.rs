//! `task::Builder`: spawn with a name.

use super::Task;
use crate::runtime::{context, spawn_local_inner, spawn_stealable, Handle};
use std::future::Future;
use std::panic::Location;

/// Spawns tasks with options (a name, shown by diagnostics and `Task::name`).
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let t = loopwork::task::Builder::new().name("fetch").spawn(async { 3 });
///     assert_eq!(t.name(), Some("fetch"));
///     assert_eq!(t.await.unwrap(), 3);
/// });
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    name: Option<Box<str>>,
}

impl Builder {
    /// A builder with no name set.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the task.
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into().into_boxed_str());
        self
    }

    /// As [`crate::spawn`].
    #[track_caller]
    pub fn spawn<F>(self, fut: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let location = Location::caller();
        let shared = context::current_shared().unwrap_or_else(|| not_in_runtime("spawn", location));
        spawn_stealable(&shared, fut, self.name, location)
    }

    /// As [`Handle::spawn`].
    #[track_caller]
    pub fn spawn_on<F>(self, handle: &Handle, fut: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_stealable(&handle.shared, fut, self.name, Location::caller())
    }

    /// As [`crate::spawn_local`].
    #[track_caller]
    pub fn spawn_local<F>(self, fut: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        spawn_local_inner(fut, self.name, Location::caller())
    }
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
