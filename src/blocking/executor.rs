//! `BlockingExecutor`: route blocking jobs to a pool of the user's own.

use crate::task::Notified;

/// Something that runs jobs on threads of its own: a rayon pool, a
/// dedicated thread, a process-wide worker pool. Used by
/// [`LoopHandle::run_in_executor_on`](crate::runtime::LoopHandle::run_in_executor_on),
/// as asyncio's `loop.run_in_executor(executor, func)`.
///
/// `execute` should run `job` once, on any thread. If the executor drops the
/// job without running it (it is shutting down, its queue is full), the
/// task resolves to [`TaskError::Cancelled`](crate::TaskError::Cancelled):
/// nothing waits forever.
///
/// Any `Fn(Box<dyn FnOnce() + Send>)` closure is an executor.
///
/// # Examples
///
/// ```
/// use loopwork::blocking::BlockingExecutor;
///
/// /// One fresh thread per job.
/// struct ThreadPerJob;
///
/// impl BlockingExecutor for ThreadPerJob {
///     fn execute(&self, job: Box<dyn FnOnce() + Send>) {
///         std::thread::Builder::new()
///             .name("my-executor".into())
///             .spawn(job)
///             .expect("spawn a thread");
///     }
/// }
///
/// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
/// let task = rt
///     .loop_handle(0)
///     .run_in_executor_on(&ThreadPerJob, || std::thread::current().name().map(str::to_owned));
/// assert_eq!(rt.block_on(task).unwrap().as_deref(), Some("my-executor"));
/// rt.close();
/// ```
pub trait BlockingExecutor {
    /// Runs `job`, typically on another thread.
    fn execute(&self, job: Box<dyn FnOnce() + Send>);
}

impl<F> BlockingExecutor for F
where
    F: Fn(Box<dyn FnOnce() + Send>),
{
    fn execute(&self, job: Box<dyn FnOnce() + Send>) {
        self(job)
    }
}

/// The job handed to a user executor: runs the task, or cancels it if the
/// executor drops the job unrun. A `Notified` dropped without being run would
/// only release its reference and leave the task queued forever; shutting it
/// down completes it as `Cancelled` and drops the closure here.
pub(crate) struct ExecutorJob(Option<Notified>);

impl ExecutorJob {
    pub(crate) fn new(task: Notified) -> ExecutorJob {
        ExecutorJob(Some(task))
    }

    pub(crate) fn run(mut self) {
        if let Some(task) = self.0.take() {
            task.run();
        }
    }
}

impl Drop for ExecutorJob {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.shutdown();
        }
    }
}
