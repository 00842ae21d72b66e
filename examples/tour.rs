//! A tour of loopwork: what the runtime does, section by section.
//!
//! Run it with `cargo run --release --example tour`
//! (add `RUST_LOG=loopwork=debug` to see the runtime's own log lines).

use loopwork::{Runtime, TaskError};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn section(title: &str) {
    println!("\n== {title} ==");
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("loopwork=warn"))
        .init();
    let loops = num_cpus::get().clamp(2, 4);
    let rt = Runtime::builder()
        .loops(loops)
        .thread_name("tour")
        .build()
        .expect("start the runtime");

    section("Loops");
    println!(
        "started {} loops: {}",
        rt.loops(),
        (0..rt.loops())
            .map(|i| rt.loop_handle(i).thread_name().to_owned())
            .collect::<Vec<_>>()
            .join(", ")
    );

    spawning(&rt);
    stealing(&rt);
    timers(&rt);
    cancellation(&rt);
    panics(&rt);
    debug_section(&rt);
    blocking_section(&rt);
    concurrency(&rt);
    introspection(&rt);

    section("Shutdown");
    let pending = rt.handle().spawn(std::future::pending::<()>());
    let start = Instant::now();
    rt.close();
    let outcome = futures_lite_block_on(pending);
    println!(
        "close() took {:?}; a task still pending at shutdown resolved to: {} (the close \
         logged it above: work cut off is never lost silently)",
        start.elapsed(),
        outcome.unwrap_err()
    );
}

fn spawning(rt: &Runtime) {
    section("Spawning");
    let before = rt.metrics();
    let counter = Arc::new(AtomicUsize::new(0));
    let c = counter.clone();
    let start = Instant::now();
    rt.block_on(async move {
        // Spawned from inside a task: onto that loop's deque, stealable by the others.
        loopwork::spawn(async move {
            let tasks: Vec<_> = (0..100_000)
                .map(|_| {
                    let c = c.clone();
                    loopwork::spawn(async move {
                        c.fetch_add(1, SeqCst);
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        })
        .await
        .unwrap();
    });
    println!(
        "100000 tasks spawned from a task, all ran once: {} (in {:?})",
        counter.load(SeqCst),
        start.elapsed()
    );
    let after = rt.metrics();
    for (i, (a, b)) in after.loops.iter().zip(&before.loops).enumerate() {
        println!(
            "  loop {i}: polled {:>6}, spawned {:>6}, stolen {:>6}, from injector {:>4}",
            a.polls - b.polls,
            a.spawned - b.spawned,
            a.stolen - b.stolen,
            a.from_injector - b.from_injector
        );
    }
}

fn stealing(rt: &Runtime) {
    section("Work stealing");
    let before = rt.metrics();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let result = rt.block_on(rt.handle().spawn(async move {
        let me = std::thread::current().name().unwrap().to_owned();
        for _ in 0..32 {
            let tx = tx.clone();
            loopwork::spawn(async move {
                tx.send(std::thread::current().name().unwrap().to_owned())
                    .unwrap()
            })
            .detach();
        }
        // Block this loop synchronously: its queued tasks can only run if
        // another loop steals them.
        let others: Vec<String> = (0..32)
            .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        (me, others)
    }));
    let (blocked, ran_on) = result.unwrap();
    let elsewhere = ran_on.iter().filter(|t| **t != blocked).count();
    println!("{blocked} was blocked; {elsewhere}/32 of its queued tasks ran on other loops");
    let after = rt.metrics();
    let stolen: Vec<u64> = after
        .loops
        .iter()
        .zip(&before.loops)
        .map(|(a, b)| a.stolen - b.stolen)
        .collect();
    println!("  tasks stolen per loop: {stolen:?}");
}

fn timers(rt: &Runtime) {
    section("Timers");
    rt.block_on(async {
        let start = Instant::now();
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let tasks: Vec<_> = [30u64, 10, 20]
            .into_iter()
            .map(|ms| {
                let order = order.clone();
                loopwork::spawn(async move {
                    loopwork::sleep(Duration::from_millis(ms)).await;
                    order.lock().unwrap().push((ms, start.elapsed()));
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        for (ms, at) in order.lock().unwrap().iter() {
            println!(
                "  sleep({ms} ms) woke after {:.1} ms",
                at.as_secs_f64() * 1e3
            );
        }
        let timed_out =
            loopwork::wait_for(Duration::from_millis(5), std::future::pending::<()>()).await;
        println!("wait_for(5 ms, pending) -> {timed_out:?}");
    });
}

fn cancellation(rt: &Runtime) {
    section("Cancellation");
    rt.block_on(async {
        let task = loopwork::task::Builder::new().name("forever").spawn(async {
            loop {
                loopwork::sleep(Duration::from_millis(1)).await;
            }
        });
        loopwork::sleep(Duration::from_millis(5)).await;
        task.cancel();
        let outcome: Result<(), TaskError> = task.await;
        println!("cancelled task 'forever' -> {}", outcome.unwrap_err());
        let inner = loopwork::spawn(std::future::pending::<()>());
        let r = loopwork::wait_for(Duration::from_millis(5), inner).await;
        println!(
            "wait_for on a task timed out ({}) and cancelled the task, as asyncio does",
            r.unwrap_err()
        );
    });
}

fn panics(rt: &Runtime) {
    section("A caught panic");
    // One line per panic instead of the default hook's report and backtrace.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        println!(
            "  (panic hook) '{}' panicked: {info}",
            thread.name().unwrap_or("?")
        );
    }));
    rt.block_on(async {
        let bad = loopwork::spawn(async { panic!("something went wrong in a task") });
        match bad.await {
            Err(e) => println!("the join side got: {e}"),
            Ok(()) => unreachable!(),
        }
        let still = loopwork::spawn(async { "the loop is still serving" })
            .await
            .unwrap();
        println!("afterwards: {still}");
    });
    std::panic::set_hook(default_hook);
}

fn debug_section(rt: &Runtime) {
    section("Debug mode");
    // `LOOPWORK_DEBUG=1`, `Builder::debug(true)`, `loopwork::run_with`, or
    // at run time:
    rt.set_debug(true);
    rt.block_on(async {
        let task = loopwork::task::Builder::new()
            .name("fetch")
            .spawn(async { 1 });
        println!("a task's repr, used by every report: {task:?}");
        task.await.unwrap();
        // A forgotten `.await`: logged at warn, with where the future was
        // made and (debug mode) the backtrace of its creation.
        drop(loopwork::sleep(Duration::from_millis(1)));
        // An `Err` nobody retrieves: logged at error, like a lost panic.
        let lost = loopwork::task::Builder::new()
            .name("upload")
            .spawn_fallible(async { Err::<(), _>("disk full") });
        while !lost.is_finished() {
            loopwork::yield_now().await;
        }
        drop(lost);
    });
    rt.set_debug(false);
    println!("every trap and its report: cargo run --example debug_mode");
}

fn concurrency(rt: &Runtime) {
    section("Concurrency and multithreading");
    // A foreign thread (think: a GUI thread) hands work to loop 1.
    let lp = rt.loop_handle(rt.loops() - 1);
    let lp2 = lp.clone();
    let report = std::thread::Builder::new()
        .name("gui-thread".into())
        .spawn(move || {
            let (tx, rx) = std::sync::mpsc::channel();
            let handle = lp2
                .call_soon_threadsafe(move || {
                    tx.send(std::thread::current().name().unwrap().to_owned())
                        .unwrap()
                })
                .unwrap();
            let ran_on = rx.recv().unwrap();
            let cancelled_late = handle.cancel();
            let mut fut = lp2.run_coroutine_threadsafe(async {
                loopwork::sleep(Duration::from_millis(20)).await;
                "computed on the loop"
            });
            let first = fut.result_timeout(Duration::from_millis(1));
            let value = fut.result_timeout(Duration::from_secs(5)).unwrap().unwrap();
            (ran_on, cancelled_late, first.is_err(), value)
        })
        .unwrap()
        .join()
        .unwrap();
    println!(
        "call_soon_threadsafe from 'gui-thread' ran on {}; cancel() after it ran -> {}",
        report.0, report.1
    );
    println!(
        "run_coroutine_threadsafe: result_timeout(1 ms) timed out: {}; then -> {:?}",
        report.2, report.3
    );

    // Loop-local APIs check their thread: in production a wrong-thread call
    // takes the thread-safe path and is counted; debug mode would panic.
    let before = rt.metrics().wrong_thread_calls;
    let (tx, rx) = std::sync::mpsc::channel();
    lp.call_soon(move || tx.send(()).unwrap());
    rx.recv().unwrap();
    println!(
        "call_soon from the main thread (wrong thread) still ran; wrong_thread_calls {} -> {}",
        before,
        rt.metrics().wrong_thread_calls
    );

    // A !Send value bound to its loop: readable there, sent home when dropped elsewhere.
    let local = lp
        .spawn_local_threadsafe(|| async {
            loopwork::handoff::Local::new(std::rc::Rc::new("only on its loop"))
        })
        .result()
        .unwrap();
    println!(
        "Local<Rc<_>> read from the main thread -> {}",
        local.try_get().unwrap_err()
    );
    drop(local); // dropped on its owner loop, through the inbox

    // A promise completed by a foreign thread, awaited by a task.
    let (promise, fut) = loopwork::handoff::promise::<u32>();
    std::thread::spawn(move || promise.set_result(99).unwrap());
    println!("promise set by a foreign thread -> {:?}", rt.block_on(fut));
}

fn introspection(rt: &Runtime) {
    section("Why is it waiting? (task_tree)");
    let h = rt.handle();
    let (release, gate) = loopwork::handoff::promise::<()>();
    let worker = loopwork::task::Builder::new()
        .name("worker")
        .spawn_on(&h, async move { gate.await.unwrap() });
    let worker_id = worker.id();
    let parent = loopwork::task::Builder::new()
        .name("parent")
        .spawn_on(&h, async move { worker.await.unwrap() });
    // The edge appears once the parent has awaited the worker.
    while rt.task_tree().awaiter(worker_id).is_none() {
        std::thread::yield_now();
    }
    let tree = rt.task_tree().to_string();
    for line in tree.lines().filter(|l| !l.starts_with("loop ")) {
        println!("{line}");
    }
    release.set_result(()).unwrap();
    rt.block_on(parent).unwrap();
}

fn blocking_section(rt: &Runtime) {
    section("Running blocking code");
    // A CPU-heavy loop must not run on a loop: every task of that loop would
    // wait for it. `spawn_blocking` moves it to the blocking pool, and a
    // ticker task on the loops shows they kept running meanwhile.
    let ticks = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (t, d) = (ticks.clone(), done.clone());
    let (digest, worker, took) = rt.block_on(async move {
        let ticker = loopwork::spawn(async move {
            while !d.load(SeqCst) {
                t.fetch_add(1, SeqCst);
                loopwork::sleep(Duration::from_millis(1)).await;
            }
        });
        let start = Instant::now();
        let (digest, worker) = loopwork::spawn_blocking(|| {
            // FNV-1a over 64 MiB of generated bytes: pure CPU, no await point.
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for i in 0..(64u64 << 20) {
                h ^= i & 0xff;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            (h, std::thread::current().name().unwrap_or("?").to_owned())
        })
        .await
        .unwrap();
        let took = start.elapsed();
        done.store(true, SeqCst);
        ticker.await.unwrap();
        (digest, worker, took)
    });
    println!(
        "hashed 64 MiB on '{worker}' in {took:?} (digest {digest:016x}); meanwhile a ticker task \
         on the loops ticked {} times",
        ticks.load(SeqCst)
    );

    // asyncio's run_in_executor(executor, fn): route a job to a pool of your own.
    let own_pool = |job: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name("my-pool".into())
            .spawn(job)
            .expect("spawn a thread");
    };
    let ran_on = rt
        .block_on(rt.loop_handle(0).run_in_executor_on(&own_pool, || {
            std::thread::current().name().unwrap_or("?").to_owned()
        }))
        .unwrap();
    let stats = rt.metrics().blocking;
    println!(
        "run_in_executor_on(my pool) ran on '{ran_on}'; blocking pool: {} thread(s) alive, {} idle, \
         {} job(s) run",
        stats.threads, stats.idle_threads, stats.jobs_run
    );
}

/// Awaits a loopwork task from a thread with no runtime (the runtime is closed).
fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}
