//! The reactor: each loop's `polling::Poller`, its events, and the park flag.
//!
//! A loop parks in `Poller::wait(timeout = next timer deadline)` and is woken
//! by `Poller::notify()`, which polling deduplicates (a second notify before
//! the wait returns costs nothing). Producers that target one loop (its
//! inbox) call `notify` only when the loop's [`ParkFlag`] says it is parked,
//! so a busy loop pays no system call per submission.
//!
//! I/O sources (`Async<T>`, `add_reader`) will register with the same poller.

mod park;

pub(crate) use park::{park_loop, ParkFlag};

#[cfg(not(loopwork_loom))]
mod driver {
    use std::io;
    use std::time::Duration;

    /// The OS poller of one loop.
    pub(crate) struct Driver {
        poller: polling::Poller,
    }

    /// The events buffer, owned by the loop thread.
    pub(crate) struct Events(polling::Events);

    impl Events {
        pub(crate) fn new() -> Events {
            Events(polling::Events::new())
        }
    }

    impl Driver {
        pub(crate) fn new() -> io::Result<Driver> {
            Ok(Driver {
                poller: polling::Poller::new()?,
            })
        }

        /// Blocks until an event, a notify, or the timeout. `None` waits forever.
        pub(crate) fn wait(
            &self,
            events: &mut Events,
            timeout: Option<Duration>,
        ) -> io::Result<usize> {
            events.0.clear();
            self.poller.wait(&mut events.0, timeout)
        }

        /// Wakes the loop's `wait` (or makes its next one return at once).
        pub(crate) fn notify(&self) {
            if let Err(e) = self.poller.notify() {
                log::error!(target: "loopwork", "failed to notify a loop's poller: {e}");
            }
        }
    }
}

#[cfg(not(loopwork_loom))]
pub(crate) use driver::{Driver, Events};
