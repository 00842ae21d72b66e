//! Thread-local context: which loop (if any) this thread runs, and which
//! runtime a foreign thread has entered through `block_on`.
//!
//! A loop thread sets `CORE` to its `LoopCore` (which lives on that thread's
//! stack for the thread's whole life) before running anything and clears it
//! before the core is dropped, so a reference handed to `with_core`'s closure
//! is always valid for the call.

use super::event_loop::LoopCore;
use super::shared::Shared;
use crate::sync::Arc;
use std::cell::{Cell, RefCell};
use std::panic::Location;
use std::ptr;

crate::sync::loop_thread_local! {
    static CORE: Cell<*const LoopCore> = Cell::new(ptr::null());
}
crate::sync::loop_thread_local! {
    static ENTERED: RefCell<Vec<Arc<Shared>>> = RefCell::new(Vec::new());
}

/// Runs `f` with this thread's loop, if it is a loop thread.
#[inline]
pub(crate) fn with_core<R>(f: impl FnOnce(Option<&LoopCore>) -> R) -> R {
    let core = CORE.try_with(|c| c.get()).unwrap_or(ptr::null());
    // SAFETY: a non-null pointer was set by `set_core` and stays valid until
    // `CoreGuard` drops, which happens only after the loop stops running code.
    f(unsafe { core.as_ref() })
}

/// Installs `core` as this thread's loop until the guard drops.
pub(crate) fn set_core(core: &LoopCore) -> CoreGuard {
    CORE.with(|c| {
        assert!(c.get().is_null(), "a thread can run only one loop");
        c.set(core);
    });
    CoreGuard(())
}

pub(crate) struct CoreGuard(());

impl Drop for CoreGuard {
    fn drop(&mut self) {
        CORE.with(|c| c.set(ptr::null()));
    }
}

/// Marks a foreign thread as inside a runtime (during `block_on`), so that
/// `spawn`, `sleep` and friends find it.
pub(crate) fn enter(shared: Arc<Shared>) -> EnterGuard {
    ENTERED.with(|e| e.borrow_mut().push(shared));
    EnterGuard(())
}

pub(crate) struct EnterGuard(());

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let _ = ENTERED.try_with(|e| e.borrow_mut().pop());
    }
}

/// The runtime this thread is in: its loop's, or the one entered by `block_on`.
pub(crate) fn current_shared() -> Option<Arc<Shared>> {
    with_core(|core| core.map(|c| c.shared.clone())).or_else(|| {
        ENTERED
            .try_with(|e| e.borrow().last().cloned())
            .ok()
            .flatten()
    })
}

/// Whether the runtime this thread is in (its loop's, or the one entered by
/// `block_on`) is in debug mode. Handed to the debug layer, which asks it
/// before capturing a creation backtrace.
pub(crate) fn current_is_debug() -> bool {
    with_core(|core| core.map(|c| c.shared.is_debug())).unwrap_or_else(|| {
        ENTERED
            .try_with(|e| e.borrow().last().is_some_and(|s| s.is_debug()))
            .unwrap_or(false)
    })
}

/// Whether this thread is a loop thread (of any loopwork runtime).
pub(crate) fn on_loop_thread() -> bool {
    with_core(|core| core.is_some())
}

/// The one panic of every API that must run on a loop thread, called
/// elsewhere: names the API, the call site, the thread, and the fix.
#[track_caller]
pub(crate) fn not_a_loop_thread(api: &str, location: &Location<'_>, fix: &str) -> ! {
    panic!(
        "{api} called at {location} on thread '{}', which is not a loop thread: {fix}",
        std::thread::current().name().unwrap_or("<unnamed>")
    )
}
