//! Model: the blocking pool's queue / idle-claim / keep-alive / shutdown
//! protocol (`src/blocking/pool.rs`, reached through
//! `loopwork::__loom::blocking`).
//!
//! Under loom an idle worker's keep-alive wait releases the pool lock, yields
//! and then reports a timeout, so each model explores a producer arriving
//! while the worker is busy, while it is idle (the producer claims it and the
//! claim must beat the timeout) and after it has left (the producer must
//! spawn). A lost wakeup shows up as a joiner that never wakes, which loom
//! reports as a deadlock; a job run twice or never shows up in the asserts.
#![cfg(loopwork_loom)]

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use loom_tests::model;
use loopwork::__loom::blocking::Pool;
use loopwork::{Task, TaskError};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};

/// Wakes a joiner parked on a loom condvar.
struct Parked {
    woken: Mutex<bool>,
    cv: Condvar,
}

impl Wake for Parked {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        *self.woken.lock().unwrap() = true;
        self.cv.notify_one();
    }
}

/// Blocks the calling (loom) thread until the task completes.
fn join<T>(mut task: Task<T>) -> Result<T, TaskError> {
    let parked = std::sync::Arc::new(Parked {
        woken: Mutex::new(false),
        cv: Condvar::new(),
    });
    let waker = Waker::from(parked.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = Pin::new(&mut task).poll(&mut cx) {
            return out;
        }
        let mut woken = parked.woken.lock().unwrap();
        while !*woken {
            woken = parked.cv.wait(woken).unwrap();
        }
        *woken = false;
    }
}

/// At the cap of one thread, a job submitted from another thread while the
/// only worker finishes its job (busy, idle or gone) still runs, once.
#[test]
fn job_submitted_at_the_cap_runs_whatever_the_worker_is_doing() {
    model(|| {
        let pool = Arc::new(Pool::new(1));
        let runs = Arc::new(AtomicUsize::new(0));
        let r1 = runs.clone();
        let first = pool.spawn(move || {
            r1.fetch_add(1, SeqCst);
            1
        });
        let (p, r2) = (pool.clone(), runs.clone());
        let producer = thread::spawn(move || {
            let second = p.spawn(move || {
                r2.fetch_add(1, SeqCst);
                2
            });
            join(second).unwrap()
        });
        assert_eq!(join(first).unwrap(), 1);
        assert_eq!(producer.join().unwrap(), 2);
        assert_eq!(runs.load(SeqCst), 2, "each job ran exactly once");
        assert_eq!(pool.shutdown(true), 0);
        let stats = pool.stats();
        assert_eq!(stats.threads, 0);
        assert_eq!(stats.jobs_run, 2);
    });
}

/// A job submitted right after the previous one completed races the worker's
/// keep-alive: the producer either finds the worker busy, claims it while it
/// is idle (the claim wins over its timeout), or spawns a new one after it
/// left. In every case the job runs and the idle count is left consistent.
#[test]
fn claim_races_keep_alive_timeout() {
    model(|| {
        let pool = Pool::new(2);
        assert_eq!(join(pool.spawn(|| 1)).unwrap(), 1);
        assert_eq!(join(pool.spawn(|| 2)).unwrap(), 2);
        let stats = pool.stats();
        assert!(stats.threads <= 2, "{stats:?}");
        assert!(stats.idle_threads <= stats.threads, "{stats:?}");
        assert_eq!(stats.queued_jobs, 0);
        assert_eq!(pool.shutdown(true), 0);
        let stats = pool.stats();
        assert_eq!((stats.threads, stats.idle_threads), (0, 0), "{stats:?}");
    });
}

/// Shutdown racing queued and running jobs: every job either ran (and its
/// joiner got the value) or was cancelled before it started (and never ran);
/// shutdown waits for the running one; nothing hangs; later jobs are refused.
#[test]
fn shutdown_cancels_queued_jobs_and_waits_for_running_ones() {
    model(|| {
        let pool = Arc::new(Pool::new(1));
        let runs = Arc::new(AtomicUsize::new(0));
        let (r1, r2) = (runs.clone(), runs.clone());
        let a = pool.spawn(move || r1.fetch_add(1, SeqCst));
        let b = pool.spawn(move || r2.fetch_add(1, SeqCst));
        let p = pool.clone();
        let closer = thread::spawn(move || p.shutdown(true));
        let ran = [join(a), join(b)]
            .into_iter()
            .filter(|out| match out {
                Ok(_) => true,
                Err(e) => {
                    assert!(e.is_cancelled(), "{e}");
                    false
                }
            })
            .count();
        assert_eq!(closer.join().unwrap(), 0, "close() waits for running jobs");
        assert_eq!(runs.load(SeqCst), ran, "a job runs iff its joiner got Ok");
        assert_eq!(pool.stats().threads, 0);
        let late = pool.spawn(|| 3);
        assert!(join(late).unwrap_err().is_cancelled());
    });
}

/// A submit racing shutdown is either accepted (and then run or cancelled)
/// or refused (cancelled): its joiner always wakes.
#[test]
fn submit_racing_shutdown_never_hangs() {
    model(|| {
        let pool = Arc::new(Pool::new(1));
        let p = pool.clone();
        let producer = thread::spawn(move || match join(p.spawn(|| 7)) {
            Ok(v) => assert_eq!(v, 7),
            Err(e) => assert!(e.is_cancelled(), "{e}"),
        });
        assert_eq!(pool.shutdown(true), 0);
        producer.join().unwrap();
        assert_eq!(pool.stats().threads, 0);
    });
}
