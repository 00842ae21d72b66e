//! The blocking pool: `spawn_blocking`, `run_in_executor`, user executors.
//!
//! Every test is event-based: jobs signal through channels, and waits are
//! bounded by `common::within` (hang detection only, never a timing
//! assertion).

mod common;

use loopwork::{blocking::BlockingExecutor, runtime::Handle, Runtime, Task};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

fn thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed>")
        .to_owned()
}

fn runtime_with(loops: usize, cap: usize, keep_alive: Duration) -> Runtime {
    Runtime::builder()
        .loops(loops)
        .max_blocking_threads(cap)
        .blocking_keep_alive(keep_alive)
        .build()
        .expect("runtime starts")
}

/// Awaits a task from a thread that is not part of any runtime.
fn wait<T>(task: Task<T>) -> Result<T, loopwork::TaskError> {
    futures::executor::block_on(task)
}

/// A latch that many jobs can wait on until it is opened.
#[derive(Clone, Default)]
struct Latch(Arc<(Mutex<bool>, Condvar)>);

impl Latch {
    fn open(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }

    fn wait(&self) {
        let mut open = self.0 .0.lock().unwrap();
        while !*open {
            open = self.0 .1.wait(open).unwrap();
        }
    }
}

#[test]
fn loop_stays_responsive_while_eight_jobs_block() {
    common::within(30, "responsive", || {
        let rt = common::runtime(1);
        let (loop_name, job_names) = rt.block_on(async {
            // Everything below runs on the only loop.
            loopwork::spawn(async {
                let mut senders = Vec::new();
                let mut jobs = Vec::new();
                for _ in 0..8 {
                    let (tx, rx) = mpsc::channel::<()>();
                    senders.push(tx);
                    jobs.push(loopwork::spawn_blocking(move || {
                        // Blocks until the loop task below has run: had this
                        // job run on the loop thread, that task never would.
                        rx.recv().expect("the loop task sends");
                        thread_name()
                    }));
                }
                let sender = loopwork::spawn(async move {
                    loopwork::yield_now().await;
                    for tx in senders {
                        tx.send(()).unwrap();
                    }
                    thread_name()
                });
                let loop_name = sender.await.unwrap();
                let mut names = Vec::new();
                for job in jobs {
                    names.push(job.await.unwrap());
                }
                (loop_name, names)
            })
            .await
            .unwrap()
        });
        assert_eq!(loop_name, "loopwork-loop-0");
        assert_eq!(job_names.len(), 8);
        for name in &job_names {
            assert!(name.starts_with("loopwork-blocking-"), "job ran on {name}");
        }
        rt.close();
    });
}

#[test]
fn panicking_job_is_isolated_and_its_thread_runs_the_next_job() {
    common::within(30, "panic", || {
        let rt = runtime_with(1, 1, Duration::from_secs(60));
        let handle = rt.handle();
        let first = handle.spawn_blocking(|| -> u32 { panic!("job exploded") });
        let err = wait(first).unwrap_err();
        assert!(err.is_panic());
        assert_eq!(err.to_string(), "task panicked: job exploded");
        let second = handle.spawn_blocking(|| (thread_name(), 7));
        let (name, value) = wait(second).unwrap();
        assert_eq!(value, 7);
        // The cap is 1 and the thread was not replaced: the same thread ran both.
        assert_eq!(name, "loopwork-blocking-0");
        let stats = rt.metrics().blocking;
        assert_eq!(stats.threads, 1, "the pool thread survived the panic");
        assert_eq!(stats.jobs_run, 2);
        rt.close();
    });
}

#[test]
fn each_result_is_delivered_exactly_once() {
    common::within(60, "exactly-once", || {
        let rt = runtime_with(2, 4, Duration::from_secs(60));
        let runs = Arc::new(AtomicUsize::new(0));
        const N: usize = 300;
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let runs = runs.clone();
                rt.handle().spawn_blocking(move || {
                    runs.fetch_add(1, SeqCst);
                    i
                })
            })
            .collect();
        let mut seen = vec![false; N];
        for task in tasks {
            let i = wait(task).unwrap();
            assert!(!seen[i], "result {i} delivered twice");
            seen[i] = true;
        }
        assert!(seen.iter().all(|&s| s), "every result delivered");
        assert_eq!(runs.load(SeqCst), N, "every closure ran exactly once");
        assert_eq!(rt.metrics().blocking.jobs_run, N as u64);
        rt.close();
    });
}

#[test]
fn cancel_before_start_prevents_the_run() {
    common::within(30, "cancel-queued", || {
        let rt = runtime_with(1, 1, Duration::from_secs(60));
        let handle = rt.handle();
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let first = handle.spawn_blocking(move || {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            "first"
        });
        started_rx.recv().unwrap();
        // The only thread is busy: this job is queued.
        let ran = Arc::new(AtomicBool::new(false));
        let drops = Arc::new(AtomicUsize::new(0));
        let flag = common::DropFlag(drops.clone());
        let ran2 = ran.clone();
        let second = handle.spawn_blocking(move || {
            let _flag = flag;
            ran2.store(true, SeqCst);
        });
        assert_eq!(rt.metrics().blocking.queued_jobs, 1);
        second.cancel();
        let third = handle.spawn_blocking(|| "third");
        release_tx.send(()).unwrap();
        assert_eq!(wait(first).unwrap(), "first");
        assert!(wait(second).unwrap_err().is_cancelled());
        assert_eq!(wait(third).unwrap(), "third", "the queue moves on");
        assert!(
            !ran.load(SeqCst),
            "a job cancelled before it started never runs"
        );
        assert_eq!(drops.load(SeqCst), 1, "its closure was dropped");
        rt.close();
    });
}

#[test]
fn cancel_while_running_lets_the_job_finish_and_drops_its_result() {
    common::within(30, "cancel-running", || {
        let rt = runtime_with(1, 2, Duration::from_secs(60));
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let finished = Arc::new(AtomicBool::new(false));
        let result_drops = Arc::new(AtomicUsize::new(0));
        let (f, d) = (finished.clone(), result_drops.clone());
        let task = rt.handle().spawn_blocking(move || {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            f.store(true, SeqCst);
            common::DropFlag(d)
        });
        started_rx.recv().unwrap();
        task.cancel();
        release_tx.send(()).unwrap();
        assert!(matches!(wait(task), Err(e) if e.is_cancelled()));
        assert!(finished.load(SeqCst), "the running job ran to completion");
        assert_eq!(result_drops.load(SeqCst), 1, "its result was dropped");
        rt.close();
    });
}

#[test]
fn thread_cap_is_respected_and_every_queued_job_runs() {
    common::within(60, "cap", || {
        const CAP: usize = 3;
        const JOBS: usize = 30;
        let rt = runtime_with(1, CAP, Duration::from_secs(60));
        let current = Arc::new(AtomicUsize::new(0));
        let high_water = Arc::new(AtomicUsize::new(0));
        let latch = Latch::default();
        let (started_tx, started_rx) = mpsc::channel();
        let tasks: Vec<_> = (0..JOBS)
            .map(|i| {
                let (current, high_water, latch) =
                    (current.clone(), high_water.clone(), latch.clone());
                let started_tx = started_tx.clone();
                rt.handle().spawn_blocking(move || {
                    let now = current.fetch_add(1, SeqCst) + 1;
                    high_water.fetch_max(now, SeqCst);
                    started_tx.send(()).unwrap();
                    latch.wait();
                    current.fetch_sub(1, SeqCst);
                    i
                })
            })
            .collect();
        for _ in 0..CAP {
            started_rx.recv().unwrap();
        }
        // CAP jobs hold every thread; nothing else can start until the latch opens.
        let stats = rt.metrics().blocking;
        assert_eq!(stats.threads, CAP);
        assert_eq!(stats.idle_threads, 0);
        assert_eq!(stats.queued_jobs, JOBS - CAP);
        latch.open();
        let sum: usize = tasks.into_iter().map(|t| wait(t).unwrap()).sum();
        assert_eq!(sum, (0..JOBS).sum::<usize>(), "every queued job ran");
        assert_eq!(
            high_water.load(SeqCst),
            CAP,
            "never more than the cap at once"
        );
        assert!(rt.metrics().blocking.threads <= CAP);
        rt.close();
    });
}

/// Sends on its channel when dropped: stored in a thread-local, it reports
/// that its thread ended.
struct ExitSignal(std::cell::RefCell<Option<mpsc::Sender<()>>>);

impl Drop for ExitSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.borrow_mut().take() {
            let _ = tx.send(());
        }
    }
}

thread_local! {
    static ON_THREAD_EXIT: ExitSignal = const { ExitSignal(std::cell::RefCell::new(None)) };
}

#[test]
fn idle_threads_exit_after_keep_alive_and_the_pool_grows_again() {
    common::within(60, "keep-alive", || {
        let rt = runtime_with(1, 8, Duration::from_millis(50));
        let handle = rt.handle();
        let latch = Latch::default();
        let (started_tx, started_rx) = mpsc::channel();
        let (exited_tx, exited_rx) = mpsc::channel();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (latch, started_tx) = (latch.clone(), started_tx.clone());
                let exited_tx = exited_tx.clone();
                handle.spawn_blocking(move || {
                    // Reports the pool thread's exit (thread-local destructors
                    // run as the thread ends).
                    ON_THREAD_EXIT.with(|g| *g.0.borrow_mut() = Some(exited_tx));
                    started_tx.send(()).unwrap();
                    latch.wait();
                })
            })
            .collect();
        for _ in 0..4 {
            started_rx.recv().unwrap();
        }
        assert_eq!(
            rt.metrics().blocking.threads,
            4,
            "four concurrent jobs, four threads"
        );
        latch.open();
        for t in tasks {
            wait(t).unwrap();
        }
        // The event "each of the four threads has exited" (a pool that never
        // shrinks fails through the watchdog); a thread leaves the counts
        // before it ends.
        for _ in 0..4 {
            exited_rx.recv().unwrap();
        }
        let stats = rt.metrics().blocking;
        assert_eq!((stats.threads, stats.idle_threads), (0, 0), "{stats:?}");
        // A pool that shrank to nothing still runs new jobs.
        assert_eq!(wait(handle.spawn_blocking(|| 5)).unwrap(), 5);
        rt.close();
    });
}

#[test]
fn shutdown_timeout_returns_while_a_job_still_runs_and_cancels_queued_jobs() {
    common::within(30, "shutdown-timeout", || {
        let rt = runtime_with(1, 1, Duration::from_secs(60));
        let handle = rt.handle();
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel();
        let running = handle.spawn_blocking(move || {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            done_tx.send(()).unwrap();
            "finished late"
        });
        started_rx.recv().unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let ran2 = ran.clone();
        let queued = handle.spawn_blocking(move || ran2.store(true, SeqCst));
        // Returning at all is the check: the job cannot end before the
        // release below, so a shutdown_timeout that waited for it would
        // hang (and fail through the watchdog).
        rt.shutdown_timeout(Duration::from_millis(100));
        assert!(
            wait(queued).unwrap_err().is_cancelled(),
            "a queued job is cancelled"
        );
        assert!(!ran.load(SeqCst));
        // The detached job still finishes and delivers its result.
        release_tx.send(()).unwrap();
        done_rx.recv().unwrap();
        assert_eq!(wait(running).unwrap(), "finished late");
    });
}

/// Whether thread `tid` of this process is asleep in the kernel (state
/// `S`: blocked on a lock, a condvar or I/O), from `/proc`.
fn thread_is_sleeping(tid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))
        .ok()
        .and_then(|stat| Some(stat[stat.rfind(')')? + 2..].starts_with('S')))
        .unwrap_or(false)
}

#[test]
fn close_waits_for_running_jobs() {
    common::within(30, "close-waits", || {
        // One pool thread: the second job stays queued behind the first.
        let rt = runtime_with(1, 1, Duration::from_secs(60));
        let (started_tx, started_rx) = mpsc::channel();
        let (closer_tx, closer_rx) = mpsc::channel::<(libc::pid_t, Arc<AtomicBool>)>();
        let (queued_tx, queued_rx) = mpsc::channel::<Task<()>>();
        let finished = Arc::new(AtomicBool::new(false));
        let f = finished.clone();
        // The running job ends only once close() is blocked inside the pool's
        // shutdown (the queued job is cancelled, so the loops are gone, and
        // the closing thread sleeps), or once close() has returned — which
        // must not happen first. Released at once instead, the job usually
        // ended before close() got to the pool, and a close() that did not
        // wait passed.
        let running = rt.handle().spawn_blocking(move || {
            started_tx.send(()).unwrap();
            let queued = queued_rx.recv().unwrap();
            let (closer, returned) = closer_rx.recv().unwrap();
            let may_end =
                || returned.load(SeqCst) || (queued.is_finished() && thread_is_sleeping(closer));
            while !may_end() {
                std::thread::yield_now();
            }
            let early = returned.load(SeqCst);
            f.store(true, SeqCst);
            (early, wait(queued).unwrap_err().is_cancelled())
        });
        started_rx.recv().unwrap();
        queued_tx.send(rt.handle().spawn_blocking(|| ())).unwrap();
        let closer = std::thread::spawn(move || {
            let returned = Arc::new(AtomicBool::new(false));
            // SAFETY: gettid has no preconditions.
            let tid = unsafe { libc::gettid() };
            closer_tx.send((tid, returned.clone())).unwrap();
            rt.close();
            returned.store(true, SeqCst);
            finished.load(SeqCst)
        });
        assert!(
            closer.join().unwrap(),
            "close() returned before the running job finished"
        );
        let (early, queued_cancelled) = wait(running).unwrap();
        assert!(!early, "the job saw close() return while it still ran");
        assert!(queued_cancelled, "close() cancels the queued job");
    });
}

#[test]
fn spawn_blocking_after_close_gives_a_cancelled_task() {
    common::within(30, "after-close", || {
        let rt = common::runtime(1);
        let handle = rt.handle();
        let loop_handle = rt.loop_handle(0);
        rt.close();
        let ran = Arc::new(AtomicBool::new(false));
        let (r1, r2) = (ran.clone(), ran.clone());
        let t1 = handle.spawn_blocking(move || r1.store(true, SeqCst));
        let t2 = loop_handle.run_in_executor(move || r2.store(true, SeqCst));
        assert!(wait(t1).unwrap_err().is_cancelled());
        assert!(wait(t2).unwrap_err().is_cancelled());
        assert!(!ran.load(SeqCst), "nothing runs after close");
    });
}

#[test]
fn run_in_executor_runs_on_the_pool() {
    common::within(30, "run-in-executor", || {
        let rt = Runtime::builder()
            .loops(1)
            .thread_name("svc")
            .build()
            .unwrap();
        let name = rt
            .block_on(async {
                let lp = loopwork::spawn(async { loopwork::current_loop() })
                    .await
                    .unwrap();
                lp.run_in_executor(thread_name).await
            })
            .unwrap();
        assert!(name.starts_with("svc-blocking-"), "thread name {name}");
        rt.close();
    });
}

/// Runs each job on its own named thread and counts them.
struct CountingExecutor {
    executed: AtomicUsize,
}

impl BlockingExecutor for CountingExecutor {
    fn execute(&self, job: Box<dyn FnOnce() + Send>) {
        self.executed.fetch_add(1, SeqCst);
        std::thread::Builder::new()
            .name("user-executor".into())
            .spawn(job)
            .unwrap();
    }
}

#[test]
fn user_executor_runs_the_jobs_routed_to_it() {
    common::within(30, "user-executor", || {
        let rt = common::runtime(1);
        let exec = CountingExecutor {
            executed: AtomicUsize::new(0),
        };
        let lp = rt.loop_handle(0);
        let tasks: Vec<_> = (0..3)
            .map(|i| lp.run_in_executor_on(&exec, move || (thread_name(), i)))
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(wait(t).unwrap(), ("user-executor".to_owned(), i));
        }
        assert_eq!(exec.executed.load(SeqCst), 3);
        assert_eq!(
            rt.metrics().blocking.jobs_run,
            0,
            "the runtime's pool ran nothing"
        );
        rt.close();
    });
}

#[test]
fn a_closure_serves_as_a_user_executor() {
    common::within(30, "closure-executor", || {
        let rt = common::runtime(1);
        let on_a_thread = |job: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name("closure-executor".into())
                .spawn(job)
                .unwrap();
        };
        let task = rt
            .loop_handle(0)
            .run_in_executor_on(&on_a_thread, thread_name);
        assert_eq!(wait(task).unwrap(), "closure-executor");
        rt.close();
    });
}

#[test]
fn job_dropped_by_user_executor_resolves_to_cancelled() {
    common::within(30, "executor-drop", || {
        let rt = common::runtime(1);
        let drops = Arc::new(AtomicUsize::new(0));
        let flag = common::DropFlag(drops.clone());
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let refuse = |job: Box<dyn FnOnce() + Send>| drop(job);
        let task = rt.loop_handle(0).run_in_executor_on(&refuse, move || {
            let _flag = flag;
            r.store(true, SeqCst);
        });
        assert!(wait(task).unwrap_err().is_cancelled());
        assert!(!ran.load(SeqCst));
        assert_eq!(drops.load(SeqCst), 1, "the closure was dropped");
        rt.close();
    });
}

#[test]
fn job_held_by_user_executor_and_cancelled_never_runs() {
    common::within(30, "executor-cancel", || {
        let rt = common::runtime(1);
        let held: Mutex<Vec<Box<dyn FnOnce() + Send>>> = Mutex::new(Vec::new());
        let hold = |job: Box<dyn FnOnce() + Send>| held.lock().unwrap().push(job);
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let task = rt
            .loop_handle(0)
            .run_in_executor_on(&hold, move || r.store(true, SeqCst));
        task.cancel();
        for job in held.lock().unwrap().drain(..) {
            job();
        }
        assert!(wait(task).unwrap_err().is_cancelled());
        assert!(!ran.load(SeqCst));
        rt.close();
    });
}

#[test]
fn spawn_blocking_outside_a_runtime_panics_with_a_clear_message() {
    let err = std::panic::catch_unwind(|| loopwork::spawn_blocking(|| ())).unwrap_err();
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .expect("a string panic message");
    assert!(msg.contains("loopwork::spawn_blocking"), "{msg}");
    assert!(msg.contains("outside a loopwork runtime"), "{msg}");
    assert!(msg.contains("Handle::spawn_blocking"), "{msg}");
}

#[test]
fn a_job_sees_its_runtime() {
    common::within(30, "job-context", || {
        let rt = common::runtime(1);
        let task = rt.handle().spawn_blocking(|| {
            let handle = Handle::try_current().expect("a job runs inside its runtime");
            let inner = loopwork::spawn(async { 40 });
            let nested = loopwork::spawn_blocking(|| 2);
            handle.block_on(inner).unwrap() + handle.block_on(nested).unwrap()
        });
        assert_eq!(wait(task).unwrap(), 42);
        rt.close();
    });
}

#[test]
fn no_job_is_lost_when_producers_race_keep_alive_at_the_cap() {
    common::within(120, "lost-wakeup", || {
        // A tiny keep-alive makes idle threads leave while jobs arrive, and a
        // cap of 2 keeps the pool at the cap: the races of tokio #8056.
        let rt = runtime_with(1, 2, Duration::from_micros(20));
        let done = Arc::new(AtomicUsize::new(0));
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let handle = rt.handle();
                let done = done.clone();
                std::thread::spawn(move || {
                    for round in 0..200 {
                        let tasks: Vec<_> = (0..3)
                            .map(|_| {
                                let done = done.clone();
                                handle.spawn_blocking(move || {
                                    done.fetch_add(1, SeqCst);
                                })
                            })
                            .collect();
                        for t in tasks {
                            wait(t).unwrap();
                        }
                        if (round + p) % 16 == 0 {
                            // Let the pool drain and its threads time out.
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    }
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        assert_eq!(done.load(SeqCst), 4 * 200 * 3);
        assert!(rt.metrics().blocking.threads <= 2);
        rt.close();
    });
}

#[test]
fn closing_the_runtime_from_a_job_does_not_wait_for_itself() {
    common::within(30, "close-from-job", || {
        let rt = common::runtime(1);
        let handle = rt.handle();
        let task = handle.spawn_blocking(move || {
            rt.close();
            "closed"
        });
        assert_eq!(wait(task).unwrap(), "closed");
        assert!(handle.is_closed());
    });
}
