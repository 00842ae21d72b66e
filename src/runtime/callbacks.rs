//! Callbacks: `call_soon_threadsafe` (any thread) and the loop-local
//! `call_soon` / `call_later` / `call_at`.
//!
//! # Cancel versus start
//! Every callback has a small state: `PENDING → STARTED` (the loop is about to
//! run it), `PENDING → CANCELLED` (its handle's `cancel`) or `PENDING →
//! DROPPED` (its loop shut down before running it, or was already closed when
//! a wrong-thread `call_soon` reached it). Each is one compare-and-swap from
//! `PENDING`, so exactly one of them wins: a callback whose `cancel()`
//! returned `true` never runs, one that started is never reported as
//! cancelled, and one the loop dropped says so (`dropped()`) instead of
//! staying pending forever. This is the race asyncio had to fix for
//! `call_soon_threadsafe` handles (gh-128340).
//!
//! Thread-safe callbacks keep that state in an atomic behind an `Arc` (shared
//! with the handle, which any thread may hold). Loop-local callbacks made on
//! the owner thread keep it in an `Rc<Cell>`: the fast path touches no atomic
//! beyond the queue's, and its handle is `!Send`, as asyncio's `Handle` is
//! not thread-safe either.
//!
//! Under `--cfg loopwork_loom` this file is built without the rest of the
//! runtime, so loom model 3b (`loom-tests/tests/callback_cancel.rs`) runs
//! the real `try_start` / `cancel` race.

use crate::sync::atomic::{AtomicU8, Ordering::*};
use crate::sync::Arc;
use std::cell::Cell;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;

const PENDING: u8 = 0;
const STARTED: u8 = 1;
const CANCELLED: u8 = 2;
/// The loop shut down (or was closed) before the callback could start: it
/// never runs. Set only by the loop's shutdown and the closer's last drain.
const DROPPED: u8 = 3;

/// Marks a thread-safe callback dropped by a closing loop; `false` if it had
/// started or was cancelled (then nothing is lost).
pub(crate) fn mark_dropped(state: &Arc<AtomicU8>) -> bool {
    // One CAS decides between dropped, started and cancelled (see
    // `try_start` and `cancel`); AcqRel/Acquire pair with theirs and with
    // the handle's `cancelled()` / `dropped()` loads.
    state
        .compare_exchange(PENDING, DROPPED, AcqRel, Acquire)
        .is_ok()
}

/// The state of one callback, local or shared.
#[derive(Clone)]
pub(crate) enum CallbackState {
    Local(Rc<Cell<u8>>),
    Shared(Arc<AtomicU8>),
}

impl CallbackState {
    pub(crate) fn local() -> CallbackState {
        CallbackState::Local(Rc::new(Cell::new(PENDING)))
    }

    /// The loop is about to run the callback: `false` if it was cancelled.
    pub(crate) fn try_start(&self) -> bool {
        match self {
            CallbackState::Local(c) => {
                if c.get() == PENDING {
                    c.set(STARTED);
                    true
                } else {
                    false
                }
            }
            // The loop's side of the one decision: pairs with `cancel`'s and
            // `mark_dropped`'s CAS (whoever is first wins).
            CallbackState::Shared(a) => a
                .compare_exchange(PENDING, STARTED, AcqRel, Acquire)
                .is_ok(),
        }
    }

    fn cancel(&self) -> bool {
        match self {
            CallbackState::Local(c) => {
                if c.get() == PENDING {
                    c.set(CANCELLED);
                    true
                } else {
                    false
                }
            }
            // The handle's side: pairs with `try_start`'s CAS.
            CallbackState::Shared(a) => a
                .compare_exchange(PENDING, CANCELLED, AcqRel, Acquire)
                .is_ok(),
        }
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.get() == CANCELLED
    }

    /// The loop is closing without running the callback: `PENDING → DROPPED`.
    /// `false` if it was cancelled (or had started) first.
    pub(crate) fn mark_dropped(&self) -> bool {
        match self {
            CallbackState::Local(c) => {
                if c.get() == PENDING {
                    c.set(DROPPED);
                    true
                } else {
                    false
                }
            }
            CallbackState::Shared(a) => mark_dropped(a),
        }
    }

    fn get(&self) -> u8 {
        match self {
            CallbackState::Local(c) => c.get(),
            // Acquire: pairs with the CAS that set the state.
            CallbackState::Shared(a) => a.load(Acquire),
        }
    }
}

/// Logs the callbacks a closing loop (or the closer) dropped unrun: at debug
/// level, at warn in debug mode. Their handles report `dropped()`.
pub(crate) fn report_dropped(debug: bool, n: usize, what: &str) {
    if n == 0 {
        return;
    }
    log::log!(
        target: "loopwork",
        crate::debug::warn_in_debug_mode(debug),
        "{what}: {n} callback(s) accepted before close() never ran; their handles report dropped()"
    );
}

/// A callback waiting in a loop's local queue or timer store.
pub(crate) struct LocalCallback {
    pub(crate) f: Box<dyn FnOnce()>,
    pub(crate) state: CallbackState,
    pub(crate) location: &'static Location<'static>,
}

impl LocalCallback {
    /// Runs the callback unless it was cancelled; a panic is caught and logged.
    pub(crate) fn run(self, loop_index: usize) {
        if !self.state.try_start() {
            return;
        }
        let location = self.location;
        if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(self.f)) {
            log::error!(
                target: "loopwork",
                "a callback scheduled at {location} panicked on loop {loop_index}: {}",
                crate::task::panic_message(&*p)
            );
        }
    }
}

/// The handle of a callback scheduled with
/// [`LoopHandle::call_soon_threadsafe`](crate::runtime::LoopHandle::call_soon_threadsafe).
/// `Send + Sync`: any thread may cancel it.
///
/// # Examples
///
/// ```
/// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
/// let lp = rt.loop_handle(0);
/// let (tx, rx) = std::sync::mpsc::channel();
/// let handle = lp.call_soon_threadsafe(move || tx.send("ran").unwrap()).unwrap();
/// assert_eq!(rx.recv().unwrap(), "ran");
/// assert!(!handle.cancel(), "it already started");
/// rt.close();
/// ```
#[derive(Clone)]
pub struct CallbackHandle {
    pub(crate) state: Arc<AtomicU8>,
}

impl CallbackHandle {
    pub(crate) fn pending() -> CallbackHandle {
        CallbackHandle {
            state: Arc::new(AtomicU8::new(PENDING)),
        }
    }

    /// Cancels the callback. Returns `true` if it had not started: it then
    /// never runs. Returns `false` if it has started (or already finished) or
    /// was cancelled before. Race-free against the loop starting it.
    pub fn cancel(&self) -> bool {
        CallbackState::Shared(self.state.clone()).cancel()
    }

    /// Whether `cancel` succeeded at some point.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    /// let lp = rt.loop_handle(0);
    /// // Hold the loop in a callback so the next one cannot start yet.
    /// let (go, wait) = std::sync::mpsc::channel::<()>();
    /// lp.call_soon_threadsafe(move || wait.recv().unwrap()).unwrap();
    /// let h = lp.call_soon_threadsafe(|| unreachable!("cancelled before it started")).unwrap();
    /// assert!(h.cancel());
    /// assert!(h.cancelled());
    /// go.send(()).unwrap();
    /// rt.close();
    /// ```
    pub fn cancelled(&self) -> bool {
        // Acquire: pairs with `cancel`'s CAS (on any thread).
        self.state.load(Acquire) == CANCELLED
    }

    /// Whether the loop shut down before the callback could start: it never
    /// ran and never will. Such a callback is neither cancelled nor started
    /// (`cancel()` returns `false`), and the shutdown logs how many it dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    /// let lp = rt.loop_handle(0);
    /// // Hold the loop in a callback, so the next one is still in its inbox
    /// // when close() runs.
    /// let (go, wait) = std::sync::mpsc::channel::<()>();
    /// let (held_tx, held) = std::sync::mpsc::channel::<()>();
    /// lp.call_soon_threadsafe(move || {
    ///     held_tx.send(()).unwrap();
    ///     wait.recv().unwrap();
    /// })
    /// .unwrap();
    /// held.recv().unwrap();
    /// let h = lp.call_soon_threadsafe(|| unreachable!("dropped at shutdown")).unwrap();
    /// let lp2 = lp.clone();
    /// let closer = std::thread::spawn(move || rt.close());
    /// while !lp2.is_closed() {
    ///     std::thread::yield_now();
    /// }
    /// go.send(()).unwrap();
    /// closer.join().unwrap();
    /// assert!(h.dropped());
    /// assert!(!h.cancelled());
    /// assert!(!h.cancel(), "it will never run, but it was not cancelled");
    /// ```
    pub fn dropped(&self) -> bool {
        // Acquire: pairs with `mark_dropped`'s CAS on the closing loop.
        self.state.load(Acquire) == DROPPED
    }
}

impl fmt::Debug for CallbackHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackHandle")
            .field("state", &state_name(self.state.load(Acquire)))
            .finish()
    }
}

/// The handle of a loop-local callback (`call_soon`, `call_later`, `call_at`).
///
/// Not `Send`, like the loop-local APIs that make it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// loopwork::run(async {
///     loopwork::spawn(async {
///         let lp = loopwork::current_loop();
///         let handle = lp.call_later(Duration::from_secs(60), || unreachable!());
///         assert!(handle.cancel());
///         assert!(handle.cancelled());
///     })
///     .await
///     .unwrap();
/// });
/// ```
pub struct LocalCallbackHandle {
    pub(crate) state: CallbackState,
}

impl LocalCallbackHandle {
    /// Cancels the callback; `true` if it had not started (it never will).
    pub fn cancel(&self) -> bool {
        self.state.cancel()
    }

    /// Whether the callback was cancelled.
    pub fn cancelled(&self) -> bool {
        self.state.get() == CANCELLED
    }

    /// Whether the loop was closed (or shut down) before the callback could
    /// start: it never ran and never will. A wrong-thread `call_soon` on a
    /// closed loop gives such a handle (the thread-safe
    /// [`call_soon_threadsafe`](crate::runtime::LoopHandle::call_soon_threadsafe)
    /// returns `Err(Closed)` instead).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(1).debug(false).build().unwrap();
    /// let lp = rt.loop_handle(0);
    /// rt.close();
    /// // From a foreign thread, in production mode: the thread-safe path,
    /// // refused because the loop is closed.
    /// let h = lp.call_soon(|| unreachable!());
    /// assert!(h.dropped());
    /// assert!(!h.cancel());
    /// ```
    pub fn dropped(&self) -> bool {
        self.state.get() == DROPPED
    }
}

impl fmt::Debug for LocalCallbackHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCallbackHandle")
            .field("state", &state_name(self.state.get()))
            .finish()
    }
}

fn state_name(s: u8) -> &'static str {
    match s {
        PENDING => "pending",
        STARTED => "started",
        DROPPED => "dropped at shutdown",
        _ => "cancelled",
    }
}
