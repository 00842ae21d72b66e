//! The soak of `tests/soak.rs` at scale: 10^7 items by default.
//!
//! ```text
//! cargo run --release --example soak                 # 10^7 items, no close, then with a close mid-stream
//! cargo run --release --example soak -- 1000000 4    # items, foreign threads
//! ```
//!
//! Foreign threads submit items through `call_soon_threadsafe`,
//! `run_coroutine_threadsafe` and `Handle::spawn`, cancel one in seven at
//! random, and (second run) the runtime is closed half-way. Every item is
//! checked against its handle (ran once; cancelled with `cancel()`
//! agreeing; dropped at shutdown, reported; refused) and the counts printed.
//! Any item lost, run twice, or contradicting its handle panics.

#[path = "../tests/common/soak.rs"]
mod soak;

use soak::{soak, SoakConfig};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let items: usize = args
        .next()
        .map(|a| a.parse().expect("first argument: number of items"))
        .unwrap_or(10_000_000);
    let threads: usize = args
        .next()
        .map(|a| {
            a.parse()
                .expect("second argument: number of foreign threads")
        })
        .unwrap_or(4);
    for close_after in [None, Some(items / 2)] {
        let cfg = SoakConfig {
            items,
            threads,
            loops: 2,
            cancel_one_in: 7,
            close_after,
        };
        let start = Instant::now();
        let c = soak(cfg);
        println!(
            "items={items} threads={threads} close_after={close_after:?}: ran={} cancelled={} dropped={} refused={} (lost 0, run twice 0) in {:.1} s",
            c.ran,
            c.cancelled,
            c.dropped,
            c.refused,
            start.elapsed().as_secs_f64()
        );
    }
}
