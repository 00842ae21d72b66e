//! Finding out why a program hangs: a small server with two bugs, and the
//! dumps that name them.
//!
//! The server accepts connections; a request handler waits for the
//! configuration. Bug 1: loading the configuration waits for the cache,
//! and refreshing the cache waits for the configuration — a deadlock, shown
//! as an await-graph cycle. Bug 2: a report task makes a blocking call on
//! its loop — that loop is stuck, shown with the task it is running. An
//! admin thread waits on the runtime from outside (`ConcurrentFuture::result`).
//!
//! ```text
//! cargo run --example hang
//! ```
//!
//! The same tree can be printed from outside without changing the code:
//! `LOOPWORK_DUMP_SIGNAL=USR1 cargo run --example hang -- --wait`, then
//! `kill -USR1 <pid>` prints it to stderr.

use loopwork::handoff::promise;
use loopwork::net::TcpListener;
use loopwork::runtime::TaskTree;
use loopwork::task::{Builder, TaskState};
use loopwork::{Runtime, Task};
use std::time::{Duration, Instant};

fn main() {
    let rt = Runtime::builder()
        .loops(2)
        .thread_name("hang")
        .build()
        .unwrap();
    let h = rt.handle();

    // The server: an acceptor, and a request waiting for the configuration.
    let acceptor = Builder::new().name("acceptor").spawn_on(&h, async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        loop {
            let _ = listener.accept().await;
        }
    });

    // Bug 1: config and cache wait for each other. The request waits for
    // the configuration to be ready, which never happens.
    let (config_ready, on_config_ready) = promise::<()>();
    let request = Builder::new().name("request").spawn_on(&h, async move {
        let _ = on_config_ready.await;
    });
    let (give_cache, cache_handle) = promise::<Task<()>>();
    let (give_config, config_handle) = promise::<Task<()>>();
    let config = Builder::new().name("load-config").spawn_on(&h, async move {
        let cache = cache_handle.await.unwrap();
        let _ = cache.await; // waits for the cache ...
        let _ = config_ready.set_result(());
    });
    let cache = Builder::new()
        .name("refresh-cache")
        .spawn_on(&h, async move {
            let config = config_handle.await.unwrap();
            let _ = config.await; // ... which waits for the config
        });
    give_cache.set_result(cache).unwrap();
    give_config.set_result(config).unwrap();

    // Bug 2: a blocking call on a loop.
    let (unblock, blocked) = std::sync::mpsc::channel::<()>();
    let report = Builder::new().name("report").spawn_on(&h, async move {
        blocked.recv().unwrap(); // a synchronous wait: the loop is stuck here
    });

    // An admin thread waiting on the runtime from outside.
    let admin_work = rt.loop_handle(0).run_coroutine_threadsafe(async {
        loopwork::sleep(Duration::from_secs(30)).await;
    });
    let admin = std::thread::Builder::new()
        .name("admin".into())
        .spawn(move || {
            let _ = admin_work.result();
        })
        .unwrap();

    let tree = wait_until(&rt, |t| {
        !t.cycles().is_empty()
            && t.tasks()
                .iter()
                .any(|i| i.name.as_deref() == Some("report") && i.state == TaskState::Running)
            && t.leaf(acceptor.id())
                .is_some_and(|l| l.starts_with("accept on"))
            && t.to_string().contains("thread 'admin'")
    });

    println!("== the task tree (Runtime::task_tree) ==\n{tree}");
    println!("== the findings ==");
    for cycle in tree.cycles() {
        let names: Vec<String> = cycle
            .iter()
            .map(|id| {
                let t = tree.tasks().iter().find(|t| t.id == *id).unwrap();
                t.name.clone().unwrap_or_else(|| format!("#{id}"))
            })
            .collect();
        println!("deadlock: {} wait for each other", names.join(" and "));
    }
    for t in tree
        .tasks()
        .iter()
        .filter(|t| t.state == TaskState::Running)
    {
        println!(
            "loop {} is blocked in task '{}' (spawned at {})",
            t.last_loop.unwrap(),
            t.name.as_deref().unwrap_or("?"),
            t.spawned_at
        );
    }
    println!(
        "\n== all tasks (Runtime::dump_tasks) ==\n{}",
        rt.dump_tasks()
    );

    if std::env::args().any(|a| a == "--wait") {
        eprintln!("pid {}: waiting; Ctrl-C to stop", std::process::id());
        std::thread::park();
    }
    unblock.send(()).unwrap();
    h.block_on(report).unwrap();
    request.cancel();
    rt.close();
    admin.join().unwrap();
}

/// Polls the tree until `cond` holds (at most 10 s).
fn wait_until(rt: &Runtime, cond: impl Fn(&TaskTree) -> bool) -> TaskTree {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let tree = rt.task_tree();
        if cond(&tree) || Instant::now() > deadline {
            return tree;
        }
        std::thread::yield_now();
    }
}
