//! The blocking pool's bookkeeping, seen through `Runtime::metrics` and the
//! pool threads' names: what `tests/blocking.rs` (results, caps, keep-alive,
//! shutdown) does not look at. Written from the cargo-mutants survivors of
//! `src/runtime/blocking/pool.rs` (see TESTING.md).
//!
//! Event-based: jobs report through channels and wait on a latch; waits are
//! bounded by `common::within` / `common::eventually` (hang detection only).

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

fn runtime_with(cap: usize, keep_alive: Duration) -> loopwork::Runtime {
    loopwork::Runtime::builder()
        .loops(1)
        .max_blocking_threads(cap)
        .blocking_keep_alive(keep_alive)
        .build()
        .expect("runtime starts")
}

fn wait<T>(task: loopwork::Task<T>) -> Result<T, loopwork::TaskError> {
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
fn an_idle_thread_claimed_for_a_job_no_longer_counts_as_idle() {
    common::within(30, "claim", || {
        // A keep-alive far longer than the test: the thread stays idle.
        let rt = runtime_with(4, Duration::from_secs(600));
        let handle = rt.handle();
        assert_eq!(wait(handle.spawn_blocking(|| 1)).unwrap(), 1);
        // The thread goes idle right after its job (its joiner may be woken
        // first).
        common::eventually(10, "the thread goes idle", || {
            rt.metrics().blocking.idle_threads == 1
        });
        let latch = Latch::default();
        let (started_tx, started_rx) = mpsc::channel();
        let job = {
            let latch = latch.clone();
            handle.spawn_blocking(move || {
                started_tx.send(()).unwrap();
                latch.wait();
            })
        };
        started_rx.recv().unwrap();
        let stats = rt.metrics().blocking;
        // The job is let go before the assertion: a failing test must not
        // leave a pool thread blocked (the runtime's drop would wait for it).
        latch.open();
        wait(job).unwrap();
        assert_eq!(
            (stats.threads, stats.idle_threads),
            (1, 0),
            "the idle thread took the job, none is idle: {stats:?}"
        );
        common::eventually(10, "the thread goes idle again", || {
            rt.metrics().blocking.idle_threads == 1
        });
        assert_eq!(rt.metrics().blocking.threads, 1);
        rt.close();
    });
}

#[test]
fn each_pool_thread_gets_a_name_of_its_own() {
    common::within(30, "names", || {
        const N: usize = 3;
        let rt = runtime_with(N, Duration::from_secs(600));
        let handle = rt.handle();
        let latch = Latch::default();
        let (name_tx, name_rx) = mpsc::channel();
        let jobs: Vec<_> = (0..N)
            .map(|_| {
                let (latch, name_tx) = (latch.clone(), name_tx.clone());
                handle.spawn_blocking(move || {
                    let name = std::thread::current().name().map(str::to_owned);
                    name_tx.send(name).unwrap();
                    latch.wait();
                })
            })
            .collect();
        // All N jobs run at once (each holds its thread until the latch
        // opens), so they run on N threads.
        let names: HashSet<String> = (0..N)
            .map(|_| name_rx.recv().unwrap().expect("pool threads are named"))
            .collect();
        latch.open();
        for job in jobs {
            wait(job).unwrap();
        }
        assert_eq!(names.len(), N, "three threads, three names: {names:?}");
        assert!(names.iter().all(|n| n.contains("-blocking-")), "{names:?}");
        rt.close();
    });
}

#[test]
fn closing_the_runtime_from_a_job_reports_no_detached_job() {
    common::logs::capture();
    common::within(30, "close-from-job", || {
        let rt = runtime_with(4, Duration::from_secs(600));
        let handle = rt.handle();
        // The job's own thread is the one still running when `close` asks
        // the pool: it is not waited for, and not "left detached" either.
        let job = handle.spawn_blocking(move || rt.close());
        wait(job).unwrap();
        assert!(handle.is_closed());
        let warned = common::logs::records_with("still running");
        assert!(warned.is_empty(), "{warned:?}");
    });
}

/// Sets its flag when the pool thread that holds it ends (thread-local
/// destructors run as a thread exits, after the pool's last look at it).
struct SetOnThreadExit(Option<Arc<AtomicBool>>);

impl Drop for SetOnThreadExit {
    fn drop(&mut self) {
        if let Some(flag) = self.0.take() {
            // Widens the window between the worker's last critical section
            // and its thread's end, so a `close` that does not join the
            // thread returns inside it (a `close` that joins waits for it:
            // the outcome never depends on this count).
            for _ in 0..20_000 {
                std::thread::yield_now();
            }
            flag.store(true, SeqCst);
        }
    }
}

thread_local! {
    static ON_EXIT: std::cell::RefCell<SetOnThreadExit> =
        const { std::cell::RefCell::new(SetOnThreadExit(None)) };
}

#[test]
fn close_returns_after_the_pool_threads_have_ended() {
    common::within(60, "joined", || {
        let rt = runtime_with(4, Duration::from_secs(600));
        let ended = Arc::new(AtomicBool::new(false));
        let flag = ended.clone();
        let job = rt.handle().spawn_blocking(move || {
            ON_EXIT.with(|g| g.borrow_mut().0 = Some(flag));
        });
        wait(job).unwrap();
        rt.close();
        assert!(
            ended.load(SeqCst),
            "close returned while a pool thread was still ending: not joined"
        );
    });
}

#[test]
fn a_thread_claimed_while_idle_still_leaves_after_its_keep_alive() {
    common::within(60, "claimed-then-leaves", || {
        // Long enough that the claim below comes while the thread waits.
        let rt = runtime_with(4, Duration::from_millis(300));
        let handle = rt.handle();
        assert_eq!(wait(handle.spawn_blocking(|| 1)).unwrap(), 1);
        common::eventually(10, "the thread goes idle", || {
            rt.metrics().blocking.idle_threads == 1
        });
        // Claims the idle thread (no new thread: `threads` stays 1).
        let (exited_tx, exited_rx) = mpsc::channel();
        let job = handle.spawn_blocking(move || {
            EXITED.with(|g| *g.borrow_mut() = Some(exited_tx));
        });
        wait(job).unwrap();
        assert_eq!(rt.metrics().blocking.threads, 1);
        // The event: the thread ends (its thread-local is dropped), once
        // its keep-alive has passed without a claim. A claim it never
        // consumed would keep it waking "claimed" forever.
        // Nothing is sent: `recv` returns when the sender the thread-local
        // held is dropped.
        assert!(exited_rx.recv().is_err());
        common::eventually(10, "the pool counts no thread", || {
            rt.metrics().blocking.threads == 0
        });
        rt.close();
    });
}

thread_local! {
    static EXITED: std::cell::RefCell<Option<mpsc::Sender<()>>> =
        const { std::cell::RefCell::new(None) };
}
