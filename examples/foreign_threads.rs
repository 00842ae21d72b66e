//! A synchronous program feeding work into loopwork's loops.
//!
//! The worker threads here are plain `std::thread`s, as a GUI thread, a C
//! library's callback thread or a legacy synchronous codebase would have.
//! They hand work to the loops with both thread-safe APIs and collect the
//! results with `result_timeout`, never blocking a loop.
//!
//! Run it with `cargo run --example foreign_threads`.

use loopwork::Runtime;
use std::sync::mpsc;
use std::time::Duration;

fn main() {
    let rt = Runtime::builder()
        .loops(2)
        .build()
        .expect("start the runtime");

    let workers: Vec<_> = (0..4)
        .map(|w| {
            let lp = rt.loop_handle(w % rt.loops());
            std::thread::Builder::new()
                .name(format!("sync-worker-{w}"))
                .spawn(move || {
                    // 1. Fire-and-forget callbacks, e.g. "refresh the UI state".
                    let (tx, rx) = mpsc::channel();
                    for i in 0..3 {
                        let tx = tx.clone();
                        lp.call_soon_threadsafe(move || {
                            let on = std::thread::current().name().unwrap().to_owned();
                            tx.send(format!("callback {i} from worker {w} ran on {on}"))
                                .unwrap();
                        })
                        .expect("the loop is open");
                    }
                    drop(tx);
                    let callbacks: Vec<String> = rx.iter().collect();

                    // 2. A coroutine whose result the thread waits for, with a timeout.
                    let mut fut = lp.run_coroutine_threadsafe(async move {
                        loopwork::sleep(Duration::from_millis(10 * (w as u64 + 1))).await;
                        w * w
                    });
                    let mut waits = 0;
                    let square = loop {
                        match fut.result_timeout(Duration::from_millis(5)) {
                            Ok(r) => break r.expect("the coroutine succeeded"),
                            Err(_elapsed) => waits += 1, // the thread could do other work here
                        }
                    };

                    // 3. A !Send future built on the loop itself.
                    let local = lp
                        .spawn_local_threadsafe(move || {
                            let shared = std::rc::Rc::new(std::cell::Cell::new(0));
                            async move {
                                for _ in 0..5 {
                                    shared.set(shared.get() + 1);
                                    loopwork::yield_now().await;
                                }
                                shared.get()
                            }
                        })
                        .result()
                        .expect("the local task succeeded");
                    (w, callbacks, square, waits, local)
                })
                .unwrap()
        })
        .collect();

    for worker in workers {
        let (w, callbacks, square, waits, local) = worker.join().unwrap();
        for line in callbacks {
            println!("{line}");
        }
        println!("worker {w}: coroutine returned {square} after {waits} timed-out waits; local task counted to {local}");
    }
    let m = rt.metrics();
    println!(
        "inbox items per loop: {:?}",
        m.loops.iter().map(|l| l.inbox_items).collect::<Vec<_>>()
    );
    rt.close();
}
