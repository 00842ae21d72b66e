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
//!   the poll ends. A reader therefore never dereferences an address it
//!   merely loaded: under `lock` it sets `READING` with a compare-and-swap
//!   that succeeds only while the address is still published, reads, then
//!   clears the bit. The loop's `end` is one `swap` to idle: if it returns
//!   `READING`, a reader is inside, and the loop takes `lock` (waiting for
//!   the reader to finish) before it goes on and may drop its reference.
//!   So every read happens before the poll's end, while the task is alive.
//!   The fast path pays one store at the start and one swap at the end; the
//!   lock is taken by the loop only in the rare poll a reader looked at.
//! * A callback is named by its creation site, a `&'static Location`:
//!   always valid, no handshake needed (the same bits are used anyway).
//! * `REPORTED` is set by the watchdog with its "blocked" report and is
//!   returned by `end`, so the loop writes the one "episode over" line.
//!
//! The words are `std` atomics and the lock a `std` mutex on purpose: this
//! is a diagnostic, not a protocol, so the loom models do not explore it.

use std::panic::Location;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Mutex, OnceLock};

/// A reader is dereferencing the published address.
const READING: usize = 0b001;
/// The watchdog has reported this run as blocked.
const REPORTED: usize = 0b010;
/// The address is a callback's `&'static Location`, not a task header.
const CALLBACK: usize = 0b100;
const FLAGS: usize = 0b111;

/// What the loop runs, as a reader sees it (valid only inside
/// [`Activity::inspect`]'s closure).
pub(crate) enum Running {
    /// The address of the running task's header (alive during the closure).
    Task(*const ()),
    /// A callback, by its creation site.
    Callback(&'static Location<'static>),
}

/// One loop's record (see the module docs).
#[derive(Default)]
pub(crate) struct Activity {
    /// The running task's header address or callback site, with the flag
    /// bits above; 0 when the loop runs neither.
    what: AtomicUsize,
    /// When the run started, in clock ticks.
    since: AtomicU64,
    /// Pinned tasks queued on the loop (at the run's start, plus those
    /// queued since): they wait for the run to end, no sibling may run them.
    pinned_waiting: AtomicUsize,
    /// Taken by readers while `READING` is set, and by the loop when `end`
    /// finds it set.
    lock: Mutex<()>,
    /// The loop's thread name, set once when the loop starts.
    thread: OnceLock<String>,
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
        debug_assert_eq!(header as usize & FLAGS, 0, "task headers are 8-aligned");
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
        debug_assert_eq!(addr & FLAGS, 0, "a Location is 8-aligned");
        self.since.store(since, Relaxed);
        self.what.store(addr | CALLBACK, Release);
    }

    /// The task poll or callback ended; whether the watchdog had reported
    /// it as blocked. After this returns no reader looks at the task.
    #[inline]
    pub(crate) fn end(&self) -> bool {
        // AcqRel: one total order with the readers' CAS on `what`.
        let prev = self.what.swap(0, AcqRel);
        if prev & READING != 0 {
            // A reader is inside: wait for it before the task may be freed.
            drop(self.lock.lock().unwrap_or_else(|e| e.into_inner()));
        }
        prev & REPORTED != 0
    }

    /// Without the handshake (only loads): since when the loop runs the
    /// current task poll or callback, and whether it was reported; `None`
    /// when it runs neither. The watchdog's cheap look before `inspect`.
    pub(crate) fn peek(&self) -> Option<(u64, bool)> {
        let what = self.what.load(Acquire);
        (what != 0).then(|| (self.since.load(Relaxed), what & REPORTED != 0))
    }

    /// Runs `f` on what the loop runs now, if anything, while it cannot
    /// end (see the module docs); `report` also marks the run reported.
    /// Any thread; `f` must not block.
    pub(crate) fn inspect<R>(&self, report: bool, f: impl FnOnce(Running) -> R) -> Option<Seen<R>> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let what = self.what.load(Acquire);
        if what == 0 {
            return None;
        }
        let extra = READING | if report { REPORTED } else { 0 };
        // Succeeds only while the run is still published: from here on
        // the loop's `end` sees `READING` and waits for `_guard`.
        if self
            .what
            .compare_exchange(what, what | extra, AcqRel, Acquire)
            .is_err()
        {
            return None; // it ended (or the next one started) meanwhile
        }
        let since = self.since.load(Relaxed);
        let pinned_waiting = self.pinned_waiting.load(Relaxed);
        let addr = what & !FLAGS;
        let running = if what & CALLBACK != 0 {
            // SAFETY: with `CALLBACK` the address is a `&'static Location`
            // (see `start_callback`).
            Running::Callback(unsafe { &*(addr as *const Location<'static>) })
        } else {
            Running::Task(addr as *const ())
        };
        let value = f(running);
        // Clears `READING` (fails if the loop has ended the run: then it
        // waits for `_guard`, and the next run starts without the bit).
        let _ =
            self.what
                .compare_exchange(what | extra, what | (extra & REPORTED), AcqRel, Relaxed);
        Some(Seen {
            since,
            pinned_waiting,
            reported: what & REPORTED != 0,
            value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_seen_until_it_ends_and_the_report_mark_comes_back() {
        let a = Activity::default();
        assert!(a.inspect(false, |_| ()).is_none(), "idle");
        let site = Location::caller();
        a.start_callback(site, 42);
        let seen = a
            .inspect(true, |r| match r {
                Running::Callback(s) => s.line(),
                Running::Task(_) => 0,
            })
            .unwrap();
        assert_eq!(
            (seen.since, seen.value, seen.reported),
            (42, site.line(), false)
        );
        let again = a.inspect(false, |_| ()).unwrap();
        assert!(again.reported, "the first inspect marked it reported");
        assert!(a.end(), "end says the run was reported");
        assert!(a.inspect(false, |_| ()).is_none());
        let header = Box::new(0u64);
        a.set_pinned_waiting(3);
        a.start_task(&*header as *const u64 as *const (), 7);
        let seen = a
            .inspect(
                false,
                |r| matches!(r, Running::Task(p) if p == &*header as *const u64 as *const ()),
            )
            .unwrap();
        assert!(seen.value && seen.pinned_waiting == 3);
        assert!(!a.end(), "not reported");
    }
}
