//! `shield(task)`: await a task without letting outer cancellation reach it.

use crate::debug::unawaited::Origin;
use crate::task::{Task, TaskError};
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Awaits `task`, but cancelling or dropping the awaiting side leaves the
/// task running (asyncio's `shield`). Without it, a `Task` dropped by a
/// timed-out [`wait_for`](crate::wait_for) is cancelled.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// loopwork::run(async {
///     let task = loopwork::spawn(async {
///         loopwork::sleep(Duration::from_millis(20)).await;
///         "finished anyway"
///     });
///     let id = task.id();
///     // The timeout fires, but the shielded task is not cancelled.
///     let res = loopwork::wait_for(Duration::from_millis(1), loopwork::shield(task)).await;
///     assert!(res.is_err());
///     # let _ = id;
/// });
/// ```
#[track_caller]
pub fn shield<T>(task: Task<T>) -> Shield<T> {
    Shield {
        task: Some(task),
        origin: Origin::new(Location::caller()),
    }
}

/// The future of [`shield`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Shield<T> {
    task: Option<Task<T>>,
    origin: Origin,
}

impl<T> Future for Shield<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.origin.consume();
        let task = self.task.as_mut().expect("Shield polled after completion");
        let out = Pin::new(task).poll(cx);
        if out.is_ready() {
            self.task = None;
        }
        out
    }
}

impl<T> Drop for Shield<T> {
    fn drop(&mut self) {
        if let Some(mut task) = self.task.take() {
            // The await ends here (the edge goes), but the task is
            // detached, never cancelled, even inside a timeout's cancel scope.
            if let Some(h) = task.header() {
                crate::task::trace::await_ended(h);
            }
            task.forget_awaited();
        }
        self.origin
            .check_dropped("Shield", "the shielded task keeps running, detached");
    }
}
