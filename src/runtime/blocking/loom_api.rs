//! Entry points for the blocking pool's loom model
//! (`loom-tests/tests/blocking_pool.rs`); exists only under
//! `--cfg loopwork_loom`, re-exported as `loopwork::__loom::blocking`.
//!
//! Thin forwarding wrappers over the real pool: `submit`, the worker loop,
//! the idle/claim counters, keep-alive exit and `shutdown` are the code the
//! runtime runs; only thread names are absent under loom.

use super::{BlockingPool, BlockingScheduler, BlockingTask};
use crate::task::{new_task, Task, TaskKind, TaskMeta};
use std::panic::Location;
use std::time::Duration;

pub use super::BlockingMetrics;

/// A blocking pool (`crate::blocking::BlockingPool`).
pub struct Pool(BlockingPool);

impl Pool {
    /// A pool of at most `thread_cap` threads. Keep-alive has no clock under
    /// loom: an idle worker may leave as soon as it finds no work.
    pub fn new(thread_cap: usize) -> Pool {
        Pool(BlockingPool::new(
            thread_cap,
            Duration::from_secs(10),
            "loom".to_owned(),
        ))
    }

    /// Submits `f` as a blocking job (as `spawn_blocking` does, minus the
    /// runtime context).
    #[track_caller]
    pub fn spawn<F, R>(&self, f: F) -> Task<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (notified, task) = new_task(
            BlockingTask::new(f),
            BlockingScheduler::pool(self.0.clone()),
            TaskMeta::new(None, Location::caller(), TaskKind::Blocking),
        );
        self.0.submit(notified);
        task
    }

    /// `BlockingPool::shutdown`: `wait` = `close()` (wait for running jobs
    /// without limit); otherwise a zero budget (`shutdown_timeout(0)`).
    /// Returns the number of threads left running a job.
    pub fn shutdown(&self, wait: bool) -> usize {
        self.0
            .shutdown(if wait { None } else { Some(Duration::ZERO) })
    }

    /// The pool's counters.
    pub fn stats(&self) -> BlockingMetrics {
        self.0.stats()
    }
}
