//! The soak workload shared by `tests/soak.rs` (bounded, in CI) and
//! `examples/soak.rs` (10^7 items, by hand).
//!
//! Foreign threads submit items to a runtime through the three thread-safe
//! doors (`call_soon_threadsafe`, `run_coroutine_threadsafe`,
//! `Handle::spawn`), cancel some of them at random through each kind of
//! handle, and optionally one thread closes the runtime mid-stream. Every
//! item's body counts its runs in its own slot. At the end each item must
//! be accounted for exactly one way, checked against what its handle says:
//! ran exactly once; cancelled, with `cancel()`'s answer agreeing; dropped
//! at shutdown (reported by the handle); or refused at submission.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct SoakConfig {
    pub items: usize,
    pub threads: usize,
    pub loops: usize,
    /// One item in this many is cancelled right after submission.
    pub cancel_one_in: u64,
    /// Close the runtime once this many items have been submitted.
    pub close_after: Option<usize>,
}

/// How the items ended, summed over all threads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub ran: usize,
    /// `cancel()` answered `true` (or, for a `Task`, the join says
    /// `Cancelled` after a cancel) and the body never ran.
    pub cancelled: usize,
    /// Not run because the runtime closed, and the handle says so: a
    /// callback's `dropped()`, or a `Cancelled` join / result without a
    /// winning cancel (accepted and dropped by the shutdown, or submitted
    /// after it and cancelled at once).
    pub dropped: usize,
    /// Refused at submission: `call_soon_threadsafe` returned `Err(Closed)`.
    pub refused: usize,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.ran += o.ran;
        self.cancelled += o.cancelled;
        self.dropped += o.dropped;
        self.refused += o.refused;
    }

    pub fn total(&self) -> usize {
        self.ran + self.cancelled + self.dropped + self.refused
    }
}

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

enum Item {
    Callback(loopwork::runtime::CallbackHandle, Option<bool>),
    Coroutine(loopwork::handoff::ConcurrentFuture<usize>, Option<bool>),
    Spawned(loopwork::Task<usize>, bool),
    Refused,
}

/// Runs the soak and checks every item; panics (naming the item) on any
/// item lost, run twice, or contradicting its handle.
pub fn soak(cfg: SoakConfig) -> Counts {
    let rt = loopwork::Runtime::builder()
        .loops(cfg.loops)
        .build()
        .expect("runtime starts");
    let handle = rt.handle();
    let runs: Arc<Vec<AtomicU8>> = Arc::new((0..cfg.items).map(|_| AtomicU8::new(0)).collect());
    let submitted = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(cfg.threads + 1));
    let (close_tx, close_rx) = std::sync::mpsc::channel::<()>();

    let mut workers = Vec::new();
    for t in 0..cfg.threads {
        let (handle, runs, submitted, start) = (
            handle.clone(),
            runs.clone(),
            submitted.clone(),
            start.clone(),
        );
        let close_tx = close_tx.clone();
        workers.push(std::thread::spawn(move || {
            let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ ((t as u64 + 1) << 32);
            let mut items = Vec::new();
            start.wait();
            for i in (t..cfg.items).step_by(cfg.threads) {
                let r = xorshift(&mut rng);
                let cancel = r % cfg.cancel_one_in == 0;
                let lp = handle.loop_handle((r >> 8) as usize % handle.loops());
                let runs2 = runs.clone();
                let item = match (r >> 16) % 3 {
                    0 => match lp.call_soon_threadsafe(move || {
                        runs2[i].fetch_add(1, SeqCst);
                    }) {
                        Ok(h) => {
                            let answer = cancel.then(|| h.cancel());
                            Item::Callback(h, answer)
                        }
                        Err(_closed) => Item::Refused,
                    },
                    1 => {
                        let cf = lp.run_coroutine_threadsafe(async move {
                            runs2[i].fetch_add(1, SeqCst);
                            i
                        });
                        let answer = cancel.then(|| cf.cancel());
                        Item::Coroutine(cf, answer)
                    }
                    _ => {
                        let task = handle.spawn(async move {
                            runs2[i].fetch_add(1, SeqCst);
                            i
                        });
                        if cancel {
                            task.cancel();
                        }
                        Item::Spawned(task, cancel)
                    }
                };
                items.push((i, item));
                let n = submitted.fetch_add(1, SeqCst) + 1;
                if Some(n) == cfg.close_after {
                    let _ = close_tx.send(());
                }
            }
            items
        }));
    }
    drop(close_tx);
    start.wait();
    let mut counts = Counts::default();
    let mut check_all = |items: Vec<(usize, Item)>| {
        for (i, item) in items {
            counts.add(check(i, item, runs[i].load(SeqCst)));
        }
    };
    if cfg.close_after.is_some() {
        // The closer, mid-stream; submitters keep going into a closed runtime.
        let _ = close_rx.recv();
        rt.close();
        for w in workers {
            check_all(w.join().expect("a submitting thread panicked"));
        }
    } else {
        let items: Vec<_> = workers
            .into_iter()
            .map(|w| w.join().expect("a submitting thread panicked"))
            .collect();
        // Every callback submitted so far is ahead of this round trip in its
        // loop's inbox: once it returns, they have run (or were cancelled).
        for l in 0..handle.loops() {
            handle
                .loop_handle(l)
                .run_coroutine_threadsafe(async {})
                .result()
                .expect("the barrier runs");
        }
        for items in items {
            check_all(items);
        }
        rt.close();
    }
    assert_eq!(counts.total(), cfg.items, "every item is accounted for");
    counts
}

/// One item's outcome, checked against its handle.
fn check(i: usize, item: Item, runs: u8) -> Counts {
    assert!(runs <= 1, "item {i} ran {runs} times");
    let mut c = Counts::default();
    match item {
        Item::Refused => {
            assert_eq!(runs, 0, "item {i}: refused but ran");
            c.refused = 1;
        }
        Item::Callback(h, answer) => {
            if runs == 1 {
                assert_ne!(
                    answer,
                    Some(true),
                    "callback {i}: cancel() said true but it ran"
                );
                assert!(
                    !h.cancelled() && !h.dropped(),
                    "callback {i} ran but its handle disagrees"
                );
                c.ran = 1;
            } else if h.cancelled() {
                assert_eq!(
                    answer,
                    Some(true),
                    "callback {i}: cancelled without a true cancel()"
                );
                c.cancelled = 1;
            } else {
                assert!(
                    h.dropped(),
                    "callback {i} never ran and its handle does not say why: lost"
                );
                c.dropped = 1;
            }
        }
        Item::Coroutine(cf, answer) => {
            let cancelled = cf.cancelled();
            match cf.result() {
                Ok(v) => {
                    assert_eq!((v, runs), (i, 1), "coroutine {i}");
                    assert_ne!(
                        answer,
                        Some(true),
                        "coroutine {i}: cancel() said true but it completed"
                    );
                    c.ran = 1;
                }
                Err(e) => {
                    assert!(e.is_cancelled() && cancelled, "coroutine {i}: {e}");
                    assert_eq!(
                        runs, 0,
                        "coroutine {i}: resolved Cancelled but its body completed"
                    );
                    // A `false` answer with a `Cancelled` result: the
                    // shutdown had resolved it first (dropped, not lost).
                    if answer == Some(true) {
                        c.cancelled = 1;
                    } else {
                        c.dropped = 1;
                    }
                }
            }
        }
        Item::Spawned(task, cancel) => match futures::executor::block_on(task) {
            Ok(v) => {
                assert_eq!((v, runs), (i, 1), "task {i}");
                c.ran = 1;
            }
            Err(e) => {
                assert!(e.is_cancelled(), "task {i}: {e}");
                assert_eq!(runs, 0, "task {i}: Cancelled but its body ran");
                if cancel {
                    c.cancelled = 1;
                } else {
                    c.dropped = 1;
                }
            }
        },
    }
    c
}
