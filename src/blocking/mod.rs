//! Running blocking code: [`spawn_blocking`], `Handle::spawn_blocking`,
//! `LoopHandle::run_in_executor` / `run_in_executor_on` (asyncio's
//! `loop.run_in_executor`), and [`BlockingExecutor`] for jobs run on a
//! thread pool of the caller's own.
//!
//! A blocking job is a loopwork task like any other: it returns a
//! [`Task`](crate::task::Task) to await, cancel before it starts, or detach;
//! a panic in the job resolves it to `Panicked` and never takes a thread of
//! the pool down. The pool itself (threads started on demand up to
//! `Builder::max_blocking_threads`, kept `Builder::blocking_keep_alive`
//! when idle, shut down last by `Runtime::close`) is documented with its
//! protocol in the runtime's source (`runtime/blocking`).

mod executor;

pub use crate::runtime::blocking::BlockingMetrics;
pub use executor::BlockingExecutor;

mod spawn;

pub use spawn::spawn_blocking;

pub(crate) use executor::ExecutorJob;
