//! Futures never awaited: where a loopwork future was created, and the
//! report when it is dropped without ever being consumed.
//!
//! Invariants:
//! * [`Origin`] is one pointer, 8 bytes: the `&'static Location` with the
//!   future's state in its low bits. Production pays that and nothing else
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

/// Where a future was created and whether it was awaited: one pointer, the
/// creation site with the state in its two low bits (a `Location` starts
/// with a `&str`, so its address is a multiple of 8 and those bits are
/// free).
pub(crate) struct Origin(*const Location<'static>);

// SAFETY: the pointer is a `&'static Location` with tag bits added: a shared
// reference to immutable `'static` data (`Location` is `Sync`), only ever
// read; `Origin` is otherwise plain data, changed only through `&mut`.
unsafe impl Send for Origin {}
// SAFETY: as for `Send`: `&Origin` gives only reads of the site.
unsafe impl Sync for Origin {}

/// Not yet consumed.
const FRESH: usize = 0;
/// Not yet consumed; debug mode: with its creation backtrace.
const TRACED: usize = 1;
/// Consumed (or not tracked): its drop says nothing.
const DONE: usize = 2;
const TAG: usize = 3;

impl Origin {
    #[inline]
    fn tagged(site: Site, tag: usize) -> Origin {
        const { assert!(std::mem::align_of::<Location<'static>>() > TAG) };
        Origin((site as *const Location<'static>).map_addr(|a| a | tag))
    }

    #[inline]
    fn tag(&self) -> usize {
        self.0.addr() & TAG
    }

    /// A future created at `site`, with a backtrace if the current runtime
    /// is in debug mode.
    #[inline]
    pub(crate) fn new(site: Site) -> Origin {
        if backtrace::note_site_if_wanted(site) {
            Origin::tagged(site, TRACED)
        } else {
            Origin::tagged(site, FRESH)
        }
    }

    /// As `new`, never with a backtrace (futures made per iteration of a
    /// busy loop, such as `yield_now`, whose call site says all).
    #[inline]
    pub(crate) fn site_only(site: Site) -> Origin {
        Origin::tagged(site, FRESH)
    }

    /// A future loopwork makes for itself and may drop unpolled.
    #[inline]
    pub(crate) fn untracked(site: Site) -> Origin {
        Origin::tagged(site, DONE)
    }

    /// Where the future was created.
    pub(crate) fn site(&self) -> Site {
        // SAFETY: made by `tagged` from a `&'static Location` whose low
        // bits were clear (asserted there); clearing the tag gives back that
        // pointer, with its provenance (`map_addr`).
        unsafe { &*self.0.map_addr(|a| a & !TAG) }
    }

    /// The future was consumed (polled, or handed to something that will).
    #[inline]
    pub(crate) fn consume(&mut self) {
        if self.tag() != DONE {
            *self = Origin::tagged(self.site(), DONE);
        }
    }

    /// Called from the future's `Drop`: reports it if it was never consumed.
    /// `what` is the type (`Sleep`), `hint` what else the user may mean.
    #[inline]
    pub(crate) fn check_dropped(&mut self, what: &str, hint: &str) {
        let tag = self.tag();
        if tag != DONE {
            let site = self.site();
            *self = Origin::tagged(site, DONE);
            let trace = if tag == TRACED {
                backtrace::trace_of(site)
            } else {
                None
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
    fn origin_is_the_size_of_a_location_pointer() {
        assert_eq!(
            std::mem::size_of::<Origin>(),
            std::mem::size_of::<&'static Location<'static>>()
        );
    }

    #[test]
    fn origin_keeps_its_site_through_every_state() {
        let site = Location::caller();
        let mut o = Origin::site_only(site);
        assert_eq!((o.site(), o.tag()), (site, FRESH));
        o.consume();
        assert_eq!((o.site(), o.tag()), (site, DONE));
        o.consume();
        assert_eq!(
            (o.site(), o.tag()),
            (site, DONE),
            "consuming twice is harmless"
        );
        let mut t = Origin::tagged(site, TRACED);
        assert_eq!(t.site(), site);
        t.check_dropped("Sleep", "");
        assert_eq!((t.site(), t.tag()), (site, DONE), "reported once");
        assert_eq!(Origin::untracked(site).tag(), DONE);
    }
}
