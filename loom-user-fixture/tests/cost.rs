//! What a model can afford: runs a family of models of growing size and
//! prints how many interleavings loom explored and how long it took.
//! Ignored by default (a measurement, not a check); run it with
//!   cargo test --manifest-path loom-user-fixture/Cargo.toml --release \
//!     --test cost -- --ignored --nocapture --test-threads=1
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `loops` loops; a foreign thread spawns `tasks` tasks that each yield
/// once, the main thread joins them; then close.
fn spawn_and_join(loops: usize, tasks: usize) {
    let rt = loopwork::Runtime::builder().loops(loops).build().unwrap();
    let handle = rt.handle();
    let spawner = {
        let handle = handle.clone();
        loom::thread::spawn(move || {
            (0..tasks)
                .map(|i| {
                    handle.spawn(async move {
                        loopwork::yield_now().await;
                        i
                    })
                })
                .collect::<Vec<_>>()
        })
    };
    let joins = spawner.join().unwrap();
    let sum: usize = handle.block_on(async {
        let mut sum = 0;
        for t in joins {
            sum += t.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, (0..tasks).sum::<usize>());
    rt.close();
}

/// A model with a 1 s `sleep` on the loop racing a foreign
/// `run_coroutine_threadsafe(..).result_timeout(2 s)`.
fn timers(loops: usize) {
    let rt = loopwork::Runtime::builder().loops(loops).build().unwrap();
    let lh = rt.loop_handle(0);
    let mut fut = lh.run_coroutine_threadsafe(async {
        loopwork::sleep(Duration::from_secs(1)).await;
    });
    let _ = fut.result_timeout(Duration::from_secs(2));
    rt.close();
}

const BUDGET: Duration = Duration::from_secs(60);

fn measure(name: &str, preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(preemptions);
    // A budget per model: loom stops exploring there (reported as ">=").
    builder.max_duration = Some(BUDGET);
    let start = Instant::now();
    builder.check(move || {
        r.fetch_add(1, Relaxed);
        f();
    });
    let took = start.elapsed();
    let cut = if took >= BUDGET { ">=" } else { "" };
    println!(
        "| {name} | {preemptions} | {cut}{} | {cut}{:.1} s |",
        runs.load(Relaxed),
        took.as_secs_f64()
    );
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn what_a_model_can_afford() {
    println!("| model | preemption bound | interleavings | time |");
    println!("|---|---|---|---|");
    for p in 1..=3 {
        measure("1 loop, 1 task", p, || spawn_and_join(1, 1));
        measure("1 loop, sleep vs result_timeout", p, || timers(1));
    }
    for p in 1..=2 {
        measure("1 loop, 2 tasks", p, || spawn_and_join(1, 2));
        measure("2 loops, 1 task", p, || spawn_and_join(2, 1));
    }
}
