//! The blocking pool behind `spawn_blocking` / `run_in_executor` (the
//! public side is `crate::blocking`); each runtime owns one.
//!
//! A blocking job is an ordinary loopwork task (one allocation, the same state
//! word and `Task<R>` join handle) whose future, [`BlockingTask`], calls the
//! closure on its only poll, and whose [`Schedule`](crate::task::Schedule)
//! hook, [`BlockingScheduler`], belongs to the pool. A pool thread runs a job
//! with `Notified::run`, exactly as a loop polls a task, so panics become
//! `TaskError::Panicked`, `Task::cancel` before the start means the closure is
//! dropped unrun, and the joiner is woken through the usual join waker.
//!
//! # Protocol
//!
//! One mutex guards one `State`; every field below is read and written only
//! under it. The [`Condvar`](crate::sync::Condvar)s are `work_cv` (idle
//! workers wait for a job) and `exit_cv` (shutdown waits for workers to exit).
//!
//! | field | written by | meaning |
//! |---|---|---|
//! | `queue` | `submit` pushes; workers pop; `shutdown` drains | jobs accepted, not yet taken |
//! | `num_threads` | `submit` (+1, when it spawns); a worker (−1, in its last critical section) | workers alive |
//! | `num_idle` | a worker (+1 going idle, −1 leaving on keep-alive/shutdown); `submit` (−1, claiming) | waiting workers nobody claimed |
//! | `num_notify` | `submit` (+1, claiming); the waking worker (−1) | claims not yet consumed |
//! | `shutdown` | `shutdown` (once) | refuse new jobs, workers exit when idle |
//! | `workers`, `last_exiting` | `submit` (insert), keep-alive leavers, `shutdown` | join handles |
//!
//! **Submit** (any thread): lock; if `shutdown`, unlock and cancel the job.
//! Else push it, then exactly one of: (a) `num_idle > 0`: claim a waiter
//! (`num_idle -= 1; num_notify += 1; notify_one`); (b) `num_threads < cap`:
//! spawn a thread *while holding the lock* and count it; (c) at the cap with
//! no idle worker: nothing — every worker is busy, and a busy worker pops the
//! queue under this lock after each job before it may go idle, so it will see
//! the push.
//!
//! **Worker**: lock; pop and run jobs (unlocking around each run) until the
//! queue is empty. If `shutdown`, exit. Else go idle (`num_idle += 1`) and
//! wait on `work_cv` up to the keep-alive. On waking: if `num_notify > 0`,
//! consume one claim (`num_notify -= 1`, the claimer already took us out of
//! `num_idle`) and go back to popping; else if `shutdown`, leave
//! (`num_idle -= 1`); else if the wait timed out, leave (`num_idle -= 1`,
//! hand our join handle to `last_exiting`); else (spurious) wait again.
//! Leaving: `num_threads -= 1`, and under shutdown `notify_all(exit_cv)`.
//!
//! **Why no wakeup is lost.** Invariant: the workers inside the idle wait
//! loop number exactly `num_idle + num_notify`. A job is pushed under the
//! lock, and the producer's decision is made in that same critical section,
//! so the worker side has either (i) not yet checked the queue — it will pop
//! the job — or (ii) registered as idle, in which case the producer sees
//! `num_idle > 0` and leaves a claim in `num_notify` that outlives the
//! `notify_one` itself: a worker that wakes late, times out at the same
//! moment, or is not the one the condvar picked still finds the claim before
//! it considers leaving; a worker leaves on keep-alive only when
//! `num_notify == 0` under the lock, i.e. no job is waiting for it. At the cap
//! case (c) relies on (i) for a busy worker. tokio's regression #8056 (a
//! blocking job stranded at the thread cap; the sharded queue of #7757 was
//! reverted) came from taking the push and the spawn-or-notify decision out
//! of the lock that orders them against the workers' "queue empty → idle or
//! exit" step; here the two are one critical section by construction. A
//! failed thread spawn with no thread alive cancels the queued jobs instead
//! of stranding them (tokio #8406).
//!
//! **Keep-alive**: an idle worker waits with `crate::sync`'s
//! `Condvar::wait_timeout`. Under loom there is no clock: the idle wait
//! releases the lock, yields, re-takes it and reports a timeout, so loom
//! explores a producer claiming the worker in that window (the claim must
//! win over the timeout) as well as the worker leaving unclaimed.
//!
//! **Shutdown** (`Runtime::shutdown`, after the loops have finished):
//! 1. lock; set `shutdown`; drain the queue; `notify_all(work_cv)`; unlock;
//! 2. cancel the drained jobs (outside the lock: dropping a closure runs user
//!    code): their joiners see `Cancelled`; later `submit`s are cancelled too;
//! 3. wait on `exit_cv` until `num_threads` is 0 — without limit for
//!    `close()`, up to the remaining budget for `shutdown_timeout(d)`; jobs
//!    still running then are left detached (their threads exit after the
//!    job) and counted in a warning;
//! 4. if all exited, join every thread (`workers` and `last_exiting`).
//!
//! A shutdown started from a pool thread (a job that closes the runtime) does
//! not wait for its own thread.

mod pool;
mod task;

#[cfg(loopwork_loom)]
pub mod loom_api;

pub use pool::BlockingMetrics;

pub(crate) use pool::BlockingPool;
pub(crate) use task::{BlockingScheduler, BlockingTask};
