//! The virtual clock of a loom model (feature `loom` only).
//!
//! # Invariants
//! - Virtual time never moves backwards, and it moves only when **every
//!   loop of every runtime built in the execution is idle**: parked in its
//!   reactor wait with no pending notification, or finished. It then jumps
//!   straight to the earliest deadline anyone waits for (a parked loop's
//!   next timer, a foreign thread's timed wait), and wakes whoever that
//!   deadline belongs to. A timer therefore fires, and a timed wait times
//!   out, only once nothing else can happen on the loops first: `sleep`,
//!   `call_later`, `wait_for`, `result_timeout` and `shutdown_timeout` are
//!   deterministic inside a model, and loom still explores every
//!   interleaving of the threads around them.
//! - A loop's notification and its parked state live under the clock's one
//!   lock, so "every loop is idle" is decided atomically: a notify that has
//!   happened is never missed by the decision, and a loop woken by it is
//!   no longer idle.
//! - A timed condition-variable wait (`sync::Condvar::wait_timeout`) is
//!   registered here while the caller still holds its mutex, so a notify
//!   that follows a state change under that mutex always finds the
//!   registration (no lost wakeup); the waiter then blocks on the clock's
//!   condvar until it is notified through `notify_cv` or its deadline
//!   passes.
//! - One clock per loom execution: the first runtime built in it starts
//!   the clock at virtual time zero, every reactor of every runtime holds
//!   it, and it ends with the last of them. loom runs all the threads of a
//!   model on the OS thread that called `loom::model`, so a std
//!   thread-local names the current clock (a `Weak`: no runtime, no
//!   clock) and concurrently running models (test threads) never share
//!   one.
//! - Without a runtime (the protocol models of `loom-tests/`, which build
//!   none) there is no clock: `now` is `Instant::now()` and timed waits keep
//!   their plain loom stand-in (`loom_impl::Condvar::wait_timeout`), and
//!   looking the clock up is no loom operation at all (no scheduling point,
//!   no synchronisation that could hide a missing one in a model).
//!
//! The virtual "now" is also readable without the lock (an unmodelled std
//! atomic, written only under the lock): loom runs one model thread at a
//! time, so a read sees the last write, and a clock read is not a step loom
//! has to interleave.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// The execution's clock.
pub(crate) struct Clock {
    state: loom::sync::Mutex<State>,
    /// Every parked loop and timed waiter blocks here; wakes are by
    /// `notify_all` and each sleeper re-checks its own condition.
    cv: loom::sync::Condvar,
    /// Real time at the start of the execution: virtual time 0.
    base: Instant,
    /// Virtual nanoseconds since `base` (written under `state`).
    now_ns: AtomicU64,
}

#[derive(Default)]
struct State {
    loops: Vec<LoopSlot>,
    waiters: Vec<Waiter>,
    next_waiter: u64,
}

#[derive(Default)]
struct LoopSlot {
    notified: bool,
    parked: bool,
    /// Virtual deadline of the parked wait (`None`: no timer).
    deadline: Option<u64>,
    /// The loop has finished its shutdown: it never waits again.
    done: bool,
}

/// A foreign thread in a timed condvar wait.
struct Waiter {
    id: u64,
    /// The address of the `sync::Condvar` waited on.
    cv: usize,
    deadline: u64,
    woken: bool,
}

std::thread_local! {
    static CURRENT: RefCell<Weak<Clock>> = const { RefCell::new(Weak::new()) };
}

/// The current execution's clock, if a runtime exists in it.
pub(crate) fn current() -> Option<Arc<Clock>> {
    CURRENT.with(|c| c.borrow().upgrade())
}

/// The current execution's clock, started by the first runtime (a
/// reactor holds the `Arc`).
pub(crate) fn get_or_start() -> Arc<Clock> {
    CURRENT.with(|c| {
        if let Some(clock) = c.borrow().upgrade() {
            return clock;
        }
        let clock = Arc::new(Clock {
            state: loom::sync::Mutex::new(State::default()),
            cv: loom::sync::Condvar::new(),
            base: Instant::now(),
            now_ns: AtomicU64::new(0),
        });
        *c.borrow_mut() = Arc::downgrade(&clock);
        clock
    })
}

/// The current time: virtual while a runtime exists in the execution.
pub(crate) fn now() -> Instant {
    match current() {
        Some(clock) => clock.now(),
        None => Instant::now(),
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Clock {
    fn now_ns(&self) -> u64 {
        self.now_ns.load(Relaxed)
    }

    /// Virtual now.
    pub(crate) fn now(&self) -> Instant {
        self.base + Duration::from_nanos(self.now_ns())
    }

    /// Registers a loop (one per reactor): it counts as busy until it parks.
    pub(crate) fn add_loop(&self) -> usize {
        let mut st = self.state.lock().unwrap();
        st.loops.push(LoopSlot::default());
        st.loops.len() - 1
    }

    /// The poller's `notify`: deduplicated and sticky (the next
    /// `park_loop` returns at once and consumes it).
    pub(crate) fn notify_loop(&self, id: usize) {
        let mut st = self.state.lock().unwrap();
        let slot = &mut st.loops[id];
        if !slot.notified {
            slot.notified = true;
            if slot.parked {
                self.cv.notify_all();
            }
        }
    }

    /// The poller's wait: returns when notified (consuming it) or when
    /// virtual time reaches `now + timeout`. A loop that makes every loop
    /// idle advances time itself.
    pub(crate) fn park_loop(&self, id: usize, timeout: Option<Duration>) {
        let mut st = self.state.lock().unwrap();
        let deadline = timeout.map(|t| self.now_ns().saturating_add(nanos(t)));
        loop {
            let slot = &mut st.loops[id];
            if slot.notified {
                slot.notified = false;
                break;
            }
            if deadline.is_some_and(|d| self.now_ns() >= d) {
                break;
            }
            slot.parked = true;
            slot.deadline = deadline;
            if self.try_advance(&mut st) {
                continue;
            }
            st = self.cv.wait(st).unwrap();
        }
        let slot = &mut st.loops[id];
        slot.parked = false;
        slot.deadline = None;
    }

    /// The loop has finished: it no longer holds time back.
    pub(crate) fn loop_done(&self, id: usize) {
        let mut st = self.state.lock().unwrap();
        st.loops[id].done = true;
        self.try_advance(&mut st);
    }

    /// Registers a timed wait on the condvar at address `cv`; call it while
    /// holding the condvar's mutex, then release the mutex and call
    /// [`wait`](Clock::wait) with the id.
    pub(crate) fn register(&self, cv: usize, timeout: Duration) -> u64 {
        let mut st = self.state.lock().unwrap();
        st.next_waiter += 1;
        let id = st.next_waiter;
        let deadline = self.now_ns().saturating_add(nanos(timeout));
        st.waiters.push(Waiter {
            id,
            cv,
            deadline,
            woken: false,
        });
        id
    }

    /// Blocks until the registered wait `id` is notified (`true`) or
    /// virtual time reaches its deadline (`false`).
    pub(crate) fn wait(&self, id: u64) -> bool {
        let mut st = self.state.lock().unwrap();
        loop {
            let i = st
                .waiters
                .iter()
                .position(|w| w.id == id)
                .expect("a registered timed wait");
            let w = &st.waiters[i];
            let outcome = if w.woken {
                Some(true)
            } else if self.now_ns() >= w.deadline {
                Some(false)
            } else {
                None
            };
            if let Some(woken) = outcome {
                st.waiters.swap_remove(i);
                drop(st);
                if !woken {
                    // A caller that waits again at once (a poll loop)
                    // would otherwise time out for ever without letting
                    // anyone else run: loom runs other threads first.
                    loom::thread::yield_now();
                }
                return woken;
            }
            if self.try_advance(&mut st) {
                continue;
            }
            st = self.cv.wait(st).unwrap();
        }
    }

    /// `notify_one` / `notify_all` on the condvar at address `cv`: wakes
    /// the timed waits registered on it (one, or all).
    pub(crate) fn notify_cv(&self, cv: usize, all: bool) {
        let mut st = self.state.lock().unwrap();
        let mut any = false;
        for w in st.waiters.iter_mut().filter(|w| w.cv == cv && !w.woken) {
            w.woken = true;
            any = true;
            if !all {
                break;
            }
        }
        if any {
            self.cv.notify_all();
        }
    }

    /// If every loop is idle, moves time to the earliest pending deadline
    /// and wakes the sleepers; whether time moved.
    fn try_advance(&self, st: &mut State) -> bool {
        let all_idle = st.loops.iter().all(|l| l.done || (l.parked && !l.notified));
        if !all_idle {
            return false;
        }
        let next = st
            .loops
            .iter()
            .filter(|l| !l.done && l.parked)
            .filter_map(|l| l.deadline)
            .chain(st.waiters.iter().filter(|w| !w.woken).map(|w| w.deadline))
            .min();
        match next {
            Some(t) if t > self.now_ns() => {
                self.now_ns.store(t, Relaxed);
                self.cv.notify_all();
                true
            }
            _ => false,
        }
    }
}
