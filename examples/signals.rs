//! Waits for Ctrl-C (SIGINT) or SIGTERM, then shuts down.
//!
//! A ticker task stands in for a server's work; the signal listeners are
//! ordinary futures, awaited on a loop. The first signal stops the program
//! cleanly; both listeners exist from the start, so a signal that arrives
//! while the program is still starting is not lost.
//!
//! Run it with `cargo run --example signals`, then press Ctrl-C or run
//! `kill -TERM <pid>` in another terminal. `-- --raise` makes the program
//! send itself SIGTERM once it is running, as a self-contained demo.

use loopwork::signal::{signal, SignalKind};
use std::future::poll_fn;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let raise = std::env::args().any(|a| a == "--raise");
    loopwork::run(async move {
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        println!(
            "pid {}: working; press Ctrl-C or run `kill -TERM {}`",
            std::process::id(),
            std::process::id()
        );

        let ticks = Arc::new(AtomicU64::new(0));
        let ticker = {
            let ticks = ticks.clone();
            loopwork::spawn(async move {
                loop {
                    loopwork::sleep(Duration::from_millis(100)).await;
                    ticks.fetch_add(1, Relaxed);
                }
            })
        };
        if raise {
            // SAFETY: kill only sends a signal; a handler is installed above.
            unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
        }

        // Whichever comes first.
        let which = poll_fn(|cx| {
            if interrupt.poll_recv(cx).is_ready() {
                Poll::Ready("SIGINT")
            } else if terminate.poll_recv(cx).is_ready() {
                Poll::Ready("SIGTERM")
            } else {
                Poll::Pending
            }
        })
        .await;

        println!(
            "{which} received: stopping after {} ticks",
            ticks.load(Relaxed)
        );
        ticker.cancel();
        let _ = ticker.await;
        println!("shut down cleanly");
        Ok(())
    })
}
