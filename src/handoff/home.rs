//! Sending a `Local<T>`'s value home: the decision `Local::drop` makes on a
//! foreign thread, kept apart from the runtime so that loom can run it.
//!
//! # Invariant
//! The value is dropped only by [`Homebound::deliver`], which only the owner
//! loop runs (it is the body of an `InboxItem::Call` sent to that loop's
//! inbox, and inbox calls run on the owner thread). Every other way out —
//! the gate is closed, the owner has closed, or the call is dropped unrun —
//! drops the `Homebound`, which leaks the value and logs: a value is never
//! dropped off its owner thread, at the price of a leak at shutdown.
//!
//! Built under `--cfg loopwork_loom` without the rest of the runtime (loom
//! model 8, `loom-tests/tests/local_drop.rs`).

use crate::scheduler::gate::Gate;
use crate::sync::atomic::{AtomicBool, Ordering::SeqCst};

/// A value on its way home; dropped only by running on the owner.
pub(crate) struct Homebound<T>(Option<Box<T>>);

// SAFETY: the box is only opened (dropped) by `deliver`, which runs on the
// owner loop; everywhere else it is leaked, never touched.
unsafe impl<T> Send for Homebound<T> {}

impl<T> Homebound<T> {
    /// Drops the value; runs on the owner loop's thread.
    pub(crate) fn deliver(mut self) {
        drop(self.0.take());
    }
}

impl<T> Drop for Homebound<T> {
    fn drop(&mut self) {
        if let Some(b) = self.0.take() {
            log::warn!(
                target: "loopwork",
                "a Local<{}> could not be sent home to its closed loop; the value is leaked \
                 (it is never dropped off its owner thread)",
                std::any::type_name::<T>()
            );
            std::mem::forget(b);
        }
    }
}

/// Sends `value` home from a foreign thread: if the runtime's `gate` lets us
/// in and the owner has not `closed`, `send` hands the owner a call that
/// drops the value there (run by the owner, even during its shutdown);
/// otherwise the value is leaked. Returns whether it was sent.
pub(crate) fn send_home<T: 'static>(
    value: T,
    gate: &Gate,
    owner_closed: &AtomicBool,
    send: impl FnOnce(Box<dyn FnOnce() + Send>),
) -> bool {
    let home = Homebound(Some(Box::new(value)));
    match gate.enter() {
        Some(_pass) if !owner_closed.load(SeqCst) => {
            send(Box::new(move || home.deliver()));
            true
        }
        _ => {
            drop(home);
            false
        }
    }
}
