//! Futures never awaited: where a loopwork future was created, and the
//! report when it is dropped without ever being consumed.
//!
//! Invariants:
//! * [`Origin`] is one enum of a pointer and a tag, 16 bytes, the size of a
//!   `&'static Location` plus a flag: production pays that and nothing else
//!   (no clock, no allocation, no backtrace). In debug mode the tag says
//!   the call site's shared creation backtrace exists (see `backtrace.rs`);
//!   the report looks it up by site.
//! * [`SharedOrigin`] is the same for futures consumed through `&self`
//!   (`ConcurrentFuture::done`, `PromiseFuture::cancel`): the flag is an
//!   atomic, written only from `false` to `true`, read at drop (which has
//!   `&mut`, so it sees every earlier write).
//! * A drop is reported only when the future was never consumed, the thread
//!   is not unwinding, and no cancellation is dropping it ([`Cancelling`]):
//!   a task cancelled at an `.await` drops the futures it created ahead of
//!   time, and that is not a bug.

use super::backtrace::{self, Trace};
use std::cell::Cell;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

type Site = &'static Location<'static>;

/// Where a future was created and whether it was awaited.
pub(crate) struct Origin(State);

enum State {
    /// Not yet consumed.
    Fresh(Site),
    /// Not yet consumed; debug mode: with its creation backtrace.
    Traced(Site),
    /// Consumed (or not tracked): its drop says nothing.
    Done(Site),
}

impl Origin {
    /// A future created at `site`, with a backtrace if the current runtime
    /// is in debug mode.
    #[inline]
    pub(crate) fn new(site: Site) -> Origin {
        if backtrace::note_site_if_wanted(site) {
            Origin(State::Traced(site))
        } else {
            Origin(State::Fresh(site))
        }
    }

    /// As `new`, never with a backtrace (futures made per iteration of a
    /// busy loop, such as `yield_now`, whose call site says all).
    #[inline]
    pub(crate) fn site_only(site: Site) -> Origin {
        Origin(State::Fresh(site))
    }

    /// A future loopwork makes for itself and may drop unpolled.
    #[inline]
    pub(crate) fn untracked(site: Site) -> Origin {
        Origin(State::Done(site))
    }

    /// Where the future was created.
    pub(crate) fn site(&self) -> Site {
        match &self.0 {
            State::Fresh(s) | State::Traced(s) | State::Done(s) => s,
        }
    }

    /// The future was consumed (polled, or handed to something that will).
    #[inline]
    pub(crate) fn consume(&mut self) {
        if !matches!(self.0, State::Done(_)) {
            let site = self.site();
            self.0 = State::Done(site);
        }
    }

    /// Called from the future's `Drop`: reports it if it was never consumed.
    /// `what` is the type (`Sleep`), `hint` what else the user may mean.
    #[inline]
    pub(crate) fn check_dropped(&mut self, what: &str, hint: &str) {
        if !matches!(self.0, State::Done(_)) {
            let site = self.site();
            let state = std::mem::replace(&mut self.0, State::Done(site));
            let (site, trace) = match state {
                State::Fresh(site) => (site, None),
                State::Traced(site) => (site, backtrace::trace_of(site)),
                State::Done(_) => unreachable!(),
            };
            report(what, site, trace.as_deref(), hint);
        }
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.site())
    }
}

/// [`Origin`] for futures consumed through `&self` (see the module docs).
pub(crate) struct SharedOrigin {
    site: Site,
    traced: bool,
    consumed: AtomicBool,
}

impl SharedOrigin {
    /// As [`Origin::new`].
    pub(crate) fn new(site: Site) -> SharedOrigin {
        SharedOrigin {
            site,
            traced: backtrace::note_site_if_wanted(site),
            consumed: AtomicBool::new(false),
        }
    }

    /// Where the future was created.
    pub(crate) fn site(&self) -> Site {
        self.site
    }

    /// The future was consumed.
    #[inline]
    pub(crate) fn consume(&self) {
        if !self.consumed.load(Relaxed) {
            self.consumed.store(true, Relaxed);
        }
    }

    /// As [`Origin::check_dropped`].
    pub(crate) fn check_dropped(&mut self, what: &str, hint: &str) {
        if !*self.consumed.get_mut() {
            *self.consumed.get_mut() = true;
            let trace = self
                .traced
                .then(|| backtrace::trace_of(self.site))
                .flatten();
            report(what, self.site, trace.as_deref(), hint);
        }
    }
}

impl fmt::Debug for SharedOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.site)
    }
}

thread_local! {
    /// Depth of cancellations dropping futures on this thread.
    static CANCELLING: Cell<u32> = const { Cell::new(0) };
}

/// While alive, futures dropped on this thread are being cancelled (a task
/// cancelled or shut down, a timed-out `wait_for`), not forgotten: their
/// drops are not reported.
pub(crate) struct Cancelling(());

impl Cancelling {
    pub(crate) fn enter() -> Cancelling {
        let _ = CANCELLING.try_with(|c| c.set(c.get() + 1));
        Cancelling(())
    }

    fn is_active() -> bool {
        CANCELLING.try_with(|c| c.get() > 0).unwrap_or(false)
    }
}

impl Drop for Cancelling {
    fn drop(&mut self) {
        let _ = CANCELLING.try_with(|c| c.set(c.get() - 1));
    }
}

#[cold]
fn report(what: &str, site: Site, trace: Option<&Trace>, hint: &str) {
    if std::thread::panicking() || Cancelling::is_active() {
        return;
    }
    let sep = if hint.is_empty() { "" } else { ": " };
    match trace {
        None => log::warn!(
            target: "loopwork",
            "<{what} created at {site}> was dropped without being awaited{sep}{hint}"
        ),
        Some(trace) => log::warn!(
            target: "loopwork",
            "<{what} created at {site}> was dropped without being awaited{sep}{hint}\n\
             {what} created at (most recent call last; the first {what} made at this \
             site):{trace}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_is_the_size_of_a_location_pointer_and_a_flag() {
        assert_eq!(
            std::mem::size_of::<Origin>(),
            std::mem::size_of::<(&'static Location<'static>, bool)>()
        );
    }
}
