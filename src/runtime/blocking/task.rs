//! A blocking job as an ordinary task: the `BlockingTask` future and its
//! `Schedule` hook.
//!
//! The future calls the closure on its first (and only) poll. The state word
//! does the rest: a job cancelled while queued is never polled —
//! `transition_to_running` reports `Cancelled` and the closure is dropped —
//! and a panic in the closure is caught by the raw task and becomes
//! `TaskError::Panicked`.
//!
//! A job cancelled *while it runs* cannot be interrupted; when the closure
//! returns, the future sees `CANCELLED` on its own task, drops the result and
//! returns `Pending`, so `transition_to_idle` hands the cancellation back to
//! the raw task and the joiner gets `Cancelled` (asyncio discards the result
//! of a cancelled `run_in_executor` future the same way). The future finds
//! its own task through a thread-local that the scheduler's `before_poll`
//! sets; under loom, whose threads share one OS thread, that check is off and
//! a job cancelled mid-run delivers its result.

use super::BlockingPool;
use crate::task::{Notified, RawTask, Schedule};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs `func` once, on first poll.
pub(crate) struct BlockingTask<F> {
    func: Option<F>,
}

impl<F> BlockingTask<F> {
    pub(crate) fn new(func: F) -> BlockingTask<F> {
        BlockingTask { func: Some(func) }
    }
}

// The closure is never pinned: it is moved out before it is called.
impl<F> Unpin for BlockingTask<F> {}

impl<F, R> Future for BlockingTask<F>
where
    F: FnOnce() -> R,
{
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let func = self
            .func
            .take()
            .expect("loopwork bug: a blocking task was polled twice");
        // Read before calling `func`: a nested blocking task polled inside it
        // (an inline user executor) overwrites the thread-local.
        let me = running::current();
        let out = func();
        if let Some(me) = me {
            if me.header().state.load().is_cancelled() {
                // Cancelled while running: the result is nobody's. `Pending`
                // with CANCELLED set makes the raw task complete as Cancelled.
                drop(out);
                return Poll::Pending;
            }
        }
        Poll::Ready(out)
    }
}

/// Where a blocking job goes if it is ever scheduled again.
///
/// A blocking task is never idle — it is queued (NOTIFIED), running, or
/// complete — so neither wakers nor `Task::cancel` call `schedule` in
/// practice. Should it happen, a pool job is resubmitted to its pool and a
/// user-executor job (whose executor is not kept) is cancelled: a joiner
/// never hangs.
pub(crate) struct BlockingScheduler {
    pool: Option<BlockingPool>,
}

impl BlockingScheduler {
    /// For a job of the runtime's pool.
    pub(crate) fn pool(pool: BlockingPool) -> BlockingScheduler {
        BlockingScheduler { pool: Some(pool) }
    }

    /// For a job handed to a user executor.
    pub(crate) fn detached() -> BlockingScheduler {
        BlockingScheduler { pool: None }
    }
}

impl Schedule for BlockingScheduler {
    fn schedule(&self, task: Notified) {
        match &self.pool {
            Some(pool) => pool.submit(task),
            None => task.shutdown(),
        }
    }

    fn before_poll(&self, task: RawTask) {
        running::set(Some(task));
        // For the dumps: what runs on this thread, and since when.
        crate::task::trace::blocking_job_starts(task.header());
    }

    fn after_poll(&self, _task: RawTask, _pending: bool) {
        running::set(None);
        crate::task::trace::blocking_job_ends();
    }
}

/// A running blocking job hands the poller its own task through this slot
/// (a thread-local through the switch: loom's under loom).
mod running {
    use crate::task::RawTask;
    use std::cell::Cell;

    crate::sync::loop_thread_local! {
        static RUNNING: Cell<Option<RawTask>> = Cell::new(None);
    }

    /// The blocking task being polled on this thread. Valid to use for the
    /// rest of that poll: the poller holds the task's running reference.
    pub(super) fn current() -> Option<RawTask> {
        RUNNING.try_with(|r| r.get()).ok().flatten()
    }

    pub(super) fn set(task: Option<RawTask>) {
        let _ = RUNNING.try_with(|r| r.set(task));
    }
}

// The hooks driven by hand on the test thread: what no pool run shows (the
// fallback `schedule` that nothing reaches in practice, the slot left
// behind after a poll).
#[cfg(test)]
#[cfg(not(loopwork_loom))]
mod tests {
    use super::*;
    use crate::task::{new_task, Task, TaskKind, TaskMeta};
    use futures::FutureExt;
    use std::panic::Location;
    use std::time::Duration;

    #[track_caller]
    fn job<R: 'static>(
        f: impl FnOnce() -> R + Send + 'static,
        scheduler: BlockingScheduler,
    ) -> (Notified, Task<R>) {
        new_task(
            BlockingTask::new(f),
            scheduler,
            TaskMeta::new(None, Location::caller(), TaskKind::Blocking),
        )
    }

    #[test]
    fn a_scheduled_user_executor_job_is_cancelled_so_its_joiner_never_hangs() {
        let (notified, task) = job(
            || unreachable!("cancelled, never run"),
            BlockingScheduler::detached(),
        );
        BlockingScheduler::detached().schedule(notified);
        let out = task.now_or_never().expect("the joiner is answered at once");
        assert!(out.unwrap_err().is_cancelled());
    }

    #[test]
    fn a_scheduled_pool_job_is_resubmitted_to_its_pool() {
        let pool = BlockingPool::new(1, Duration::from_secs(600), "unit".to_owned());
        let (ran_tx, ran) = std::sync::mpsc::channel();
        let (notified, task) = job(
            move || ran_tx.send(7).unwrap(),
            BlockingScheduler::pool(pool.clone()),
        );
        BlockingScheduler::pool(pool.clone()).schedule(notified);
        // Bounded: a job that was dropped instead would never send.
        assert_eq!(ran.recv_timeout(Duration::from_secs(10)), Ok(7));
        futures::executor::block_on(task).unwrap();
        assert_eq!(pool.shutdown(None), 0);
    }

    #[test]
    fn the_running_slot_holds_the_job_during_its_poll_only() {
        let (notified, task) = job(
            || running::current().is_some(),
            BlockingScheduler::detached(),
        );
        assert!(running::current().is_none());
        notified.run();
        assert!(
            task.now_or_never().expect("the job ran").unwrap(),
            "the job found itself in the slot while it ran"
        );
        assert!(
            running::current().is_none(),
            "the finished (and freed) job's pointer was left in the thread's slot"
        );
    }
}
