//! A `Waker` for the unit tests that counts its wakes (the tests that drive a
//! future, a readiness slot or a timer entry by hand and check it woke its
//! task exactly as often as it should).

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Wake, Waker};

/// Counts `wake` and `wake_by_ref` calls.
pub(crate) struct CountingWaker(AtomicUsize);

impl CountingWaker {
    /// The counter and a `Waker` that bumps it.
    pub(crate) fn new() -> (Arc<CountingWaker>, Waker) {
        let count = Arc::new(CountingWaker(AtomicUsize::new(0)));
        (count.clone(), Waker::from(count))
    }

    /// Wakes so far.
    pub(crate) fn wakes(&self) -> usize {
        self.0.load(SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}
