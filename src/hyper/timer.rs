//! `HyperTimer`: hyper's `rt::Timer` over loopwork's timers.

use crate::time::Sleep;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// hyper's timer on loopwork: each hyper sleep is a loopwork
/// [`Sleep`](crate::time::Sleep), armed on the loop that first polls it.
///
/// Give it to a connection builder (`.timer(HyperTimer::new())`) for
/// hyper's timeouts: `header_read_timeout` on HTTP/1 servers (without a
/// timer hyper cannot enforce it), and the keep-alive pings and timeouts of
/// HTTP/2. Its sleeps must be polled inside a loopwork runtime (they are:
/// hyper polls them from the connection's task).
///
/// # Examples
///
/// ```
/// use hyper::rt::Timer;
/// use std::time::{Duration, Instant};
///
/// loopwork::run(async {
///     let timer = loopwork::hyper::HyperTimer::new();
///     let start = Instant::now();
///     timer.sleep(Duration::from_millis(5)).await;
///     assert!(start.elapsed() >= Duration::from_millis(5));
/// });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct HyperTimer(());

impl HyperTimer {
    /// The timer.
    ///
    /// # Examples
    ///
    /// ```
    /// let timer = loopwork::hyper::HyperTimer::new();
    /// let server = hyper::server::conn::http1::Builder::new()
    ///     .timer(timer)
    ///     .header_read_timeout(std::time::Duration::from_secs(10))
    ///     .clone();
    /// # drop(server);
    /// ```
    pub fn new() -> HyperTimer {
        HyperTimer(())
    }
}

impl ::hyper::rt::Timer for HyperTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(HyperSleep(Sleep::untracked_until(
            crate::runtime::timers::deadline_after(duration),
        )))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        // hyper drops its timers unpolled at will: not reported.
        Box::pin(HyperSleep(Sleep::untracked_until(deadline)))
    }

    /// Re-arms one of our sleeps in place (dropping the old `Sleep` cancels
    /// its timer); any other sleep is replaced, as hyper's default does.
    fn reset(&self, sleep: &mut Pin<Box<dyn ::hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HyperSleep>() {
            Some(mut ours) => ours.set(HyperSleep(Sleep::untracked_until(new_deadline))),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// A loopwork `Sleep` as hyper's `rt::Sleep` (a local type, so hyper's
/// `downcast_mut_pin` can find it in `reset`).
struct HyperSleep(Sleep);

impl Future for HyperSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl ::hyper::rt::Sleep for HyperSleep {}
