//! `BlockingPool`: the threads, the job queue and the protocol between them.
//!
//! Everything the protocol decides on lives in one `State` behind one mutex;
//! see the [module docs](super) for who touches which field and why no
//! wakeup is lost. This file uses `crate::sync` only, so the same code runs
//! under loom (where the idle wait releases the lock, yields and times out,
//! and threads have no names).

use crate::sync::thread::JoinHandle;
use crate::sync::{Arc, Condvar, Mutex, MutexGuard};
use crate::task::Notified;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

/// The runtime's pool of threads for blocking jobs. Cloning it clones a
/// reference to the same pool.
#[derive(Clone)]
pub(crate) struct BlockingPool {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// Idle workers wait here for a job (or for shutdown).
    work_cv: Condvar,
    /// `shutdown` waits here for the workers to exit.
    exit_cv: Condvar,
    thread_cap: usize,
    keep_alive: Duration,
    /// Threads are named `{name_prefix}-blocking-{id}`.
    name_prefix: String,
}

/// The protocol's fields. Every read and write happens under `Inner::state`.
struct State {
    /// Jobs accepted and not yet taken by a worker.
    queue: VecDeque<Notified>,
    /// Workers alive: counted from the moment `submit` spawns one (under
    /// this lock) until the worker's last critical section.
    num_threads: usize,
    /// Workers waiting on `work_cv` that no producer has claimed yet.
    num_idle: usize,
    /// Wakeups owed: a producer claimed an idle worker (moving it from
    /// `num_idle` to here) and notified; the first waiter to wake consumes it.
    num_notify: usize,
    /// Set once by `shutdown`; from then on `submit` refuses jobs.
    shutdown: bool,
    /// The next worker id (ids are never reused).
    next_id: usize,
    /// Join handles of the live workers, by id.
    workers: HashMap<usize, JoinHandle<()>>,
    /// The handle of the last worker that left on keep-alive: it cannot
    /// join itself, so the next one to leave (or `shutdown`) joins it.
    last_exiting: Option<JoinHandle<()>>,
    /// Jobs taken from the queue and run.
    jobs_run: u64,
}

/// A snapshot of the blocking pool's counters, part of
/// [`RuntimeMetrics`](crate::runtime::RuntimeMetrics).
///
/// # Examples
///
/// ```
/// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
/// rt.block_on(async { loopwork::spawn_blocking(|| 1 + 1).await.unwrap() });
/// let stats = rt.metrics().blocking;
/// assert_eq!(stats.jobs_run, 1);
/// assert!(stats.threads <= 1);
/// assert_eq!(stats.queued_jobs, 0);
/// rt.close();
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlockingMetrics {
    /// Pool threads alive (running a job or idle).
    pub threads: usize,
    /// Pool threads waiting for a job.
    pub idle_threads: usize,
    /// Jobs accepted and waiting for a thread.
    pub queued_jobs: usize,
    /// Jobs the pool's threads have taken from the queue. A job cancelled
    /// before it started counts too: its closure was dropped, not run.
    pub jobs_run: u64,
}

impl BlockingPool {
    /// A pool that runs at most `thread_cap` threads; an idle thread exits
    /// after `keep_alive` without work.
    pub(crate) fn new(
        thread_cap: usize,
        keep_alive: Duration,
        name_prefix: String,
    ) -> BlockingPool {
        assert!(thread_cap > 0, "a blocking pool needs at least one thread");
        BlockingPool {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    num_threads: 0,
                    num_idle: 0,
                    num_notify: 0,
                    shutdown: false,
                    next_id: 0,
                    workers: HashMap::new(),
                    last_exiting: None,
                    jobs_run: 0,
                }),
                work_cv: Condvar::new(),
                exit_cv: Condvar::new(),
                thread_cap,
                keep_alive,
                name_prefix,
            }),
        }
    }

    /// Queues a job and makes sure a thread will take it: claims an idle
    /// worker if there is one, else spawns a thread if under the cap, else
    /// leaves it for a busy worker (which re-checks the queue, under the same
    /// lock, before it may go idle). After shutdown the job is cancelled.
    pub(crate) fn submit(&self, job: Notified) {
        let inner = &self.inner;
        let mut state = inner.state.lock();
        if state.shutdown {
            drop(state);
            // Outside the lock: dropping the closure runs user code.
            job.shutdown();
            return;
        }
        state.queue.push_back(job);
        if state.num_idle > 0 {
            // Claim one idle worker for this job. Whichever waiter wakes
            // first consumes the claim; the counts, not the identity, matter.
            state.num_idle -= 1;
            state.num_notify += 1;
            inner.work_cv.notify_one();
            return;
        }
        if state.num_threads >= inner.thread_cap {
            // At the cap, every worker is busy (none is idle): each one locks
            // `state` and pops the queue after its job, before it can go idle
            // or exit, and this push happened under that lock, so one of them
            // sees it.
            return;
        }
        // Spawn under the lock, so the new thread is counted before any other
        // producer decides and before the thread itself can look at the queue.
        let id = state.next_id;
        state.next_id += 1;
        let worker = inner.clone();
        let name = format!("{}-blocking-{id}", inner.name_prefix);
        match spawn_thread(name, move || Inner::run(worker, id)) {
            Ok(handle) => {
                state.num_threads += 1;
                state.workers.insert(id, handle);
            }
            Err(e) if state.num_threads == 0 => {
                // No thread will ever look at the queue: cancel what is in it
                // rather than leave the joiners hanging (tokio #8406).
                let stranded: Vec<Notified> = state.queue.drain(..).collect();
                drop(state);
                log::error!(
                    target: "loopwork",
                    "blocking pool: cannot spawn a thread ({e}); {} queued job(s) cancelled",
                    stranded.len()
                );
                for job in stranded {
                    job.shutdown();
                }
            }
            Err(e) => {
                // A busy worker takes the job when it finishes its own.
                log::warn!(
                    target: "loopwork",
                    "blocking pool: cannot spawn a thread ({e}); the job waits for a busy thread"
                );
            }
        }
    }

    /// Counters for `Runtime::metrics`.
    pub(crate) fn stats(&self) -> BlockingMetrics {
        let state = self.inner.state.lock();
        BlockingMetrics {
            threads: state.num_threads,
            idle_threads: state.num_idle,
            queued_jobs: state.queue.len(),
            jobs_run: state.jobs_run,
        }
    }

    /// Shuts the pool down: refuses new jobs, cancels the queued ones, then
    /// waits for the running ones — without limit for `None`, at most
    /// `timeout` otherwise — and joins the threads once all have exited.
    /// Returns how many threads were still running a job when it gave up
    /// (they finish their job, then exit by themselves).
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) -> usize {
        let inner = &self.inner;
        let mut state = inner.state.lock();
        state.shutdown = true;
        let queued: Vec<Notified> = state.queue.drain(..).collect();
        inner.work_cv.notify_all();
        drop(state);
        // Outside the lock: dropping a closure runs user code, which may
        // submit (and be refused) or read the metrics.
        for job in queued {
            job.shutdown();
        }

        // A job that shuts the runtime down from a pool thread must not wait
        // for its own thread.
        let own = current_worker_of(inner);
        let floor = usize::from(own.is_some());
        let deadline = timeout.and_then(|t| crate::sync::now().checked_add(t));
        let mut state = inner.state.lock();
        while state.num_threads > floor {
            match (timeout, deadline) {
                (None, _) | (Some(_), None) => state = inner.exit_cv.wait(state),
                (Some(_), Some(deadline)) => {
                    let left = deadline.saturating_duration_since(crate::sync::now());
                    let (s, timed_out) = inner.exit_cv.wait_timeout(state, left);
                    state = s;
                    if timed_out {
                        break;
                    }
                }
            }
        }
        let running = state.num_threads - floor;
        if running > 0 {
            return running;
        }
        let workers: Vec<(usize, JoinHandle<()>)> = state.workers.drain().collect();
        let last = state.last_exiting.take();
        drop(state);
        for (id, handle) in workers {
            if Some(id) != own {
                let _ = handle.join();
            }
        }
        if let Some(handle) = last {
            let _ = handle.join();
        }
        0
    }
}

impl Inner {
    /// A worker thread's life: run jobs while there are some, wait idle up to
    /// `keep_alive` for more, exit on keep-alive or shutdown.
    // Not `self: Arc<Self>`: loom's `Arc` is not a receiver type.
    fn run(this: Arc<Inner>, id: usize) {
        let _worker = WorkerGuard::enter(&this, id);
        let mut to_join = None;
        let mut state = this.state.lock();
        'work: loop {
            // Busy: drain the queue. A job pushed while we run is seen here,
            // because pushing and this pop are ordered by the lock.
            while let Some(job) = state.queue.pop_front() {
                // Counted before the run, so a joiner woken by the job sees it.
                state.jobs_run += 1;
                drop(state);
                // The raw task catches the job's panics; this only guards the
                // pool's accounting against a bug in loopwork itthis.
                if catch_unwind(AssertUnwindSafe(|| job.run())).is_err() {
                    log::error!(target: "loopwork", "loopwork bug: a blocking job's run panicked");
                }
                state = this.state.lock();
            }
            if state.shutdown {
                break 'work;
            }
            // Idle: the queue is empty and we checked it under the lock, so
            // a producer that comes later sees `num_idle` and claims us.
            state.num_idle += 1;
            loop {
                let (s, timed_out) = this.wait_for_work(state);
                state = s;
                // A claim first: the producer already moved us out of
                // `num_idle`, and its job is in the queue (or was drained by
                // shutdown, which the busy loop then sees).
                if state.num_notify > 0 {
                    state.num_notify -= 1;
                    continue 'work;
                }
                if state.shutdown {
                    state.num_idle -= 1;
                    break 'work;
                }
                if timed_out {
                    // Unclaimed for `keep_alive`: leave. No claim can be
                    // pending for us (`num_notify` is 0 under this lock), so
                    // no job is stranded.
                    state.num_idle -= 1;
                    if let Some(me) = state.workers.remove(&id) {
                        to_join = state.last_exiting.replace(me);
                    }
                    break 'work;
                }
                // Woken without a claim (spurious): wait again.
            }
        }
        state.num_threads -= 1;
        if state.shutdown {
            this.exit_cv.notify_all();
        }
        drop(state);
        // The previous keep-alive leaver has released the lock for good;
        // joining it only waits for its thread to finish unwinding.
        if let Some(handle) = to_join {
            let _ = handle.join();
        }
    }
}

impl Inner {
    /// The idle wait: up to `keep_alive` on `work_cv`. Returns the guard and
    /// whether the wait timed out. Under loom, `crate::sync`'s timed wait
    /// releases the lock, lets any other thread run (a producer may claim us
    /// and notify), takes the lock back and reports a timeout: the "claim
    /// races the keep-alive timeout" interleavings, without a clock.
    fn wait_for_work<'a>(&'a self, state: MutexGuard<'a, State>) -> (MutexGuard<'a, State>, bool) {
        self.work_cv.wait_timeout(state, self.keep_alive)
    }
}

impl fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stats = self.stats();
        f.debug_struct("BlockingPool")
            .field("thread_cap", &self.inner.thread_cap)
            .field("keep_alive", &self.inner.keep_alive)
            .field("stats", &stats)
            .finish()
    }
}

#[cfg(not(loopwork_loom))]
fn spawn_thread(name: String, f: impl FnOnce() + Send + 'static) -> io::Result<JoinHandle<()>> {
    // The OS refusing a thread cannot be provoked here (the tests run as
    // root, whom `RLIMIT_NPROC` does not limit): a unit test makes this
    // thread's spawns fail to drive `submit`'s failure paths.
    #[cfg(test)]
    if tests::SPAWN_FAILS.with(std::cell::Cell::get) {
        return Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "thread spawn refused by the test",
        ));
    }
    crate::sync::thread::Builder::new().name(name).spawn(f)
}

#[cfg(loopwork_loom)]
fn spawn_thread(_name: String, f: impl FnOnce() + Send + 'static) -> io::Result<JoinHandle<()>> {
    Ok(crate::sync::thread::spawn(f))
}

// Which pool (by address) and worker id the current thread is, so that a
// shutdown started from a pool thread does not wait for itself (loom's
// thread-local under loom, where every model thread shares one OS thread).
crate::sync::loop_thread_local! {
    static CURRENT_WORKER: std::cell::Cell<Option<(usize, usize)>> = std::cell::Cell::new(None);
}

struct WorkerGuard(());

impl WorkerGuard {
    fn enter(inner: &Arc<Inner>, id: usize) -> WorkerGuard {
        CURRENT_WORKER.with(|c| c.set(Some((Arc::as_ptr(inner) as usize, id))));
        WorkerGuard(())
    }
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        let _ = CURRENT_WORKER.try_with(|c| c.set(None));
    }
}

/// The current thread's worker id if it is a worker of `inner`'s pool.
fn current_worker_of(inner: &Arc<Inner>) -> Option<usize> {
    let addr = Arc::as_ptr(inner) as usize;
    CURRENT_WORKER
        .try_with(|c| c.get())
        .ok()
        .flatten()
        .filter(|&(pool, _)| pool == addr)
        .map(|(_, id)| id)
}

// The pool driven directly (no runtime): what the integration tests cannot
// reach once `close` has consumed the runtime, and the `Debug` output no
// public type prints.
#[cfg(test)]
#[cfg(not(loopwork_loom))]
mod tests {
    use super::super::{BlockingScheduler, BlockingTask};
    use super::*;
    use crate::task::{new_task, Task, TaskKind, TaskMeta};
    use std::panic::Location;
    use std::time::Instant;

    #[track_caller]
    fn submit(pool: &BlockingPool, f: impl FnOnce() + Send + 'static) -> Task<()> {
        let (notified, task) = new_task(
            BlockingTask::new(f),
            BlockingScheduler::pool(pool.clone()),
            TaskMeta::new(None, Location::caller(), TaskKind::Blocking),
        );
        pool.submit(notified);
        task
    }

    std::thread_local! {
        /// Set by a test: `spawn_thread` fails on this thread, as when the
        /// OS refuses a thread (`submit` runs on the submitting thread).
        pub(super) static SPAWN_FAILS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// `submit`, with this thread's thread spawns failing.
    #[track_caller]
    fn submit_spawn_failing(pool: &BlockingPool, f: impl FnOnce() + Send + 'static) -> Task<()> {
        SPAWN_FAILS.with(|fails| fails.set(true));
        let task = submit(pool, f);
        SPAWN_FAILS.with(|fails| fails.set(false));
        task
    }

    #[test]
    fn a_failed_spawn_with_no_thread_alive_cancels_the_queued_job() {
        let pool = BlockingPool::new(2, Duration::from_secs(600), "unit".to_owned());
        let job = submit_spawn_failing(&pool, || unreachable!("no thread runs it"));
        let stats = pool.stats();
        assert_eq!(
            (stats.threads, stats.queued_jobs),
            (0, 0),
            "no thread will ever take a queued job: it is cancelled, not stranded ({stats:?})"
        );
        let err = futures::executor::block_on(job).unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        assert_eq!(pool.shutdown(None), 0);
    }

    #[test]
    fn a_failed_spawn_while_a_thread_is_busy_leaves_the_job_to_that_thread() {
        let pool = BlockingPool::new(2, Duration::from_secs(600), "unit".to_owned());
        let (started_tx, started) = std::sync::mpsc::channel();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let first = submit(&pool, move || {
            started_tx.send(()).unwrap();
            held.recv().unwrap();
        });
        // The pool's one thread is in its job: none is idle, one may spawn.
        started.recv().unwrap();
        let (ran_tx, ran) = std::sync::mpsc::channel();
        let second = submit_spawn_failing(&pool, move || ran_tx.send("second").unwrap());
        let stats = pool.stats();
        assert_eq!(
            (stats.threads, stats.queued_jobs),
            (1, 1),
            "the job waits for the busy thread, it is not cancelled ({stats:?})"
        );
        release.send(()).unwrap();
        futures::executor::block_on(first).unwrap();
        futures::executor::block_on(second).expect("run by the thread that was busy");
        assert_eq!(ran.recv().unwrap(), "second");
        assert_eq!(pool.shutdown(None), 0);
    }

    #[test]
    fn an_idle_thread_ended_by_shutdown_leaves_the_counts() {
        let pool = BlockingPool::new(2, Duration::from_secs(600), "unit".to_owned());
        futures::executor::block_on(submit(&pool, || ())).unwrap();
        // The thread goes idle right after its job (the joiner may be woken
        // first). Bounded: hang detection only.
        let deadline = Instant::now() + Duration::from_secs(10);
        while pool.stats().idle_threads != 1 {
            assert!(Instant::now() < deadline, "the thread never went idle");
            std::thread::yield_now();
        }
        assert_eq!(pool.shutdown(None), 0, "no job was running");
        let stats = pool.stats();
        assert_eq!((stats.threads, stats.idle_threads), (0, 0), "{stats:?}");
    }

    #[test]
    fn the_debug_output_shows_the_settings_and_the_counts() {
        let pool = BlockingPool::new(3, Duration::from_secs(7), "unit".to_owned());
        let out = format!("{pool:?}");
        assert!(
            out.starts_with("BlockingPool")
                && out.contains("thread_cap: 3")
                && out.contains("keep_alive: 7s")
                && out.contains("threads: 0"),
            "{out}"
        );
        pool.shutdown(None);
    }
}
