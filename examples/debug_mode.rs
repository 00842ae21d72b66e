//! Each trap of "Developing with asyncio", written in Rust on loopwork, and
//! the diagnostic debug mode prints for it.
//!
//! Run it with `cargo run --example debug_mode` (add `-- --production` to
//! see what production mode says about the same traps). The log lines (target
//! `loopwork`) are printed as `LEVEL message` on stdout, between the
//! program's own lines, so the output reads in order. The guide
//! (`loopwork::guide`) quotes this output.

use loopwork::task::Builder;
use loopwork::Runtime;
use std::io::Write as _;
use std::time::Duration;

fn main() {
    env_logger::Builder::new()
        .filter_module("loopwork", log::LevelFilter::Debug)
        .format(|buf, record| writeln!(buf, "{} {}", record.level(), record.args()))
        .target(env_logger::Target::Stdout)
        .init();

    trap("a future that is never awaited", never_awaited);
    trap("a task error nobody retrieves", never_retrieved);
    trap("futures chained without .await", chained_wrongly);
    trap("the same, chained correctly", chained_correctly);
    trap("a loop-local call from the wrong thread", wrong_thread);
    trap("a slow callback", slow_callback);
    trap("a loop blocked by a task", blocked_loop);
    trap("a runtime dropped without close()", unclosed_runtime);
}

fn trap(title: &str, f: fn()) {
    println!("\n== {title} ==");
    f();
}

/// One loop, debug mode (unless `--production`), a 100 ms slow threshold.
fn debug_runtime() -> loopwork::runtime::Builder {
    let production = std::env::args().any(|a| a == "--production");
    Runtime::builder()
        .loops(1)
        .debug(!production)
        .slow_callback_duration(Duration::from_millis(100))
        .watchdog_threshold(Duration::from_millis(100))
}

// ===== never awaited =====

#[allow(unused_must_use)] // rustc warns too: loopwork's futures are #[must_use]
async fn forgot_await() {
    // BUG: the sleep is created and dropped; nothing waits.
    loopwork::sleep(Duration::from_millis(10));
}

fn never_awaited() {
    loopwork::run_with(debug_runtime(), forgot_await());
}

// ===== never retrieved =====

async fn bug() -> Result<(), String> {
    Err("not consumed".to_owned())
}

fn never_retrieved() {
    loopwork::run_with(debug_runtime(), async {
        let panicked = Builder::new()
            .name("panics")
            .spawn(async { panic!("not consumed") });
        let failed = Builder::new().name("fails").spawn_fallible(bug());
        // BUG: neither handle is awaited; both errors would vanish.
        while !(panicked.is_finished() && failed.is_finished()) {
            loopwork::yield_now().await;
        }
        drop((panicked, failed));
    });
}

// ===== chained =====

async fn create() {
    loopwork::sleep(Duration::from_millis(300)).await;
    println!("(1) create file");
}

async fn write() {
    loopwork::sleep(Duration::from_millis(100)).await;
    println!("(2) write into file");
}

async fn close() {
    println!("(3) close file");
}

fn chained_wrongly() {
    loopwork::run_with(debug_runtime(), async {
        // BUG: three tasks, nobody awaits them: they run in any order, and
        // `create` is still sleeping when the runtime closes.
        let tasks = [
            Builder::new().name("create").spawn(create()),
            Builder::new().name("write").spawn(write()),
            Builder::new().name("close").spawn(close()),
        ];
        loopwork::sleep(Duration::from_millis(200)).await;
        let pending: Vec<_> = tasks.iter().filter(|t| !t.is_finished()).collect();
        println!("Pending tasks at exit: {pending:?}");
    });
}

fn chained_correctly() {
    loopwork::run_with(debug_runtime(), async {
        Builder::new().name("create").spawn(create()).await.unwrap();
        Builder::new().name("write").spawn(write()).await.unwrap();
        Builder::new().name("close").spawn(close()).await.unwrap();
        // Or, without tasks: create().await; write().await; close().await;
    });
}

// ===== wrong thread =====

fn wrong_thread() {
    let rt = debug_runtime().build().unwrap();
    let lp = rt.loop_handle(0);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {})); // the message is printed below
                                            // BUG: call_soon is loop-local; this is the main thread.
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lp.call_soon(|| {});
    }));
    std::panic::set_hook(hook);
    match caught {
        Err(payload) => println!(
            "panicked: {}",
            payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .unwrap_or("<non-string panic>")
        ),
        Ok(()) => println!(
            "production mode: the call took the thread-safe path ({} wrong-thread call counted)",
            rt.metrics().wrong_thread_calls
        ),
    }
    // The fix: the thread-safe variant.
    let (tx, rx) = std::sync::mpsc::channel();
    lp.call_soon_threadsafe(move || tx.send(()).unwrap())
        .unwrap();
    rx.recv().unwrap();
    println!("call_soon_threadsafe: ran on the loop");
    rt.close();
}

// ===== slow callback =====

fn slow_callback() {
    loopwork::run_with(debug_runtime(), async {
        loopwork::spawn(async {
            // BUG: a callback that blocks its loop for 150 ms.
            loopwork::runtime::call_soon_local(|| std::thread::sleep(Duration::from_millis(150)));
            loopwork::yield_now().await;
        })
        .await
        .unwrap();
    });
}

// ===== blocked loop =====

fn blocked_loop() {
    loopwork::run_with(debug_runtime(), async {
        // BUG: a task that blocks its loop for three times the slow
        // threshold; every task and callback of that loop waits meanwhile.
        // Debug mode's watchdog reports the block while it lasts (after
        // `Builder::watchdog_threshold`), and the poll when it returns.
        Builder::new()
            .name("blocker")
            .spawn(async { std::thread::sleep(Duration::from_millis(300)) })
            .await
            .unwrap();
        // The fix: run blocking code on the blocking pool.
        loopwork::spawn_blocking(|| std::thread::sleep(Duration::from_millis(300)))
            .await
            .unwrap();
    });
}

// ===== unclosed runtime =====

fn unclosed_runtime() {
    let rt = debug_runtime().loops(2).build().unwrap();
    rt.block_on(async {});
    // BUG: dropped without close() or shutdown_timeout().
    drop(rt);
}
