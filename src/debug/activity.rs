//! What a loop is running right now, published for the watchdog and the
//! task dump (debug mode): the task or callback, and since when.
//!
//! # Invariants
//! * **Writer**: only the loop's thread, in debug mode, around each task
//!   poll and callback: [`Activity::start_task`] / [`Activity::start_callback`]
//!   before, [`Activity::end`] after. Production never touches it.
//! * **The task stays alive while a reader looks at it.** The record holds
//!   the address of the running task's header, which only the loop's own
//!   reference (the `Notified` it is polling) keeps alive, and only until
//!   the poll ends. A reader never dereferences an address it merely
//!   loaded; it runs a Dekker handshake with the loop's `end`:
//!
//!   | loop (`end`, every poll) | reader (`inspect`, under `lock`) |
//!   |---|---|
//!   | `what = 0` | `reading = true` |
//!   | fence | fence |
//!   | if `reading`: take `lock` (wait) | if `what` is still the address: read |
//!
//!   The fences make "the loop misses `reading` *and* the reader misses
//!   `what = 0`" impossible: either the reader sees the run ended and
//!   reads nothing, or the loop sees the reader and waits for `lock`
//!   before it goes on (and may drop its reference). So every read happens
//!   while the task is alive.
//! * **The fence costs the loop nothing on Linux.** The loop's fence is
//!   only a compiler fence; the reader's is `membarrier(PRIVATE_EXPEDITED)`,
//!   which makes every running thread of the process execute a full
//!   barrier (an asymmetric fence, as in folly's hazard pointers and
//!   Linux's RCU). The reader is rare (the watchdog, once per blocked
//!   episode; the task dump); the loop ends a run on every poll. Where
//!   `membarrier` is unavailable both sides use `fence(SeqCst)`.
//! * A callback is named by its creation site, a `&'static Location`:
//!   always valid (the same handshake is used anyway).
//! * `reported` is set by the watchdog with its "blocked" report (inside
//!   the handshake, so for the run it read) and taken by the loop's `end`,
//!   which then writes the one "episode over" line.
//!
//! The words are `std` atomics and the lock a `std` mutex on purpose: this
//! is a diagnostic, not a protocol, so the loom models do not explore it.

use std::panic::Location;
use std::sync::atomic::{compiler_fence, fence, AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Mutex, OnceLock};

/// The published address is a callback's `&'static Location`, not a task
/// header.
const CALLBACK: usize = 0b1;

/// What the loop runs, as a reader sees it (valid only inside
/// [`Activity::inspect`]'s closure).
pub(crate) enum Running {
    /// The address of the running task's header (alive during the closure).
    Task(*const ()),
    /// A callback, by its creation site.
    Callback(&'static Location<'static>),
}

/// One loop's record (see the module docs).
pub(crate) struct Activity {
    /// The running task's header address, or callback site with `CALLBACK`;
    /// 0 when the loop runs neither.
    what: AtomicUsize,
    /// When the run started, in clock ticks.
    since: AtomicU64,
    /// Pinned tasks queued on the loop (at the run's start, plus those
    /// queued since): they wait for the run to end, no sibling may run them.
    pinned_waiting: AtomicUsize,
    /// A reader is inside the handshake (see the module docs).
    reading: AtomicBool,
    /// The watchdog has reported the current run as blocked.
    reported: AtomicBool,
    /// Serialises readers; the loop takes it when `end` finds `reading`.
    lock: Mutex<()>,
    /// Whether `membarrier` serves as the reader's fence (see module docs).
    asymmetric: bool,
    /// The loop's thread name, set once when the loop starts.
    thread: OnceLock<String>,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            what: AtomicUsize::new(0),
            since: AtomicU64::new(0),
            pinned_waiting: AtomicUsize::new(0),
            reading: AtomicBool::new(false),
            reported: AtomicBool::new(false),
            lock: Mutex::new(()),
            asymmetric: heavy_barrier::available(),
            thread: OnceLock::new(),
        }
    }
}

/// What [`Activity::inspect`] found.
pub(crate) struct Seen<R> {
    /// When the run started, in clock ticks.
    pub(crate) since: u64,
    pub(crate) pinned_waiting: usize,
    /// Whether the watchdog had already reported this run.
    pub(crate) reported: bool,
    /// The closure's result.
    pub(crate) value: R,
}

impl Activity {
    /// Names the loop's thread (once, on the loop's thread).
    pub(crate) fn set_thread(&self, name: String) {
        let _ = self.thread.set(name);
    }

    /// The loop's thread name ("" before the loop started).
    pub(crate) fn thread(&self) -> &str {
        self.thread.get().map_or("", |s| s)
    }

    /// A task poll starts at tick `since`: `header` is the task's header
    /// address, alive until the matching `end` (the loop holds a reference).
    #[inline]
    pub(crate) fn start_task(&self, header: *const (), since: u64) {
        debug_assert_eq!(header as usize & CALLBACK, 0, "task headers are aligned");
        self.since.store(since, Relaxed);
        // Release: a reader that sees the address sees `since` too.
        self.what.store(header as usize, Release);
    }

    /// Publishes how many pinned tasks are queued.
    #[inline]
    pub(crate) fn set_pinned_waiting(&self, n: usize) {
        self.pinned_waiting.store(n, Relaxed);
    }

    /// A callback created at `site` starts at tick `since`.
    #[inline]
    pub(crate) fn start_callback(&self, site: &'static Location<'static>, since: u64) {
        let addr = site as *const Location<'static> as usize;
        debug_assert_eq!(addr & CALLBACK, 0, "a Location is aligned");
        self.since.store(since, Relaxed);
        self.what.store(addr | CALLBACK, Release);
    }

    /// The task poll or callback ended; whether the watchdog had reported
    /// it as blocked. After this returns no reader looks at the task.
    #[inline]
    pub(crate) fn end(&self) -> bool {
        self.what.store(0, Relaxed);
        // The loop's side of the handshake (see the module docs): the
        // store above is ordered before the load of `reading` below.
        if self.asymmetric {
            compiler_fence(SeqCst);
        } else {
            fence(SeqCst);
        }
        // Acquire: a reader that has already finished lowered `reading`
        // with Release, after setting `reported`, which is then visible.
        if self.reading.load(Acquire) {
            // A reader is inside: wait for it before the task may be freed
            // (the lock also makes its `reported` visible).
            drop(self.lock.lock().unwrap_or_else(|e| e.into_inner()));
        }
        // Set only by a reader that read this run, inside the handshake.
        self.reported.load(Relaxed) && self.reported.swap(false, Relaxed)
    }

    /// Without the handshake (only loads): since when the loop runs the
    /// current task poll or callback, and whether it was reported; `None`
    /// when it runs neither. The watchdog's cheap look before `inspect`.
    pub(crate) fn peek(&self) -> Option<(u64, bool)> {
        let what = self.what.load(Acquire);
        (what != 0).then(|| (self.since.load(Relaxed), self.reported.load(Relaxed)))
    }

    /// Runs `f` on what the loop runs now, if anything, while it cannot
    /// end (see the module docs). `report`: the start tick of the run the
    /// watchdog reports; it is marked reported only if it is still that
    /// run (not a later one that started meanwhile). Any thread; `f` must
    /// not block. Costs a process-wide barrier.
    pub(crate) fn inspect<R>(
        &self,
        report: Option<u64>,
        f: impl FnOnce(Running) -> R,
    ) -> Option<Seen<R>> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.reading.store(true, Relaxed);
        // The reader's side of the handshake: `reading` is ordered before
        // the load of `what` below, and (with `membarrier`) every loop
        // thread has executed a full barrier meanwhile.
        let fenced = if self.asymmetric {
            heavy_barrier::run()
        } else {
            fence(SeqCst);
            true
        };
        // Acquire: pairs with the start's Release (`since` is visible).
        let what = if fenced { self.what.load(Acquire) } else { 0 };
        let seen = (what != 0).then(|| {
            let since = self.since.load(Relaxed);
            let pinned_waiting = self.pinned_waiting.load(Relaxed);
            let addr = what & !CALLBACK;
            let running = if what & CALLBACK != 0 {
                // SAFETY: with `CALLBACK` the address is a `&'static
                // Location` (see `start_callback`).
                Running::Callback(unsafe { &*(addr as *const Location<'static>) })
            } else {
                Running::Task(addr as *const ())
            };
            // The run is still published and cannot end before `reading`
            // is lowered (see the module docs): `f` may read the task.
            let value = f(running);
            let reported = if report == Some(since) {
                self.reported.swap(true, Relaxed)
            } else {
                self.reported.load(Relaxed)
            };
            Seen {
                since,
                pinned_waiting,
                reported,
                value,
            }
        });
        self.reading.store(false, Release);
        seen
    }
}

/// The reader's fence: `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` on
/// Linux (registered once per process), unavailable elsewhere.
mod heavy_barrier {
    use std::sync::OnceLock;

    /// Whether the process could register for the expedited barrier.
    pub(super) fn available() -> bool {
        static AVAILABLE: OnceLock<bool> = OnceLock::new();
        *AVAILABLE.get_or_init(register)
    }

    #[cfg(target_os = "linux")]
    fn register() -> bool {
        // SAFETY: the membarrier system call takes three integers and
        // touches no memory of ours.
        unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                libc::MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                0,
                0,
            ) == 0
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn register() -> bool {
        false
    }

    /// Every running thread of the process executes a full memory barrier
    /// before this returns `true`. Only called when `available()` said so;
    /// `false` if the call failed anyway (the reader then reads nothing).
    #[cfg(target_os = "linux")]
    pub(super) fn run() -> bool {
        // SAFETY: as in `register`.
        unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                libc::MEMBARRIER_CMD_PRIVATE_EXPEDITED,
                0,
                0,
            ) == 0
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn run() -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_seen_until_it_ends_and_the_report_mark_comes_back() {
        let a = Activity::default();
        assert!(a.inspect(None, |_| ()).is_none(), "idle");
        let site = Location::caller();
        a.start_callback(site, 42);
        let seen = a
            .inspect(Some(42), |r| match r {
                Running::Callback(s) => s.line(),
                Running::Task(_) => 0,
            })
            .unwrap();
        assert_eq!(
            (seen.since, seen.value, seen.reported),
            (42, site.line(), false)
        );
        let again = a.inspect(None, |_| ()).unwrap();
        assert!(again.reported, "the first inspect marked it reported");
        assert!(a.end(), "end says the run was reported");
        assert!(!a.end(), "taken by the first end");
        assert!(a.inspect(None, |_| ()).is_none());
        let header = Box::new(0u64);
        a.set_pinned_waiting(3);
        a.start_task(&*header as *const u64 as *const (), 7);
        let seen = a
            .inspect(
                None,
                |r| matches!(r, Running::Task(p) if p == &*header as *const u64 as *const ()),
            )
            .unwrap();
        assert!(seen.value && seen.pinned_waiting == 3);
        assert!(!a.end(), "not reported");
    }

    #[test]
    fn a_reader_never_sees_a_run_after_it_ended() {
        const LIVE: u64 = 0x5EED;
        let a = std::sync::Arc::new(Activity::default());
        let a2 = a.clone();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let writer = std::thread::spawn(move || {
            let mut runs = 0u64;
            while !stop2.load(Relaxed) || runs < 1_000 {
                let task = Box::new(AtomicU64::new(LIVE));
                a2.start_task(&*task as *const AtomicU64 as *const (), runs + 1);
                std::hint::spin_loop();
                a2.end();
                // What freeing does to a task: after `end`, no reader may
                // see it; a reader that did would read the poison.
                task.store(0, Relaxed);
                drop(task);
                runs += 1;
            }
        });
        let mut seen = 0;
        for _ in 0..2_000 {
            if let Some(s) = a.inspect(None, |r| match r {
                // SAFETY: `inspect` guarantees the run cannot end (and the
                // box cannot be poisoned or freed) during this closure.
                Running::Task(p) => unsafe { &*(p as *const AtomicU64) }.load(Relaxed),
                Running::Callback(_) => LIVE,
            }) {
                assert_eq!(s.value, LIVE, "read a run after it ended");
                seen += 1;
            }
        }
        stop.store(true, Relaxed);
        writer.join().unwrap();
        let _ = seen; // how many reads overlapped a run depends on scheduling
    }
}
