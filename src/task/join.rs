//! `Task<T>`: the join handle of a spawned task.

use super::trace::{self, LeafKind};
use super::{Header, RawTask, TaskError, TaskId};
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A handle to a spawned task: await it for the task's output.
///
/// `Task<T>` is a `Future<Output = Result<T, TaskError>>`. Dropping it
/// **detaches** the task, which keeps running (as dropping a tokio
/// `JoinHandle` does); call [`cancel`](Task::cancel) to stop it.
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let task = loopwork::spawn(async { 6 * 7 });
///     assert_eq!(task.await.unwrap(), 42);
/// });
/// ```
pub struct Task<T> {
    raw: Option<RawTask>,
    /// Whether this handle has been polled, i.e. something awaits the task.
    awaited: bool,
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves the output (`T`) across threads, through the
// state-word protocol; it never touches the future.
unsafe impl<T: Send> Send for Task<T> {}
// SAFETY: `&Task` only reads the state word and the immutable metadata.
unsafe impl<T: Send> Sync for Task<T> {}
impl<T> Unpin for Task<T> {}

impl<T> Task<T> {
    pub(crate) fn from_raw(raw: RawTask) -> Task<T> {
        Task {
            raw: Some(raw),
            awaited: false,
            _output: PhantomData,
        }
    }

    fn raw(&self) -> RawTask {
        self.raw.expect("task handle used after detach")
    }

    /// The task's header (for the await graph of handles that wrap a `Task`).
    pub(crate) fn header(&self) -> Option<&Header> {
        self.raw.as_ref().map(|r| r.header())
    }

    /// Requests cancellation. The future is dropped at its next scheduling
    /// point — never in the middle of a poll — on the thread that would have
    /// polled it (its own loop, for a pinned task). Awaiting the task then
    /// gives [`TaskError::Cancelled`]. Cancelling a finished task does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     let task = loopwork::spawn(std::future::pending::<()>());
    ///     task.cancel();
    ///     assert!(task.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn cancel(&self) {
        let raw = self.raw();
        if raw.header().state.transition_to_notified_and_cancel() {
            raw.schedule();
        }
    }

    /// Whether the task has completed (with a value, a panic or a cancellation).
    pub fn is_finished(&self) -> bool {
        self.raw().header().state.load().is_complete()
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.raw().header().meta.id
    }

    /// The name given with [`Builder::name`](crate::task::Builder::name).
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     let task = loopwork::task::Builder::new().name("worker").spawn(async {});
    ///     assert_eq!(task.name(), Some("worker"));
    /// });
    /// ```
    pub fn name(&self) -> Option<&str> {
        // SAFETY of the lifetime: the metadata lives as long as the task,
        // which this handle keeps alive.
        self.raw.as_ref()?.header().meta.name()
    }

    /// Makes a later drop detach the task even inside a `CancelScope`.
    pub(crate) fn forget_awaited(&mut self) {
        self.awaited = false;
    }

    /// Drops the handle; the task keeps running. Same as `drop(task)`, named.
    pub fn detach(self) {
        drop(self);
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.awaited = true;
        super::coop::poll(cx, |cx| {
            let mut out: Poll<Result<T, TaskError>> = Poll::Pending;
            // SAFETY: `out` has exactly the task's output type.
            unsafe {
                self.raw()
                    .try_read_output(&mut out as *mut _ as *mut (), cx.waker())
            };
            // The await graph: an edge while pending, removed once the
            // output is taken (see `trace.rs`).
            let raw = self.raw();
            if out.is_pending() {
                trace::awaiting(raw.header(), LeafKind::Join);
            } else {
                trace::await_ended(raw.header());
            }
            out
        })
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        if let Some(raw) = self.raw.take() {
            if self.awaited {
                // The await ends with the handle (cancelled or dropped).
                trace::await_ended(raw.header());
            }
            if self.awaited && CancelScope::is_active() {
                // Dropped by a timeout while being awaited: asyncio cancels
                // the awaited task in that case, and so do we.
                if raw.header().state.transition_to_notified_and_cancel() {
                    raw.schedule();
                }
            }
            raw.drop_join_handle();
        }
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.raw {
            Some(raw) => write!(f, "{}", raw.header()),
            None => f.write_str("<Task detached>"),
        }
    }
}

#[cfg(not(loopwork_loom))]
thread_local! {
    static CANCEL_ON_DROP: Cell<usize> = const { Cell::new(0) };
}
// loom runs every modelled thread on one OS thread: a std thread-local would
// be shared between them, so the models use loom's per-thread one.
#[cfg(loopwork_loom)]
loom::thread_local! {
    static CANCEL_ON_DROP: Cell<usize> = Cell::new(0);
}

/// While alive, a `Task` that is dropped after being awaited cancels its task
/// instead of detaching it. `wait_for` drops a timed-out future inside one.
pub(crate) struct CancelScope(());

impl CancelScope {
    pub(crate) fn enter() -> CancelScope {
        CANCEL_ON_DROP.with(|c| c.set(c.get() + 1));
        CancelScope(())
    }

    fn is_active() -> bool {
        CANCEL_ON_DROP.try_with(|c| c.get() > 0).unwrap_or(false)
    }
}

impl Drop for CancelScope {
    fn drop(&mut self) {
        CANCEL_ON_DROP.with(|c| c.set(c.get() - 1));
    }
}
