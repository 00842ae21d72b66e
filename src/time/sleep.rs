//! `Sleep` (`sleep`, `sleep_until`) and `WaitFor` (`wait_for`).

use super::Elapsed;
use crate::debug::unawaited::{Cancelling, Origin};
use crate::runtime::context;
use crate::runtime::shared::{InboxItem, Shared};
use crate::runtime::timers::{deadline_after, TimerEntry};
use crate::sync::Arc;
use crate::task::trace::{self, LeafKind};
use crate::task::CancelScope;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A future that completes at a deadline. Made by [`sleep`] and [`sleep_until`].
///
/// Never completes before its deadline while its runtime runs. Dropping it
/// cancels the timer.
///
/// # On a closed runtime
/// A runtime that shuts down wakes every sleep still armed on it, and a
/// sleep polled after its runtime has closed does not arm: in both cases the
/// sleep **completes at once**, early. Nothing is left waiting on a timer no
/// loop will fire: a foreign thread's `block_on(wait_for(d, fut))` returns
/// `Err(Elapsed)`, and a `block_on(sleep(d))` returns. (tokio panics
/// instead; completing lets a thread that was waiting when `close()` ran
/// finish its own shutdown. A loop of `sleep`s on a closed runtime does not
/// wait between rounds, so stop such loops on
/// [`Handle::is_closed`](crate::runtime::Handle::is_closed).)
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
/// let handle = rt.handle();
/// rt.close();
/// // Completes at once instead of waiting an hour on a closed runtime.
/// handle.block_on(loopwork::sleep(Duration::from_secs(3600)));
/// let r = handle.block_on(loopwork::wait_for(Duration::from_secs(3600), std::future::pending::<()>()));
/// assert!(r.is_err());
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    entry: Option<Arc<TimerEntry>>,
    runtime: Option<Arc<Shared>>,
    /// Where it was made: reported if it is dropped never polled, and the
    /// await graph's leaf while it waits.
    origin: Origin,
}

/// Waits until `delay` has passed.
///
/// Must be polled inside a loopwork runtime (a task, or `block_on`).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// loopwork::run(async {
///     let start = Instant::now();
///     loopwork::sleep(Duration::from_millis(10)).await;
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// });
/// ```
#[track_caller]
pub fn sleep(delay: Duration) -> Sleep {
    sleep_until(deadline_after(delay))
}

/// Waits until `deadline`.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// loopwork::run(async {
///     let deadline = Instant::now() + Duration::from_millis(5);
///     loopwork::sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline);
/// });
/// ```
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(deadline, Origin::new(Location::caller()))
}

impl Sleep {
    fn new(deadline: Instant, origin: Origin) -> Sleep {
        let runtime = if context::on_loop_thread() {
            None
        } else {
            context::current_shared()
        };
        Sleep {
            deadline,
            entry: None,
            runtime,
            origin,
        }
    }

    /// A sleep loopwork makes for itself (the timeout of `wait_for`, hyper's
    /// timers), which may be dropped unpolled without a report.
    #[track_caller]
    pub(crate) fn untracked_until(deadline: Instant) -> Sleep {
        Sleep::new(deadline, Origin::untracked(Location::caller()))
    }

    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        crate::sync::now() >= self.deadline
    }

    /// Arms the timer; `false` if its runtime is closed (the sleep then
    /// completes at once: see [`Sleep`]).
    fn arm(&mut self, waker: &std::task::Waker) -> bool {
        let entry = Arc::new(TimerEntry::new(self.deadline, waker.clone()));
        if !arm(&entry, self.runtime.as_ref()) {
            return false;
        }
        self.entry = Some(entry);
        true
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.origin.consume();
        let res = crate::task::coop::poll(cx, |cx| self.poll_deadline(cx));
        if res.is_pending() {
            trace::set_leaf(
                LeafKind::Sleep,
                trace::deadline_payload(self.deadline),
                Some(self.origin.site()),
            );
        }
        res
    }
}

impl Sleep {
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if crate::sync::now() >= self.deadline {
            if let Some(e) = self.entry.take() {
                e.cancel();
            }
            return Poll::Ready(());
        }
        match &self.entry {
            None => {
                if self.arm(cx.waker()) {
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            }
            Some(entry) => {
                if entry.poll_fired(cx.waker()) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(e) = self.entry.take() {
            e.cancel();
        }
        self.origin.check_dropped("Sleep", "");
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("created_at", &self.origin)
            .finish()
    }
}

/// Waits for `fut` for at most `timeout`.
///
/// On timeout the inner future is dropped — and, as asyncio's `wait_for`
/// does, a [`Task`](crate::Task) that it was awaiting is **cancelled** rather
/// than detached (this includes `wait_for(d, task)` itself). Returns
/// `Err(Elapsed)` then.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// loopwork::run(async {
///     let slow = loopwork::spawn(std::future::pending::<()>());
///     let res = loopwork::wait_for(Duration::from_millis(10), slow).await;
///     assert!(res.is_err());
///     let fast = loopwork::wait_for(Duration::from_secs(5), async { 7 }).await;
///     assert_eq!(fast, Ok(7));
/// });
/// ```
#[track_caller]
pub fn wait_for<F: IntoFuture>(timeout: Duration, fut: F) -> WaitFor<F::IntoFuture> {
    WaitFor {
        inner: Some(fut.into_future()),
        // Reported (if never polled) as the WaitFor, not as its timer.
        sleep: Sleep::untracked_until(deadline_after(timeout)),
        origin: Origin::new(Location::caller()),
    }
}

/// The future of [`wait_for`].
#[must_use = "futures do nothing unless awaited"]
pub struct WaitFor<F> {
    inner: Option<F>,
    sleep: Sleep,
    origin: Origin,
}

impl<F> Drop for WaitFor<F> {
    fn drop(&mut self) {
        self.origin.check_dropped("WaitFor", "");
    }
}

impl<F> fmt::Debug for WaitFor<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitFor")
            .field("deadline", &self.sleep.deadline)
            .field("created_at", &self.origin)
            .finish_non_exhaustive()
    }
}

impl<F: Future> Future for WaitFor<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved, only
        // dropped in place (through `Pin::set`, or by `Drop`, which leaves it
        // in place); `sleep` and `origin` are `Unpin`.
        let this = unsafe { self.get_unchecked_mut() };
        this.origin.consume();
        // SAFETY: as above.
        let mut inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let Some(fut) = inner.as_mut().as_pin_mut() else {
            panic!("WaitFor polled after it completed");
        };
        if let Poll::Ready(v) = fut.poll(cx) {
            inner.set(None);
            return Poll::Ready(Ok(v));
        }
        // The inner future's leaf says more than the timer's: keep it.
        let inner_leaf = trace::take_leaf();
        if Pin::new(&mut this.sleep).poll(cx).is_ready() {
            let _scope = CancelScope::enter();
            // The inner future's own unawaited futures go with it: a
            // cancellation, not a forgotten `.await`.
            let _cancelling = Cancelling::enter();
            inner.set(None);
            return Poll::Ready(Err(Elapsed::new()));
        }
        match inner_leaf {
            Some(leaf) => trace::restore_leaf(leaf),
            None => trace::set_leaf(
                LeafKind::WaitFor,
                trace::deadline_payload(this.sleep.deadline),
                Some(this.origin.site()),
            ),
        }
        Poll::Pending
    }
}

/// Arms `entry` on the current loop's store, or — off the loops (a
/// foreign thread's `block_on`) — on a loop of `runtime` (else of the
/// thread's current runtime) through that loop's inbox, passing the
/// runtime's gate; `false` if that runtime is closed.
///
/// # Panics
/// Outside any loopwork runtime.
fn arm(entry: &Arc<TimerEntry>, runtime: Option<&Arc<Shared>>) -> bool {
    let local = context::with_core(|core| match core {
        Some(core) => {
            core.timers.borrow_mut().insert(entry.clone());
            true
        }
        None => false,
    });
    if !local {
        let shared = runtime.cloned().or_else(context::current_shared).expect(
            "loopwork::time::Sleep polled outside a loopwork runtime: await it inside a task or \
             Runtime::block_on",
        );
        // Through the gate, as every remote submission: a closed runtime's
        // loops would never fire it (nor wake its waiter).
        let Some(_pass) = shared.sched.gate.enter() else {
            return false;
        };
        // Spread foreign timers over the loops by entry address.
        let i = (Arc::as_ptr(entry) as usize >> 6) % shared.num_loops();
        shared.send(i, InboxItem::Timer(entry.clone()));
    }
    true
}
