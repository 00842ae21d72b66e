//! `yield_now`: let other tasks run.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields to the loop: the task goes to the back of its run queue, so every
/// task that was ready runs before it is polled again.
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     for _ in 0..3 {
///         loopwork::yield_now().await;
///     }
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        super::trace::set_leaf(super::trace::LeafKind::Yield, 0, None);
        Poll::Pending
    }
}
