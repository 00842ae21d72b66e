//! `yield_now`: let other tasks run.

use crate::debug::unawaited::Origin;
use std::future::Future;
use std::panic::Location;
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
#[track_caller]
pub fn yield_now() -> YieldNow {
    YieldNow {
        yielded: false,
        // Made once per iteration of busy loops: its call site says all, a
        // debug-mode backtrace would cost a stack walk per yield.
        origin: Origin::site_only(Location::caller()),
    }
}

/// The future of [`yield_now`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct YieldNow {
    yielded: bool,
    origin: Origin,
}

impl Drop for YieldNow {
    fn drop(&mut self) {
        self.origin.check_dropped("YieldNow", "");
    }
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.origin.consume();
        self.yielded = true;
        cx.waker().wake_by_ref();
        // No leaf: the wake above makes the task scheduled again before
        // this `Pending` reaches the loop, and the dumps draw leaves only
        // under waiting tasks, so a yield's leaf would never be shown: not
        // worth two stores per yield.
        Poll::Pending
    }
}

#[cfg(test)]
#[cfg(not(loopwork_loom))]
mod tests {
    use super::*;
    use crate::sync::test_waker::CountingWaker;

    #[test]
    fn yield_now_is_pending_once_having_woken_its_task_then_ready() {
        let (count, waker) = CountingWaker::new();
        let mut cx = Context::from_waker(&waker);
        let mut y = std::pin::pin!(yield_now());
        assert!(
            y.as_mut().poll(&mut cx).is_pending(),
            "the first poll yields"
        );
        assert_eq!(count.wakes(), 1, "and wakes the task to come back");
        assert!(
            y.as_mut().poll(&mut cx).is_ready(),
            "the second poll is done"
        );
        assert_eq!(count.wakes(), 1, "without another wake");
    }
}
