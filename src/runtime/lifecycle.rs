//! The runtime's life: `Runtime` (start, `block_on`, shutdown), `run`, and
//! the `Closed` error (see the shutdown protocol in the module docs of
//! `runtime`).

use super::callbacks;
use super::context;
use super::shared::{InboxItem, Shared};
use super::{Builder, Handle, LoopHandle, RuntimeMetrics};
use crate::sync::thread::JoinHandle;
use crate::sync::Arc;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::time::Duration;

/// How long `Drop` waits for the loops to finish before leaving them detached.
const DROP_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// How often `close()` warns about loops that still hold it up.
const CLOSE_WARN_INTERVAL: Duration = Duration::from_secs(10);

/// A set of event loops: one OS thread each, with work stealing between them.
///
/// # Examples
///
/// ```
/// let rt = loopwork::Runtime::builder().loops(2).build().unwrap();
/// let answer = rt.block_on(async { loopwork::spawn(async { 42 }).await.unwrap() });
/// assert_eq!(answer, 42);
/// rt.close();
/// ```
pub struct Runtime {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    shut_down: bool,
}

/// The runtime (or loop) is closed: the submission was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed(pub(crate) ());

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the loopwork runtime is closed")
    }
}

impl std::error::Error for Closed {}

impl Runtime {
    /// A [`Builder`] with the default settings.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A runtime with the default settings: one loop per CPU.
    ///
    /// # Errors
    /// As [`Builder::build`].
    pub fn new() -> std::io::Result<Runtime> {
        Builder::new().build()
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn from_parts(shared: Arc<Shared>, threads: Vec<JoinHandle<()>>) -> Runtime {
        Runtime {
            shared,
            threads,
            shut_down: false,
        }
    }

    /// Runs `fut` on the calling thread until it completes, while the loops
    /// run spawned tasks. Inside, [`spawn`](crate::spawn), [`sleep`](crate::sleep)
    /// and friends use this runtime.
    ///
    /// The future itself is polled on the calling thread (as tokio's
    /// `block_on`), so it need not be `Send`; it cannot use
    /// [`spawn_local`](crate::spawn_local), which needs a loop thread.
    ///
    /// Calling it on a loop thread would stall that loop: debug mode panics,
    /// production logs a warning once per call site.
    #[track_caller]
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        super::handle::block_on(&self.shared, fut, "Runtime::block_on", Location::caller())
    }

    /// A handle to spawn onto this runtime from any thread.
    pub fn handle(&self) -> Handle {
        Handle::new(self.shared.clone())
    }

    /// The handle of loop `i`.
    ///
    /// # Panics
    /// If `i >= self.loops()`.
    pub fn loop_handle(&self, i: usize) -> LoopHandle {
        self.handle().loop_handle(i)
    }

    /// The number of loops.
    pub fn loops(&self) -> usize {
        self.shared.num_loops()
    }

    /// Turns debug mode on or off while running (asyncio's
    /// `loop.set_debug`). Every loop reads the flag before each task poll and
    /// each callback, so the change reaches all loops at their next poll; the
    /// per-object parts follow the mode at creation (a task spawned while
    /// debug mode was off has no spawn backtrace).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(2).debug(false).build().unwrap();
    /// rt.set_debug(true);
    /// assert!(rt.debug());
    /// // Every loop sees it from its next poll on.
    /// for i in 0..2 {
    ///     let on = rt.loop_handle(i).run_coroutine_threadsafe(async {
    ///         loopwork::runtime::Handle::try_current().unwrap().is_debug()
    ///     });
    ///     assert!(on.result().unwrap());
    /// }
    /// rt.close();
    /// ```
    pub fn set_debug(&self, on: bool) {
        self.shared.set_debug(on);
        if on {
            super::watchdog::start(&self.shared);
        }
    }

    /// Whether debug mode is on.
    pub fn debug(&self) -> bool {
        self.shared.is_debug()
    }

    /// Counters of what each loop did.
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::collect(&self.shared)
    }

    /// Shuts down, waiting at most `timeout` for the loops to cancel their
    /// tasks. Loops still busy after that (stuck in a blocking call inside a
    /// task) are left detached and reported at warn level.
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(Some(timeout));
    }

    /// Shuts down: cancels every pending task (their joiners see
    /// [`TaskError::Cancelled`](crate::TaskError::Cancelled)), waits for the
    /// loops to finish, and joins their threads.
    ///
    /// A loop held by a task stuck in a blocking call cannot be preempted:
    /// `close` waits for it, logging at warn every 10 s which loops are
    /// still busy. [`shutdown_timeout`](Runtime::shutdown_timeout) bounds
    /// the wait instead.
    ///
    /// Each task it cancels that was still pending, not cancelled before and
    /// not spawned as a [background](crate::task::Builder::background) task
    /// is logged at error, `Task was destroyed but it is pending!` (at most
    /// ten lines, then a count): work cut off by the close is never lost
    /// silently (see the guide's "Pending task destroyed").
    pub fn close(mut self) {
        self.shutdown(None);
    }

    fn shutdown(&mut self, timeout: Option<Duration>) {
        if std::mem::replace(&mut self.shut_down, true) {
            return;
        }
        let shared = &self.shared;
        shared.sched.close();
        let own = context::with_core(|c| c.filter(|c| c.belongs_to(shared)).map(|c| c.index));
        let target = shared.num_loops() - usize::from(own.is_some());
        let deadline = timeout.map(|t| crate::sync::now().checked_add(t));
        let mut finished = shared.finished.lock();
        let mut waited = Duration::ZERO;
        while *finished < target {
            match deadline {
                None | Some(None) => {
                    // No bound: wait, but say which loops hold the close up
                    // (a task stuck in a blocking call cannot be preempted).
                    let timed_out = shared
                        .finished_cv
                        .wait_timeout(finished, CLOSE_WARN_INTERVAL);
                    finished = timed_out.0;
                    if timed_out.1 && *finished < target {
                        waited += CLOSE_WARN_INTERVAL;
                        log::warn!(
                            target: "loopwork",
                            "close: loops {:?} are still busy after {waited:?} (a task blocked in a system call or a long computation); close() keeps waiting for them: use shutdown_timeout(d) to bound the wait",
                            busy_loops(shared)
                        );
                    }
                }
                Some(Some(d)) => {
                    let now = crate::sync::now();
                    if now >= d {
                        break;
                    }
                    finished = shared.finished_cv.wait_timeout(finished, d - now).0;
                }
            }
        }
        let all_done = *finished >= target;
        drop(finished);
        let threads = std::mem::take(&mut self.threads);
        if all_done {
            for (i, t) in threads.into_iter().enumerate() {
                if Some(i) != own {
                    let _ = t.join();
                }
            }
        } else {
            let busy = busy_loops(shared);
            log::warn!(
                target: "loopwork",
                "shutdown_timeout: loops {busy:?} were still busy after {:?}; their threads are left detached",
                timeout.unwrap_or_default()
            );
        }
        // What was pushed after the loops' last pass: only references remain.
        while let Some(t) = shared.sched.pop_injector() {
            t.shutdown();
        }
        let mut dropped_callbacks = 0;
        for l in shared.loops.iter() {
            if l.closed.load(crate::sync::atomic::Ordering::SeqCst) {
                shared.sched.loops[l.index].drain_inbox(|item| match item {
                    // Never polled on its loop: cancel it here so its
                    // joiner (or ConcurrentFuture) resolves. A pinned
                    // future is leaked by its wrapper rather than dropped
                    // off its loop.
                    InboxItem::Task(t) => t.shutdown(),
                    InboxItem::Timer(entry) => entry.fire(),
                    InboxItem::Callback { f, state, .. } => {
                        dropped_callbacks += usize::from(callbacks::mark_dropped(&state));
                        drop(f);
                    }
                    other => drop(other),
                });
            }
        }
        callbacks::report_dropped(shared.is_debug(), dropped_callbacks, "shutdown");
        shared.sched.destroyed.finish();
        // The task directory lets go of this runtime's finished tasks.
        crate::task::directory::release(shared.sched.directory_owner());
        // After the loops: one that held the close up was still watched.
        shared.watchdog.stop();
        // The blocking pool last (see `crate::blocking`): queued jobs are
        // cancelled, running ones get what is left of the budget.
        let budget = match deadline {
            Some(Some(d)) => Some(d.saturating_duration_since(crate::sync::now())),
            None | Some(None) => None,
        };
        let detached = shared.blocking.shutdown(budget);
        if detached > 0 {
            log::warn!(
                target: "loopwork",
                "shutdown_timeout: {detached} blocking job(s) still running after {:?}; their threads are left detached",
                timeout.unwrap_or_default()
            );
        }
    }
}

/// The loops that have not finished their shutdown.
fn busy_loops(shared: &Shared) -> Vec<usize> {
    shared
        .loops
        .iter()
        .filter(|l| !l.closed.load(crate::sync::atomic::Ordering::SeqCst))
        .map(|l| l.index)
        .collect()
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if !self.shut_down {
            // asyncio's ResourceWarning: loud in debug mode only, since the
            // drop still shuts down (bounded), which is correct if implicit.
            crate::debug::report_unclosed_runtime(
                &format_args!("{self:?}"),
                self.shared.is_debug(),
            );
            self.shutdown(Some(DROP_SHUTDOWN_TIMEOUT));
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<Runtime loops={} name='{}' debug={}>",
            self.shared.num_loops(),
            self.shared.config.thread_name,
            self.shared.is_debug()
        )
    }
}

/// Builds the default runtime, runs `fut` to completion on it, and shuts it
/// down (asyncio's `asyncio.run`).
///
/// # Panics
/// If the runtime cannot be started.
///
/// # Examples
///
/// ```
/// let n = loopwork::run(async {
///     let tasks: Vec<_> = (0..10).map(|i| loopwork::spawn(async move { i * 2 })).collect();
///     let mut sum = 0;
///     for t in tasks {
///         sum += t.await.unwrap();
///     }
///     sum
/// });
/// assert_eq!(n, 90);
/// ```
#[track_caller]
pub fn run<F: Future>(fut: F) -> F::Output {
    run_with(Builder::new(), fut)
}

/// As [`run`], on a runtime configured by `builder`: the counterpart of
/// asyncio's `asyncio.run(main(), debug=True)`.
///
/// # Panics
/// If the runtime cannot be started.
///
/// # Examples
///
/// ```
/// use loopwork::Runtime;
///
/// let answer = loopwork::run_with(Runtime::builder().debug(true).loops(2), async {
///     assert!(loopwork::runtime::Handle::try_current().unwrap().is_debug());
///     loopwork::spawn(async { 6 * 7 }).await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
#[track_caller]
pub fn run_with<F: Future>(builder: Builder, fut: F) -> F::Output {
    let rt = builder
        .build()
        .unwrap_or_else(|e| panic!("loopwork::run: cannot start the runtime: {e}"));
    let out = rt.block_on(fut);
    rt.close();
    out
}
