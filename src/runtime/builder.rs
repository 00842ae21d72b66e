//! `Builder`: configures and starts a runtime.

use super::blocking::BlockingPool;
use super::event_loop::LoopCore;
use super::shared::{Config, LoopShared, Shared};
use super::Runtime;
use crate::reactor::Driver;
use crate::scheduler::queue::Worker;
use crate::scheduler::{LoopScheduler, Scheduler, Tuning};
use crate::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use crate::sync::{Arc, Condvar, Mutex};
use std::io;
use std::time::Duration;

/// Configures a [`Runtime`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let rt = loopwork::Runtime::builder()
///     .loops(2)
///     .thread_name("server")
///     .debug(true)
///     .slow_callback_duration(Duration::from_millis(50))
///     .build()
///     .unwrap();
/// assert_eq!(rt.loops(), 2);
/// assert!(rt.debug());
/// rt.close();
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    loops: usize,
    thread_name: String,
    debug: bool,
    slow_callback_duration: Duration,
    max_blocking_threads: usize,
    blocking_keep_alive: Duration,
    idle_spin: Duration,
    dump_signal: Option<i32>,
    watchdog_threshold: Option<Duration>,
    result_spin: Duration,
}

/// A busy sibling that has not started a new iteration for this long is
/// stalled: its I/O events may be collected by another loop.
const STALL: Duration = Duration::from_micros(500);
/// Default of [`Builder::idle_spin`].
const IDLE_SPIN: Duration = Duration::from_micros(25);
/// Default of [`Builder::result_spin`].
const RESULT_SPIN: Duration = Duration::from_micros(20);

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

/// Whether `LOOPWORK_DEBUG` asks for debug mode (`1`, `true`, `yes`, `on`).
pub(crate) fn debug_from_env() -> bool {
    std::env::var("LOOPWORK_DEBUG")
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
        .unwrap_or(false)
}

impl Builder {
    /// A builder with the defaults: one loop per CPU, debug mode from the
    /// `LOOPWORK_DEBUG` environment variable, 100 ms slow-callback threshold.
    /// Under the feature `loom`: one loop (a model's size must not depend
    /// on the machine).
    pub fn new() -> Builder {
        Builder {
            loops: if cfg!(loopwork_loom) {
                1
            } else {
                num_cpus::get().max(1)
            },
            thread_name: "loopwork".to_owned(),
            debug: debug_from_env(),
            slow_callback_duration: Duration::from_millis(100),
            max_blocking_threads: 512,
            blocking_keep_alive: Duration::from_secs(10),
            idle_spin: IDLE_SPIN,
            dump_signal: None,
            watchdog_threshold: None,
            result_spin: RESULT_SPIN,
        }
    }

    /// How long an idle loop that has just been handed work from another
    /// thread (`call_soon_threadsafe`, `run_coroutine_threadsafe`, a remote
    /// wake) keeps watching its queues before it parks. A foreign thread
    /// handing work over in a tight loop then finds the loop awake, which
    /// saves both sides the sleep and the wake-up; the price is up to this
    /// much CPU per handoff burst. The loop spins only while it pays: after
    /// a spin that found nothing it parks at once, until a handoff comes
    /// back within this window of the loop going idle. Default 25 µs;
    /// `Duration::ZERO` turns spinning off (for users who pay for CPU rather
    /// than latency; see also [`result_spin`](Builder::result_spin)). Under
    /// the feature `loom` spinning is always off (a spin on the real clock
    /// is no interleaving loom can explore), whatever is set here.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = loopwork::Runtime::builder()
    ///     .loops(1)
    ///     .idle_spin(Duration::ZERO)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
    /// rt.close();
    /// ```
    pub fn idle_spin(mut self, spin: Duration) -> Builder {
        self.idle_spin = spin;
        self
    }

    /// How long [`ConcurrentFuture::result`](crate::handoff::ConcurrentFuture::result)
    /// watches for the result before it sleeps, when the work was handed to
    /// a loop that was awake (a loop that was parked needs a wake-up first,
    /// which takes longer than a spin is worth, so the waiter sleeps at
    /// once). A result that comes within the window saves the waiter's
    /// sleep and wake-up; the price is up to this much CPU per wait. Default
    /// 20 µs; `Duration::ZERO` turns it off.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = loopwork::Runtime::builder()
    ///     .loops(1)
    ///     .idle_spin(Duration::ZERO)
    ///     .result_spin(Duration::ZERO) // no spinning anywhere
    ///     .build()
    ///     .unwrap();
    /// let fut = rt.loop_handle(0).run_coroutine_threadsafe(async { 6 * 7 });
    /// assert_eq!(fut.result().unwrap(), 42);
    /// rt.close();
    /// ```
    pub fn result_spin(mut self, spin: Duration) -> Builder {
        self.result_spin = spin;
        self
    }

    /// The number of loops (OS threads). Default: the number of CPUs.
    ///
    /// # Panics
    /// If `n` is 0 or above 65 535.
    pub fn loops(mut self, n: usize) -> Builder {
        assert!(
            n > 0,
            "Builder::loops(0): a runtime needs at least one loop"
        );
        assert!(n < 65_535, "Builder::loops({n}): at most 65 534 loops");
        self.loops = n;
        self
    }

    /// The prefix of thread names: loops are named `{prefix}-loop-{i}`.
    /// Default `"loopwork"`.
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Builder {
        self.thread_name = prefix.into();
        self
    }

    /// Turns debug mode on or off (default: the `LOOPWORK_DEBUG` variable).
    pub fn debug(mut self, on: bool) -> Builder {
        self.debug = on;
        self
    }

    /// A task poll or callback taking at least this long is logged in debug
    /// mode. Default 100 ms, as asyncio's `slow_callback_duration`.
    pub fn slow_callback_duration(mut self, d: Duration) -> Builder {
        self.slow_callback_duration = d;
        self
    }

    /// Debug mode: a loop that has been inside one task poll or callback
    /// for this long is reported by the watchdog thread *while it is still
    /// blocked* (at warn, once per episode, with the task, its spawn site
    /// and the loop's last scheduling events); when the poll ends, one line
    /// says how long the loop was blocked in total. Default: 10 ×
    /// [`slow_callback_duration`](Builder::slow_callback_duration) (1 s).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = loopwork::Runtime::builder()
    ///     .loops(1)
    ///     .debug(true)
    ///     .watchdog_threshold(Duration::from_millis(500))
    ///     .build()
    ///     .unwrap();
    /// rt.close();
    /// ```
    pub fn watchdog_threshold(mut self, d: Duration) -> Builder {
        self.watchdog_threshold = Some(d);
        self
    }

    /// The most threads the blocking pool may run at once. Default 512.
    ///
    /// # Panics
    /// If `n` is 0.
    pub fn max_blocking_threads(mut self, n: usize) -> Builder {
        assert!(
            n > 0,
            "Builder::max_blocking_threads(0): the pool needs a thread"
        );
        self.max_blocking_threads = n;
        self
    }

    /// Prints the task tree ([`Runtime::task_tree`]) to stderr whenever the
    /// process receives signal `signum` (e.g. `libc::SIGUSR1`, or
    /// `loopwork::signal::SignalKind::user_defined1().as_raw_value()`), from
    /// a thread of its own, so it works while every loop is blocked. Off by
    /// default; the environment variable `LOOPWORK_DUMP_SIGNAL=USR1` (or
    /// `USR2`, `QUIT`, `HUP`, `WINCH`, a number) turns it on as well; any
    /// other value makes [`build`](Builder::build) panic, naming it, rather
    /// than leave the opt-in silently off.
    ///
    /// The handler only writes a byte to a pipe (no allocation, no lock); it
    /// chains with other handlers of the signal, and the default action of
    /// the signal (for `SIGUSR1`: terminate) no longer applies.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder()
    ///     .loops(1)
    ///     .dump_on_signal(loopwork::signal::SignalKind::user_defined2().as_raw_value())
    ///     .build()
    ///     .unwrap();
    /// // `kill -USR2 <pid>` now prints the task tree to stderr.
    /// rt.close();
    /// ```
    ///
    /// [`Runtime::task_tree`]: crate::Runtime::task_tree
    pub fn dump_on_signal(mut self, signum: i32) -> Builder {
        self.dump_signal = Some(signum);
        self
    }

    /// How long an idle blocking thread waits for work before it exits. Default 10 s.
    pub fn blocking_keep_alive(mut self, d: Duration) -> Builder {
        self.blocking_keep_alive = d;
        self
    }

    /// Starts the loops.
    ///
    /// # Errors
    /// If a poller cannot be created or a thread cannot be spawned.
    pub fn build(self) -> io::Result<Runtime> {
        crate::debug::backtrace::set_probe(super::context::current_is_debug);
        if self.debug {
            crate::debug::backtrace::note_debug_on();
        }
        let n = self.loops;
        let workers: Vec<Worker<_>> = (0..n).map(|_| Worker::new_fifo()).collect();
        let mut loops = Vec::with_capacity(n);
        for index in 0..n {
            loops.push(LoopShared {
                index,
                driver: Arc::new(Driver::new()?),
                thread_name: format!("{}-loop-{index}", self.thread_name),
                closed: AtomicBool::new(false),
            });
        }
        let sched = Scheduler::new(
            workers.iter().map(|w| w.stealer()).collect(),
            loops
                .iter()
                .map(|l| Box::new(l.driver.clone()) as Box<dyn crate::scheduler::Driver>)
                .collect(),
            self.debug,
            Tuning {
                spin: if cfg!(loopwork_loom) {
                    Duration::ZERO
                } else {
                    self.idle_spin
                },
                stall: STALL,
                slow_poll: self.slow_callback_duration,
            },
        );
        let config = Config {
            slow_callback_duration: self.slow_callback_duration,
            thread_name: self.thread_name.clone(),
            max_blocking_threads: self.max_blocking_threads,
            blocking_keep_alive: self.blocking_keep_alive,
            watchdog_threshold: self
                .watchdog_threshold
                .unwrap_or(self.slow_callback_duration.saturating_mul(10)),
            result_spin: self.result_spin,
        };
        let blocking = BlockingPool::new(
            config.max_blocking_threads,
            config.blocking_keep_alive,
            config.thread_name.clone(),
        );
        let shared = Arc::new(Shared {
            sched: Arc::new(sched),
            loops: loops.into_boxed_slice(),
            config,
            finished: Mutex::new(0),
            finished_cv: Condvar::new(),
            wrong_thread_calls: AtomicU64::new(0),
            started: AtomicUsize::new(0),
            blocking,
            watchdog: super::background::BackgroundThread::new(),
        });
        if let Some(sig) = self.dump_signal.or_else(super::dump_signal::from_env) {
            super::dump_signal::install(&shared, sig)?;
        }
        if self.debug {
            super::watchdog::start(&shared);
        }
        let mut threads = Vec::with_capacity(n);
        for (index, worker) in workers.into_iter().enumerate() {
            let shared2 = shared.clone();
            // Under loom, a loom thread: the loops are part of the model.
            let spawned = crate::sync::thread::Builder::new()
                .name(shared.loops[index].thread_name.clone())
                .spawn(move || {
                    let sched = LoopScheduler::new(shared2.sched.clone(), index, worker);
                    let core = LoopCore::new(shared2, sched);
                    let _core = super::context::set_core(&core);
                    core.run();
                });
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    // Stop the loops already started before reporting.
                    let rt = Runtime::from_parts(shared, threads);
                    rt.close();
                    return Err(e);
                }
            }
        }
        Ok(Runtime::from_parts(shared, threads))
    }
}
