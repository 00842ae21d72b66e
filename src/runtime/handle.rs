//! `Handle`: spawn onto a runtime, or block on it, from any thread.

use super::block_on_waker::ThreadWaker;
use super::context;
use super::shared::Shared;
use super::{spawn_stealable, Closed, LoopHandle};
use crate::sync::Arc;
use crate::task::{Builder, Task};
use std::future::Future;
use std::panic::Location;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// A cheap, clonable reference to a runtime, usable from any thread.
///
/// # Examples
///
/// ```
/// let rt = loopwork::Runtime::builder().loops(2).build().unwrap();
/// let handle = rt.handle();
/// let t = std::thread::spawn(move || {
///     // A foreign thread spawns and waits.
///     let task = handle.spawn(async { 1 + 1 });
///     handle.block_on(task).unwrap()
/// });
/// assert_eq!(t.join().unwrap(), 2);
/// rt.close();
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl Handle {
    pub(crate) fn new(shared: Arc<Shared>) -> Handle {
        Handle { shared }
    }

    /// The runtime this thread is in (a loop thread, or inside `block_on`).
    pub fn try_current() -> Option<Handle> {
        context::current_shared().map(Handle::new)
    }

    /// Spawns a `Send` task that any loop may run (and steal).
    ///
    /// On a closed runtime the task is not run: awaiting it gives
    /// [`TaskError::Cancelled`](crate::TaskError::Cancelled). Use
    /// [`try_spawn`](Handle::try_spawn) to be told instead.
    #[track_caller]
    pub fn spawn<F>(&self, fut: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_stealable(&self.shared, fut, Builder::new(), Location::caller())
    }

    /// As [`spawn`](Handle::spawn), but `Err(Closed)` if the runtime is shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    /// let handle = rt.handle();
    /// assert!(handle.try_spawn(async {}).is_ok());
    /// rt.close();
    /// assert!(handle.try_spawn(async {}).is_err());
    /// ```
    #[track_caller]
    pub fn try_spawn<F>(&self, fut: F) -> Result<Task<F::Output>, Closed>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if self.shared.is_closed() {
            return Err(Closed(()));
        }
        Ok(spawn_stealable(
            &self.shared,
            fut,
            Builder::new(),
            Location::caller(),
        ))
    }

    /// Runs `fut` to completion on the calling thread (see [`Runtime::block_on`](crate::Runtime::block_on)).
    #[track_caller]
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        block_on(&self.shared, fut, "Handle::block_on", Location::caller())
    }

    /// The handle of loop `i`.
    ///
    /// # Panics
    /// If `i` is not a loop of this runtime.
    pub fn loop_handle(&self, i: usize) -> LoopHandle {
        assert!(
            i < self.shared.num_loops(),
            "loop_handle({i}): this runtime has {} loops (0..{})",
            self.shared.num_loops(),
            self.shared.num_loops()
        );
        LoopHandle::new(self.shared.clone(), i)
    }

    /// The number of loops.
    pub fn loops(&self) -> usize {
        self.shared.num_loops()
    }

    /// Whether the runtime has been shut down.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Whether the runtime is in debug mode now (see
    /// [`Runtime::set_debug`](crate::Runtime::set_debug)).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(1).debug(false).build().unwrap();
    /// let handle = rt.handle();
    /// assert!(!handle.is_debug());
    /// rt.set_debug(true);
    /// assert!(handle.is_debug());
    /// rt.close();
    /// ```
    pub fn is_debug(&self) -> bool {
        self.shared.is_debug()
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<Handle '{}' loops={}>",
            self.shared.config.thread_name,
            self.shared.num_loops()
        )
    }
}

pub(crate) fn block_on<F: Future>(
    shared: &Arc<Shared>,
    fut: F,
    api: &'static str,
    location: &'static Location<'static>,
) -> F::Output {
    check_blocking_wait(api, location);
    // The await graph: this thread is a node, awaiting what `fut` awaits.
    let _wait = crate::task::trace::BlockingWait::enter(api, location)
        .awaiting_here(shared.sched.directory_owner());
    let _enter = context::enter(shared.clone());
    let _budget = crate::task::coop::unconstrained();
    let parker = std::sync::Arc::new(ThreadWaker::new());
    let waker = Waker::from(parker.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        crate::task::trace::block_on_poll_starts();
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        parker.wait();
    }
}

/// A blocking wait on a loop thread stalls every task of that loop, and
/// deadlocks if what it waits for needs the loop. Debug mode panics;
/// production warns once per call site.
pub(crate) fn check_blocking_wait(api: &str, location: &'static Location<'static>) {
    let Some((index, debug, name)) = context::with_core(|c| {
        c.map(|c| {
            (
                c.index,
                c.shared.is_debug(),
                c.shared.loops[c.index].thread_name.clone(),
            )
        })
    }) else {
        return;
    };
    let msg = format!(
        "{api} called at {location} on loop {index} (thread '{name}'): a blocking wait on a loop \
         thread stalls every task of that loop and deadlocks if the awaited work needs it. \
         `.await` the future instead, or call {api} from a thread that is not a loop"
    );
    if debug {
        panic!("{msg}");
    }
    // A process-wide warn-once registry, not a protocol: outside loom's
    // model under the feature `loom` too (a static needs a const lock).
    static WARNED: parking_lot::Mutex<Vec<(&'static str, u32, u32)>> =
        parking_lot::const_mutex(Vec::new());
    let key = (location.file(), location.line(), location.column());
    let mut warned = WARNED.lock();
    if !warned.contains(&key) {
        warned.push(key);
        drop(warned);
        log::warn!(target: "loopwork", "{msg}");
    }
}
