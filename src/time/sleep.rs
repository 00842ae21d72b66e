//! `Sleep` (`sleep`, `sleep_until`) and `WaitFor` (`wait_for`).

use crate::runtime::context;
use crate::runtime::shared::{InboxItem, Shared};
use crate::runtime::timers::{deadline_after, TimerEntry};
use crate::sync::Arc;
use super::Elapsed;
use crate::task::CancelScope;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A future that completes at a deadline. Made by [`sleep`] and [`sleep_until`].
///
/// Never completes before its deadline. Dropping it cancels the timer.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    entry: Option<Arc<TimerEntry>>,
    runtime: Option<Arc<Shared>>,
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
pub fn sleep_until(deadline: Instant) -> Sleep {
    let runtime = if context::on_loop_thread() {
        None
    } else {
        context::current_shared()
    };
    Sleep {
        deadline,
        entry: None,
        runtime,
    }
}

impl Sleep {
    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    fn arm(&mut self, waker: &std::task::Waker) {
        let entry = Arc::new(TimerEntry::new(self.deadline, waker.clone()));
        arm(&entry, self.runtime.as_ref());
        self.entry = Some(entry);
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            if let Some(e) = self.entry.take() {
                e.cancel();
            }
            return Poll::Ready(());
        }
        match &self.entry {
            None => {
                self.arm(cx.waker());
                Poll::Pending
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
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
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
pub fn wait_for<F: IntoFuture>(timeout: Duration, fut: F) -> WaitFor<F::IntoFuture> {
    WaitFor {
        inner: Some(fut.into_future()),
        sleep: sleep(timeout),
    }
}

/// The future of [`wait_for`].
#[must_use = "futures do nothing unless awaited"]
pub struct WaitFor<F> {
    inner: Option<F>,
    sleep: Sleep,
}

impl<F: Future> Future for WaitFor<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved, only
        // dropped in place (through `Pin::set`); `sleep` is `Unpin`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let mut inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let Some(fut) = inner.as_mut().as_pin_mut() else {
            panic!("WaitFor polled after it completed");
        };
        if let Poll::Ready(v) = fut.poll(cx) {
            inner.set(None);
            return Poll::Ready(Ok(v));
        }
        if Pin::new(&mut this.sleep).poll(cx).is_ready() {
            let _scope = CancelScope::enter();
            inner.set(None);
            return Poll::Ready(Err(Elapsed::new()));
        }
        Poll::Pending
    }
}

/// Arms `entry` on the current loop's store, or — off the loops (a
/// foreign thread's `block_on`) — on a loop of `runtime` (else of the
/// thread's current runtime) through that loop's inbox.
///
/// # Panics
/// Outside any loopwork runtime.
fn arm(entry: &Arc<TimerEntry>, runtime: Option<&Arc<Shared>>) {
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
        // Spread foreign timers over the loops by entry address.
        let i = (Arc::as_ptr(entry) as usize >> 6) % shared.num_loops();
        shared.send(i, InboxItem::Timer(entry.clone()));
    }
}
