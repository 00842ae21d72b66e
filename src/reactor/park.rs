//! The park flag: the handshake between a parking loop and producers that
//! push into that loop's inbox.
//!
//! Loop (parking): `prepare_park` (flag = true, SeqCst fence), then re-check
//! the inbox; sleep only if it is empty. Producer: push, then
//! `should_notify` (SeqCst fence, read the flag), and notify if it was set.
//! The two fences order the two write→read pairs, so either the loop sees the
//! item or the producer sees the flag: a wakeup is never lost. A spurious
//! notify (the loop was already waking) is harmless: the poller dedupes it
//! and a wait that returns early just goes round the loop once more.

use crate::sync::atomic::{fence, AtomicBool, Ordering::SeqCst};

#[derive(Default)]
pub(crate) struct ParkFlag {
    parked: AtomicBool,
}

impl ParkFlag {
    pub(crate) fn new() -> ParkFlag {
        ParkFlag {
            parked: AtomicBool::new(false),
        }
    }

    /// The loop is about to park; it must re-check its inbox after this.
    pub(crate) fn prepare_park(&self) {
        self.parked.store(true, SeqCst);
        fence(SeqCst);
    }

    /// The loop is running again.
    pub(crate) fn unpark(&self) {
        self.parked.store(false, SeqCst);
    }

    /// Producer side, after pushing: whether the loop must be notified.
    pub(crate) fn should_notify(&self) -> bool {
        #[cfg(not(loopwork_mutant = "inbox_skip_notify"))]
        {
            fence(SeqCst);
            self.parked.load(SeqCst)
        }
        #[cfg(loopwork_mutant = "inbox_skip_notify")]
        false
    }
}
