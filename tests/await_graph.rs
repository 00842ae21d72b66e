//! The await graph and the task dumps (issue 13): edges for every kind of
//! await, their removal, leaves, cycles, a dump taken while a loop is
//! blocked, `all_tasks` and the dump on a signal. Nothing here waits on a
//! sleep: each test polls the snapshot until the state it expects appears
//! (bounded, with the whole tree in the failure message).

use loopwork::handoff::promise;
use loopwork::runtime::{Awaiter, TaskTree};
use loopwork::task::{Builder, TaskId, TaskState};
use loopwork::{Runtime, Task};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

fn runtime(loops: usize) -> Runtime {
    Runtime::builder().loops(loops).build().unwrap()
}

/// Polls the task tree until `cond` holds (at most 20 s: an upper bound for
/// something that must happen, never a timing).
fn wait_tree(rt: &Runtime, what: &str, cond: impl Fn(&TaskTree) -> bool) -> TaskTree {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let tree = rt.task_tree();
        if cond(&tree) {
            return tree;
        }
        assert!(
            Instant::now() < deadline,
            "never saw {what}; last tree:\n{tree}"
        );
        std::thread::yield_now();
    }
}

fn awaited_by_task(tree: &TaskTree, id: TaskId, by: TaskId) -> bool {
    tree.awaiter(id) == Some(Awaiter::Task(by))
}

fn listed(tree: &TaskTree, id: TaskId) -> bool {
    tree.tasks().iter().any(|t| t.id == id)
}

/// Polls a future once, then returns it (to drop it, or keep it).
struct PollOnce<F>(Option<F>);

impl<F: Future + Unpin> Future for PollOnce<F> {
    type Output = F;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F> {
        let mut f = self.0.take().expect("polled after completion");
        let _ = Pin::new(&mut f).poll(cx);
        Poll::Ready(f)
    }
}

#[test]
fn a_join_records_the_edge_while_pending_and_removes_it_on_completion() {
    let rt = runtime(2);
    let h = rt.handle();
    let (release_inner, inner_gate) = promise::<()>();
    let (release_outer, outer_gate) = promise::<()>();
    let inner = Builder::new()
        .name("inner")
        .spawn_on(&h, async move { inner_gate.await.unwrap() });
    let inner_id = inner.id();
    let outer = Builder::new().name("outer").spawn_on(&h, async move {
        inner.await.unwrap();
        outer_gate.await.unwrap();
    });
    let outer_id = outer.id();
    let tree = wait_tree(&rt, "outer awaiting inner", |t| {
        awaited_by_task(t, inner_id, outer_id)
    });
    let text = tree.to_string();
    assert!(
        text.contains(&format!("Task #{outer_id} 'outer'")) && text.contains("└── Task #"),
        "{text}"
    );
    assert!(
        tree.leaf(inner_id)
            .unwrap()
            .starts_with("PromiseFuture created at tests/await_graph.rs:"),
        "{text}"
    );
    release_inner.set_result(()).unwrap();
    let tree = wait_tree(&rt, "inner gone, outer on its own promise", |t| {
        !listed(t, inner_id)
            && t.leaf(outer_id)
                .is_some_and(|l| l.starts_with("PromiseFuture"))
    });
    assert_eq!(tree.awaiter(inner_id), None);
    release_outer.set_result(()).unwrap();
    h.block_on(outer).unwrap();
    rt.close();
}

#[test]
fn a_dropped_join_handle_and_a_cancelled_awaiter_remove_the_edge() {
    let rt = runtime(1);
    let h = rt.handle();
    let inner = h.spawn(std::future::pending::<()>());
    let inner_id = inner.id();
    let (drop_it, drop_gate) = promise::<()>();
    // Polls the join once (the edge appears), then drops the handle when told.
    let outer = h.spawn(async move {
        let handle = PollOnce(Some(inner)).await;
        let _ = drop_gate.await;
        drop(handle);
        std::future::pending::<()>().await
    });
    let outer_id = outer.id();
    wait_tree(&rt, "the edge", |t| awaited_by_task(t, inner_id, outer_id));
    drop_it.set_result(()).unwrap();
    let tree = wait_tree(&rt, "the edge removed on drop", |t| {
        t.awaiter(inner_id).is_none()
    });
    assert!(listed(&tree, inner_id), "the detached task keeps running");
    outer.cancel();

    // Cancel: the awaiting task is cancelled; the awaited one keeps running
    // (a dropped join handle detaches it) and loses the edge.
    let inner2 = h.spawn(std::future::pending::<()>());
    let inner2_id = inner2.id();
    let outer2 = h.spawn(inner2);
    let outer2_id = outer2.id();
    wait_tree(&rt, "the second edge", |t| {
        awaited_by_task(t, inner2_id, outer2_id)
    });
    outer2.cancel();
    let tree = wait_tree(&rt, "the edge removed on cancel", |t| {
        !listed(t, outer2_id) && t.awaiter(inner2_id).is_none()
    });
    assert!(listed(&tree, inner2_id));
    rt.close();
}

#[test]
fn a_concurrent_future_awaited_from_a_task_on_another_loop_is_an_edge() {
    let rt = runtime(2);
    let (release, gate) = promise::<u32>();
    // run_coroutine_threadsafe's task: pinned to the loop it was handed to.
    let producer_loop = Some(1);
    let cf = rt
        .loop_handle(1)
        .run_coroutine_threadsafe(async move { gate.await.unwrap() });
    let awaiter = rt
        .loop_handle(0)
        .spawn_local_threadsafe(move || async move { cf.await.unwrap() });
    let tree = wait_tree(&rt, "a task awaiting the producer", |t| {
        t.tasks().iter().any(|p| {
            p.pinned_to == producer_loop && matches!(t.awaiter(p.id), Some(Awaiter::Task(_)))
        })
    });
    let producer = tree
        .tasks()
        .iter()
        .find(|p| p.pinned_to == producer_loop)
        .unwrap();
    assert_eq!(producer.pinned_to, Some(1));
    let Some(Awaiter::Task(by)) = tree.awaiter(producer.id) else {
        unreachable!()
    };
    let by = tree
        .tasks()
        .iter()
        .find(|t| t.id == by)
        .expect("the awaiter is listed");
    assert_eq!(
        by.pinned_to,
        Some(0),
        "awaited from the other loop:\n{tree}"
    );
    release.set_result(5).unwrap();
    assert_eq!(awaiter.result().unwrap(), 5);
    rt.close();
}

#[test]
fn a_foreign_thread_blocked_in_result_is_a_node_until_it_returns() {
    let rt = runtime(1);
    let (release, gate) = promise::<u32>();
    // run_coroutine_threadsafe's task: pinned to the loop it was handed to.
    let producer_loop = Some(0);
    let cf = rt
        .loop_handle(0)
        .run_coroutine_threadsafe(async move { gate.await.unwrap() });
    let waiter = std::thread::Builder::new()
        .name("gui-thread".into())
        .spawn(move || cf.result().unwrap())
        .unwrap();
    let tree = wait_tree(&rt, "the blocked thread", |t| {
        t.tasks().iter().any(|p| {
            p.pinned_to == producer_loop && matches!(t.awaiter(p.id), Some(Awaiter::Thread { .. }))
        })
    });
    let producer = tree
        .tasks()
        .iter()
        .find(|p| p.pinned_to == producer_loop)
        .unwrap();
    assert_eq!(
        tree.awaiter(producer.id),
        Some(Awaiter::Thread {
            name: "gui-thread".into(),
            api: "ConcurrentFuture::result"
        })
    );
    let text = tree.to_string();
    assert!(
        text.contains(
            "thread 'gui-thread' (blocking) in ConcurrentFuture::result at tests/await_graph.rs:"
        ),
        "{text}"
    );
    release.set_result(9).unwrap();
    assert_eq!(waiter.join().unwrap(), 9);
    rt.close();
}

#[test]
fn a_thread_in_block_on_awaits_the_task_its_future_awaits() {
    let rt = runtime(1);
    let h = rt.handle();
    let (release, gate) = promise::<()>();
    let task = h.spawn(async move { gate.await.unwrap() });
    let id = task.id();
    let h2 = h.clone();
    let blocked = std::thread::Builder::new()
        .name("sync-caller".into())
        .spawn(move || h2.block_on(task).unwrap())
        .unwrap();
    wait_tree(&rt, "the block_on thread", |t| {
        t.awaiter(id)
            == Some(Awaiter::Thread {
                name: "sync-caller".into(),
                api: "Handle::block_on",
            })
    });
    release.set_result(()).unwrap();
    blocked.join().unwrap();
    rt.close();
}

#[test]
fn a_thread_in_block_on_shows_the_loopwork_future_its_own_future_waits_on() {
    let rt = runtime(1);
    let h = rt.handle();
    let (release, gate) = promise::<()>();
    let h2 = h.clone();
    let blocked = std::thread::Builder::new()
        .name("leaf-caller".into())
        .spawn(move || h2.block_on(async move { gate.await.unwrap() }))
        .unwrap();
    let tree = wait_tree(&rt, "the thread's leaf", |t| {
        t.to_string().contains("thread 'leaf-caller' (blocking)")
            && t.to_string().contains("└── PromiseFuture created at")
    });
    let text = tree.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("thread 'leaf-caller' (blocking) in Handle::block_on"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        lines[at + 1].starts_with("└── PromiseFuture created at tests/await_graph.rs:"),
        "the leaf is drawn under the thread: {text}"
    );
    release.set_result(()).unwrap();
    blocked.join().unwrap();
    // A future outside loopwork says so.
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let waker = std::sync::Arc::new(std::sync::Mutex::new(None::<std::task::Waker>));
    let (h3, waker2) = (h.clone(), waker.clone());
    let blocked = std::thread::Builder::new()
        .name("foreign-caller".into())
        .spawn(move || {
            h3.block_on(std::future::poll_fn(|cx| {
                // The waker first, then the check: a stop sent after the
                // check finds the waker to wake.
                *waker2.lock().unwrap() = Some(cx.waker().clone());
                match stop_rx.try_recv() {
                    Ok(()) => Poll::Ready(()),
                    Err(_) => Poll::Pending,
                }
            }))
        })
        .unwrap();
    let tree = wait_tree(&rt, "the outside future", |t| {
        t.to_string().contains("thread 'foreign-caller' (blocking)")
    });
    let text = tree.to_string();
    assert!(
        text.contains("(blocking) in Handle::block_on")
            && text.contains("└── a future outside loopwork"),
        "{text}"
    );
    stop_tx.send(()).unwrap();
    if let Some(w) = waker.lock().unwrap().take() {
        w.wake();
    }
    blocked.join().unwrap();
    rt.close();
}

#[test]
fn a_task_awaiting_a_blocking_job_shows_the_job_as_its_leaf() {
    // A thread name of its own: the leaf must name the thread that runs
    // this job, not any blocking thread of the process.
    let rt = Runtime::builder()
        .loops(1)
        .thread_name("jobleaf")
        .build()
        .unwrap();
    let h = rt.handle();
    let (release, job_waits) = std::sync::mpsc::channel::<()>();
    let h2 = h.clone();
    let waiter = Builder::new().name("joins-job").spawn_on(&h, async move {
        let job = h2.spawn_blocking(move || job_waits.recv().unwrap());
        job.await.unwrap()
    });
    let id = waiter.id();
    let tree = wait_tree(&rt, "the job's leaf, running", |t| {
        t.leaf(id)
            .is_some_and(|l| l.starts_with("blocking job") && l.contains("running for"))
    });
    let leaf = tree.leaf(id).unwrap();
    assert!(
        leaf.starts_with("blocking job created at tests/await_graph.rs:")
            && leaf.contains(" s on thread 'jobleaf-blocking-"),
        "{leaf}"
    );
    release.send(()).unwrap();
    h.block_on(waiter).unwrap();
    rt.close();
}

#[test]
fn shield_records_the_edge_and_dropping_it_removes_the_edge_but_not_the_task() {
    let rt = runtime(1);
    let h = rt.handle();
    let inner = h.spawn(std::future::pending::<()>());
    let inner_id = inner.id();
    let outer = h.spawn(async move { loopwork::shield(inner).await });
    let outer_id = outer.id();
    wait_tree(&rt, "shield's edge", |t| {
        awaited_by_task(t, inner_id, outer_id)
    });
    outer.cancel();
    let tree = wait_tree(&rt, "edge removed", |t| {
        !listed(t, outer_id) && t.awaiter(inner_id).is_none()
    });
    assert!(listed(&tree, inner_id), "shielded: not cancelled");
    rt.close();
}

#[test]
fn wait_for_records_the_edge_to_a_task_and_keeps_the_inner_leaf() {
    let rt = runtime(1);
    let h = rt.handle();
    let inner = h.spawn(std::future::pending::<()>());
    let inner_id = inner.id();
    let outer = h.spawn(async move { loopwork::wait_for(Duration::from_secs(600), inner).await });
    let outer_id = outer.id();
    wait_tree(&rt, "wait_for's edge", |t| {
        awaited_by_task(t, inner_id, outer_id)
    });
    assert_eq!(
        rt.task_tree().leaf(outer_id),
        None,
        "the awaited task is drawn instead"
    );
    outer.cancel();
    wait_tree(&rt, "edge removed on cancel", |t| {
        t.awaiter(inner_id).is_none()
    });

    let (_keep, gate) = promise::<()>();
    let on_promise =
        h.spawn(async move { loopwork::wait_for(Duration::from_secs(600), gate).await });
    let on_foreign = h.spawn(async move {
        loopwork::wait_for(Duration::from_secs(600), std::future::pending::<()>()).await
    });
    let tree = wait_tree(&rt, "both leaves", |t| {
        t.leaf(on_promise.id()).is_some() && t.leaf(on_foreign.id()).is_some()
    });
    let promise_leaf = tree.leaf(on_promise.id()).unwrap();
    assert!(
        promise_leaf.starts_with("PromiseFuture created at tests/await_graph.rs:"),
        "{promise_leaf}"
    );
    let foreign_leaf = tree.leaf(on_foreign.id()).unwrap();
    assert!(
        foreign_leaf.starts_with("wait_for created at tests/await_graph.rs:")
            && foreign_leaf.contains("times out in"),
        "{foreign_leaf}"
    );
    rt.close();
}

#[test]
fn leaves_name_the_loopwork_future_or_say_it_is_outside_loopwork() {
    let rt = runtime(1);
    let h = rt.handle();
    let sleeper = h.spawn(loopwork::sleep(Duration::from_secs(600)));
    let foreign = h.spawn(std::future::pending::<()>());
    let tree = wait_tree(&rt, "both suspended", |t| {
        t.leaf(sleeper.id()).is_some() && t.leaf(foreign.id()).is_some()
    });
    let sleep_leaf = tree.leaf(sleeper.id()).unwrap();
    assert!(
        sleep_leaf.starts_with("Sleep created at tests/await_graph.rs:")
            && sleep_leaf.contains("fires in"),
        "{sleep_leaf}"
    );
    assert_eq!(
        tree.leaf(foreign.id()).unwrap(),
        "a future outside loopwork"
    );
    rt.close();
}

#[test]
fn the_time_since_the_last_poll_grows_while_a_task_waits_and_restarts_at_its_next_poll() {
    let rt = runtime(1);
    let h = rt.handle();
    let (wake, gate) = promise::<()>();
    let t = Builder::new().name("idle").spawn_on(&h, async move {
        gate.await.unwrap();
        std::future::pending::<()>().await
    });
    let id = t.id();
    // Polls the snapshot until `cond` holds (bounded: never a timing).
    let wait_info = |what: &str, cond: &dyn Fn(&loopwork::task::TaskInfo) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let info = rt.all_tasks().into_iter().find(|i| i.id == id).unwrap();
            if cond(&info) {
                return info;
            }
            assert!(Instant::now() < deadline, "never saw {what}: {info:?}");
            std::thread::yield_now();
        }
    };
    let waiting = |polls: u32| {
        move |i: &loopwork::task::TaskInfo| i.state == TaskState::Waiting && i.polls == polls
    };
    let first = wait_info("the first poll", &waiting(1));
    let since = first.since_last_poll.expect("polled once");
    assert!(since <= first.age, "{first:?}");
    // The coarse clock moves on while the task waits: its idle time grows
    // (by at least 20 ms, so the next poll is clearly later than the first).
    let grown = wait_info("the idle time grow", &|i| {
        i.since_last_poll
            .is_some_and(|d| d >= since + Duration::from_millis(20))
    });
    assert_eq!(grown.polls, 1, "no poll meanwhile: {grown:?}");
    let text = rt.task_tree().to_string();
    assert!(text.contains("1 polls, last "), "the tree shows it: {text}");
    assert!(rt.dump_tasks().contains("LAST POLL"));
    // The second poll starts after the wake: its start (age minus idle
    // time) moves past the first one's.
    wake.set_result(()).unwrap();
    let second = wait_info("the second poll", &waiting(2));
    let started = |i: &loopwork::task::TaskInfo| i.age - i.since_last_poll.unwrap();
    assert!(
        started(&second) > started(&first),
        "the second poll restarted the count: {first:?} then {second:?}"
    );
    assert!(second.since_last_poll.unwrap() <= second.age);
    t.cancel();
    rt.close();
}

#[test]
fn a_task_waiting_to_accept_shows_the_listening_address() {
    let rt = runtime(1);
    let h = rt.handle();
    let (tx, rx) = std::sync::mpsc::channel();
    let acceptor = h.spawn(async move {
        let l = loopwork::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        tx.send(l.local_addr().unwrap()).unwrap();
        let _ = l.accept().await;
    });
    let addr = rx.recv().unwrap();
    let tree = wait_tree(&rt, "the accept leaf", |t| {
        t.leaf(acceptor.id())
            .is_some_and(|l| l.starts_with("accept on"))
    });
    assert!(tree
        .leaf(acceptor.id())
        .unwrap()
        .starts_with(&format!("accept on {addr} (fd ")));
    rt.close();
}

/// Two (or three) tasks, each awaiting the next, the last the first.
fn cycle_of(rt: &Runtime, names: &[&str]) -> Vec<TaskId> {
    let h = rt.handle();
    let mut setters = Vec::new();
    let mut tasks = Vec::new();
    for name in names {
        let (p, f) = promise::<Task<()>>();
        setters.push(p);
        tasks.push(Builder::new().name(*name).spawn_on(&h, async move {
            let _ = f.await.unwrap().await;
        }));
    }
    let ids: Vec<TaskId> = tasks.iter().map(Task::id).collect();
    // Task i awaits task i + 1.
    tasks.rotate_left(1);
    for (p, t) in setters.into_iter().zip(tasks) {
        p.set_result(t).unwrap();
    }
    ids
}

#[test]
fn a_two_cycle_is_a_deadlock_and_the_rest_of_the_forest_is_still_drawn() {
    let rt = runtime(2);
    let bystander = Builder::new()
        .name("bystander")
        .spawn_on(&rt.handle(), std::future::pending::<()>());
    let ids = cycle_of(&rt, &["a", "b"]);
    let tree = wait_tree(&rt, "the cycle", |t| !t.cycles().is_empty());
    assert_eq!(tree.cycles(), std::slice::from_ref(&ids));
    let text = tree.to_string();
    let line = format!(
        "await-graph cycle (deadlock): Task #{} 'a' → Task #{} 'b' → Task #{} 'a'",
        ids[0], ids[1], ids[0]
    );
    assert!(text.contains(&line), "{text}");
    assert!(
        text.contains(&format!("Task #{} 'bystander'", bystander.id())),
        "{text}"
    );
    assert!(text.contains("(shown above)"), "{text}");
    rt.close();
}

#[test]
fn a_three_cycle_is_reported_in_await_order() {
    let rt = runtime(2);
    let ids = cycle_of(&rt, &["x", "y", "z"]);
    let tree = wait_tree(&rt, "the cycle", |t| !t.cycles().is_empty());
    assert_eq!(tree.cycles(), std::slice::from_ref(&ids));
    assert!(tree.to_string().contains(&format!(
        "Task #{} 'x' → Task #{} 'y' → Task #{} 'z' → Task #{} 'x'",
        ids[0], ids[1], ids[2], ids[0]
    )));
    rt.close();
}

#[test]
fn the_dump_works_while_a_loop_is_blocked_and_names_its_running_task() {
    let rt = runtime(1);
    let h = rt.handle();
    let (entered_tx, entered) = std::sync::mpsc::channel::<()>();
    let (unblock, blocked_on) = std::sync::mpsc::channel::<()>();
    let stuck = Builder::new().name("stuck").spawn_on(&h, async move {
        entered_tx.send(()).unwrap();
        // A synchronous call that holds the loop.
        blocked_on.recv().unwrap();
    });
    entered.recv().unwrap();
    // Queued behind the blocked loop: listed although never polled.
    let queued = Builder::new().name("queued").spawn_on(&h, async {});
    let tree = rt.task_tree();
    let text = tree.to_string();
    assert!(
        text.starts_with(&format!(
            "loop 0 (thread 'loopwork-loop-0'): running Task #{} 'stuck'",
            stuck.id()
        )),
        "{text}"
    );
    let info = tree.tasks().iter().find(|t| t.id == stuck.id()).unwrap();
    assert_eq!((info.state, info.last_loop), (TaskState::Running, Some(0)));
    let all = rt.all_tasks();
    let q = all
        .iter()
        .find(|t| t.id == queued.id())
        .expect("queued task listed");
    assert_eq!(
        (q.state, q.polls, q.last_loop, q.since_last_poll),
        (TaskState::Scheduled, 0, None, None)
    );
    let s = all.iter().find(|t| t.id == stuck.id()).unwrap();
    assert!(
        s.since_last_poll.is_some_and(|d| d <= s.age),
        "the running poll's start is known: {s:?}"
    );
    let table = rt.dump_tasks();
    assert!(
        table.contains("queued") && table.contains("stuck"),
        "{table}"
    );
    unblock.send(()).unwrap();
    h.block_on(stuck).unwrap();
    h.block_on(queued).unwrap();
    rt.close();
}

#[test]
fn in_debug_mode_the_dump_says_how_long_the_blocked_loop_has_run() {
    let rt = Runtime::builder().loops(1).debug(true).build().unwrap();
    let h = rt.handle();
    let (entered_tx, entered) = std::sync::mpsc::channel::<()>();
    let (unblock, blocked_on) = std::sync::mpsc::channel::<()>();
    let stuck = Builder::new().name("stuck").spawn_on(&h, async move {
        entered_tx.send(()).unwrap();
        blocked_on.recv().unwrap();
    });
    entered.recv().unwrap();
    // The loop's activity record (debug mode) times the running poll.
    let text = rt.task_tree().to_string();
    let first = text.lines().next().unwrap();
    let prefix = format!(
        "loop 0 (thread 'loopwork-loop-0'): running Task #{} 'stuck'",
        stuck.id()
    );
    assert!(first.starts_with(&prefix), "{text}");
    let rest = &first[prefix.len()..];
    assert!(
        rest.starts_with(" for ") && rest.ends_with(" s"),
        "the line says for how long the loop has run the task: {first}"
    );
    unblock.send(()).unwrap();
    h.block_on(stuck).unwrap();
    rt.close();
}

const CHILD_ENV: &str = "LOOPWORK_AWAIT_GRAPH_SIGNAL_CHILD";

/// In the child: a runtime that opted in through the environment, a named
/// waiting task, "ready" on stdout, then wait for stdin to close.
fn signal_child() {
    let rt = runtime(1);
    let task = Builder::new()
        .name("waiting-for-signal")
        .spawn_on(&rt.handle(), std::future::pending::<()>());
    // Suspended before the parent sends the signal.
    while rt
        .all_tasks()
        .iter()
        .all(|t| t.id != task.id() || t.polls == 0)
    {
        std::thread::yield_now();
    }
    println!("CHILD READY");
    use std::io::Write as _;
    std::io::stdout().flush().unwrap();
    let mut sink = String::new();
    let _ = std::io::Read::read_to_string(&mut std::io::stdin(), &mut sink);
    rt.close();
}

#[test]
fn the_tree_is_printed_to_stderr_on_the_opted_in_signal() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    if std::env::var_os(CHILD_ENV).is_some() {
        return signal_child();
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "the_tree_is_printed_to_stderr_on_the_opted_in_signal",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env("LOOPWORK_DUMP_SIGNAL", "USR1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the child exited before it was ready"
        );
        if line.contains("CHILD READY") {
            break;
        }
    }
    // SAFETY: kill(2) with the pid of our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) }, 0);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut dump = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no dump before the child exited:\n{dump}"
        );
        dump.push_str(&line);
        if line.contains("'waiting-for-signal'") && line.contains("[waiting") {
            break;
        }
    }
    assert!(dump.contains("loopwork task tree ("), "{dump}");
    assert!(
        dump.contains("loop 0 (thread 'loopwork-loop-0'): not running a task"),
        "{dump}"
    );
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    // The rest of the tree: the leaf under the task.
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
    assert!(rest.contains("a future outside loopwork"), "{dump}{rest}");
}

#[test]
fn a_frame_names_an_await_point_between_the_task_and_its_leaf_until_it_ends() {
    let rt = runtime(1);
    let h = rt.handle();
    let (release, gate) = promise::<()>();
    let (_keep, never) = promise::<()>();
    let task = Builder::new().name("user").spawn_on(&h, async move {
        loopwork::task::frame("load user", async move {
            loopwork::task::frame("query", gate).await.unwrap();
        })
        .await;
        never.await.unwrap();
    });
    // Both: the frames are listed from their first poll, before the task
    // returns Pending (and is drawn as waiting).
    let tree = wait_tree(&rt, "the frames", |t| {
        let text = t.to_string();
        text.contains("frame 'query'") && text.contains("'user' [waiting")
    });
    let text = tree.to_string();
    let at = text.find("'user' [waiting").expect("the task");
    let below: Vec<&str> = text[at..].lines().skip(1).take(3).collect();
    assert!(
        below[0].starts_with("└── frame 'load user' at tests/await_graph.rs:"),
        "{text}"
    );
    assert!(
        below[1].starts_with("    └── frame 'query' at tests/await_graph.rs:"),
        "{text}"
    );
    assert!(
        below[2].starts_with("        └── PromiseFuture created at"),
        "{text}"
    );
    release.set_result(()).unwrap();
    let tree = wait_tree(&rt, "the frames gone", |t| {
        !t.to_string().contains("frame '")
            && t.leaf(task.id())
                .is_some_and(|l| l.starts_with("PromiseFuture"))
    });
    assert!(listed(&tree, task.id()));
    rt.close();
}

#[test]
fn a_frame_dropped_before_it_ends_leaves_the_tree_and_the_frame_around_it_stays() {
    let rt = runtime(1);
    let h = rt.handle();
    let (_keep, never) = promise::<()>();
    let (_keep_too, abandoned) = promise::<()>();
    let _task = Builder::new().name("user").spawn_on(&h, async move {
        loopwork::task::frame("outer", async move {
            // Polled once and dropped, as a `select` drops the branch
            // that lost.
            drop(
                PollOnce(Some(Box::pin(loopwork::task::frame(
                    "abandoned",
                    abandoned,
                ))))
                .await,
            );
            never.await.unwrap();
        })
        .await;
    });
    let tree = wait_tree(&rt, "the outer frame", |t| {
        let text = t.to_string();
        text.contains("'user' [waiting") && text.contains("frame 'outer'")
    });
    let text = tree.to_string();
    assert!(!text.contains("frame 'abandoned'"), "{text}");
    rt.close();
}
