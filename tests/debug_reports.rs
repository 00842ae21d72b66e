//! The task and future diagnostics (target `loopwork`): futures never
//! awaited, task errors never retrieved, pending tasks destroyed at
//! shutdown, unclosed runtimes, and the task repr they all use. Each report
//! must name the API, the `file:line` of the creation site and the task;
//! debug mode adds a creation backtrace, production never does.
//!
//! Its own binary: it installs a capturing logger. Tests run in parallel,
//! so each looks only at the records that name its own lines or tasks.

mod common;

use std::time::Duration;

use common::logs::{all_records, capture, records_with};
use loopwork::task::Builder;
use loopwork::Runtime;

fn runtime(debug: bool) -> Runtime {
    Runtime::builder().loops(2).debug(debug).build().unwrap()
}

/// `tests/debug_reports.rs:LINE:` of a creation site.
fn site(line: u32) -> String {
    format!("tests/debug_reports.rs:{line}:")
}

/// The one record that mentions `needle`.
fn one_record(needle: &str) -> String {
    let found = records_with(needle);
    assert_eq!(
        found.len(),
        1,
        "one record with {needle:?}: {:#?}",
        all_records()
    );
    found.into_iter().next().unwrap()
}

#[inline(never)]
fn make_sleep_in_a_helper() -> (loopwork::time::Sleep, u32) {
    (loopwork::sleep(Duration::from_secs(1)), line!())
}

#[test]
fn a_sleep_dropped_unpolled_is_reported_with_its_creation_site() {
    capture();
    let rt = runtime(false);
    let line = rt.block_on(async {
        let line = line!() + 1;
        let sleep = loopwork::sleep(Duration::from_secs(1));
        drop(sleep);
        line
    });
    rt.close();
    let record = one_record(&site(line));
    assert!(
        record.starts_with("WARN <Sleep created at tests/debug_reports.rs:")
            && record.ends_with("> was dropped without being awaited"),
        "{record}"
    );
    assert!(
        !record.contains("most recent call last"),
        "production captures no backtrace: {record}"
    );
}

#[test]
fn a_yield_now_dropped_unpolled_is_reported_with_its_creation_site() {
    capture();
    let rt = runtime(false);
    let line = rt.block_on(async {
        let line = line!() + 1;
        let yielding = loopwork::yield_now();
        drop(yielding);
        line
    });
    rt.close();
    let record = one_record(&site(line));
    assert!(
        record.starts_with("WARN <YieldNow created at tests/debug_reports.rs:")
            && record.ends_with("> was dropped without being awaited"),
        "{record}"
    );
}

#[test]
fn debug_mode_adds_the_creation_backtrace_of_an_unawaited_future() {
    capture();
    let rt = runtime(true);
    let line = rt.block_on(async {
        let (sleep, line) = make_sleep_in_a_helper();
        drop(sleep);
        line
    });
    rt.close();
    let record = one_record(&site(line));
    assert!(record.starts_with("WARN <Sleep created at"), "{record}");
    let (_, trace) = record
        .split_once("Sleep created at (most recent call last")
        .unwrap_or_else(|| panic!("no backtrace in debug mode: {record}"));
    assert!(
        trace.contains("make_sleep_in_a_helper"),
        "the user's frame is kept: {trace}"
    );
    assert!(
        !trace.contains("loopwork::"),
        "loopwork's frames are trimmed: {trace}"
    );
    assert!(
        !trace.contains("std::"),
        "std's frames are trimmed: {trace}"
    );
    assert!(
        trace.lines().filter(|l| !l.is_empty()).count() <= 10,
        "at most 10 frames: {trace}"
    );
}

#[test]
fn futures_that_were_awaited_or_consumed_are_not_reported() {
    capture();
    let rt = runtime(true);
    let lp = rt.loop_handle(0);
    let first = line!() + 3;
    let last = rt.block_on(async {
        // Awaited, polled by wait_for, or consumed through their own API.
        loopwork::sleep(Duration::from_millis(1)).await;
        loopwork::yield_now().await;
        let inner_done_first = loopwork::wait_for(Duration::from_secs(5), async { 1 }).await;
        assert_eq!(inner_done_first, Ok(1));
        let (p, f) = loopwork::handoff::promise::<u8>();
        p.set_result(1).unwrap();
        assert_eq!(f.await, Ok(1));
        let (_p, f) = loopwork::handoff::promise::<u8>();
        f.cancel();
        let task = loopwork::spawn(async { 5 });
        assert_eq!(loopwork::shield(task).await.unwrap(), 5);
        line!()
    });
    let a = lp.run_coroutine_threadsafe(async { 1 });
    assert_eq!(a.result().unwrap(), 1);
    let b = lp.run_coroutine_threadsafe(async { 2 });
    b.add_done_callback(|_| {});
    let c = lp.run_coroutine_threadsafe(async { 3 });
    while !c.done() {
        std::thread::yield_now();
    }
    let (ran, has_run) = std::sync::mpsc::channel();
    lp.run_coroutine_threadsafe(async move { ran.send(()).unwrap() })
        .detach();
    has_run.recv().unwrap(); // ran: not pending at the close
    let d = lp.run_coroutine_threadsafe(std::future::pending::<()>());
    d.cancel();
    let end = line!();
    rt.close();
    for line in first..=end.max(last) {
        assert!(
            records_with(&site(line)).is_empty(),
            "line {line} was reported: {:#?}",
            records_with(&site(line))
        );
    }
}

#[test]
fn futures_dropped_by_a_cancellation_are_not_reported() {
    capture();
    let rt = runtime(false);
    let (tx, rx) = std::sync::mpsc::channel();
    let line = rt.block_on(async move {
        let task = loopwork::spawn(async move {
            let line = line!() + 1;
            let timer = loopwork::sleep(Duration::from_secs(60));
            tx.send(line).unwrap();
            std::future::pending::<()>().await; // cancelled here
            timer.await;
        });
        // The block_on thread is not a loop: waiting here stalls nothing.
        let line = rx.recv().unwrap();
        task.cancel();
        assert!(task.await.unwrap_err().is_cancelled());
        line
    });
    rt.close();
    assert!(
        records_with(&site(line)).is_empty(),
        "{:#?}",
        records_with(&site(line))
    );
}

#[test]
fn a_concurrent_future_dropped_unconsumed_names_detach() {
    capture();
    let rt = runtime(false);
    let line = line!() + 1;
    let fut = rt.loop_handle(1).run_coroutine_threadsafe(async { 7 });
    // Done, but nobody looked: still reported (and the task is not pending).
    common::eventually(10, "the work ran", || {
        format!("{fut:?}").starts_with("<ConcurrentFuture done")
    });
    drop(fut);
    rt.close();
    let record = one_record(&site(line));
    assert!(
        record.starts_with("WARN <ConcurrentFuture created at"),
        "{record}"
    );
    assert!(
        record.contains("detach()"),
        "the warning names the explicit way: {record}"
    );
}

#[test]
fn an_unretrieved_panic_names_the_task_and_debug_mode_adds_the_spawn_backtrace() {
    capture();
    for debug in [false, true] {
        let name = format!("panics-debug-{debug}");
        let rt = runtime(debug);
        rt.block_on(async {
            let task = Builder::new()
                .name(name.clone())
                .spawn(async { panic!("boom") });
            while !task.is_finished() {
                loopwork::yield_now().await;
            }
            drop(task);
        });
        rt.close();
        common::eventually(10, "the panic is reported", || {
            !records_with(&format!("name='{name}'")).is_empty()
        });
        // (Debug mode also logs the loop's events at the panic itself, a
        // separate warn line: see tests/loop_diagnostics.rs.)
        let record = one_record(&format!("never retrieved: <Task finished name='{name}'"));
        assert!(
            record.starts_with("ERROR Task exception was never retrieved: <Task finished name='"),
            "{record}"
        );
        assert!(
            record.contains("spawned at tests/debug_reports.rs:"),
            "{record}"
        );
        assert!(record.contains("panicked: boom"), "{record}");
        assert_eq!(
            record.contains("Task spawned at (most recent call last"),
            debug,
            "backtrace only in debug mode: {record}"
        );
    }
}

#[test]
fn an_err_of_a_fallible_task_nobody_awaited_is_reported() {
    capture();
    let rt = runtime(false);
    rt.block_on(async {
        let quiet = Builder::new()
            .name("fallible-awaited")
            .spawn_fallible(async { Err::<(), _>("retrieved") });
        assert_eq!(quiet.await.unwrap(), Err("retrieved"));
        let ok = Builder::new()
            .name("fallible-ok")
            .spawn_fallible(async { Ok::<_, String>(1) });
        let lost = Builder::new()
            .name("fallible-lost")
            .spawn_fallible(async { Err::<(), _>(std::io::Error::other("disk full")) });
        while !(ok.is_finished() && lost.is_finished()) {
            loopwork::yield_now().await;
        }
        drop((ok, lost));
    });
    rt.close();
    common::eventually(10, "the error is reported", || {
        !records_with("'fallible-lost'").is_empty()
    });
    let record = one_record("'fallible-lost'");
    assert!(
        record.starts_with(
            "ERROR Task exception was never retrieved: <Task finished name='fallible-lost'"
        ),
        "{record}"
    );
    assert!(record.contains("returned Err(Custom"), "{record}");
    assert!(record.contains("disk full"), "{record}");
    assert!(
        records_with("'fallible-awaited'").is_empty(),
        "{:#?}",
        all_records()
    );
    assert!(
        records_with("'fallible-ok'").is_empty(),
        "{:#?}",
        all_records()
    );
}

#[test]
fn pending_tasks_destroyed_at_close_are_reported_unless_background_or_cancelled() {
    capture();
    let rt = runtime(false);
    let (tx, rx) = std::sync::mpsc::channel();
    rt.block_on(async {
        for (name, background) in [("destroyed-pending", false), ("destroyed-background", true)] {
            let tx = tx.clone();
            Builder::new()
                .name(name)
                .background(background)
                .spawn(async move {
                    tx.send(()).unwrap();
                    std::future::pending::<()>().await
                })
                .detach();
        }
        let cancelled = Builder::new()
            .name("destroyed-cancelled")
            .spawn(std::future::pending::<()>());
        cancelled.cancel();
        drop(cancelled);
    });
    // Both have started (so both are pending, parked on no waker).
    rx.recv().unwrap();
    rx.recv().unwrap();
    rt.close();
    let record = one_record("'destroyed-pending'");
    assert!(
        record.starts_with("ERROR Task was destroyed but it is pending! <Task pending name='destroyed-pending' id="),
        "{record}"
    );
    assert!(
        record.contains("spawned at tests/debug_reports.rs:"),
        "{record}"
    );
    assert!(
        record.contains(" on loop "),
        "the loop it last ran on: {record}"
    );
    assert!(
        record.contains("background(true)"),
        "the fix is named: {record}"
    );
    assert!(!record.contains("most recent call last"), "{record}");
    assert!(
        records_with("'destroyed-background'").is_empty(),
        "{:#?}",
        all_records()
    );
    assert!(
        records_with("'destroyed-cancelled'").is_empty(),
        "{:#?}",
        all_records()
    );
}

#[test]
fn a_shutdown_destroying_many_pending_tasks_logs_ten_lines_and_a_summary() {
    capture();
    let rt = Runtime::builder()
        .loops(1)
        .debug(true)
        .thread_name("many-pending")
        .build()
        .unwrap();
    rt.block_on(async {
        for _ in 0..25 {
            Builder::new()
                .name("many-pending")
                .spawn(async { std::future::pending::<()>().await })
                .detach();
        }
    });
    rt.close();
    let lines = records_with("'many-pending'");
    assert_eq!(lines.len(), 10, "{lines:#?}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains("Task spawned at (most recent call last")),
        "debug mode: the spawn backtrace: {lines:#?}"
    );
    let summary = one_record("and 15 more pending task(s) (25 in all)");
    assert!(
        summary.starts_with("ERROR Task was destroyed but it is pending!"),
        "{summary}"
    );
}

#[test]
fn an_unclosed_runtime_is_a_warning_in_debug_mode_and_a_debug_line_otherwise() {
    capture();
    for (debug, level) in [(true, "WARN"), (false, "DEBUG")] {
        let name = format!("unclosed-{debug}");
        let rt = Runtime::builder()
            .loops(3)
            .debug(debug)
            .thread_name(name.clone())
            .build()
            .unwrap();
        drop(rt);
        let record = one_record(&format!("name='{name}'"));
        assert!(
            record.starts_with(&format!(
                "{level} unclosed runtime <Runtime loops=3 name='{name}'"
            )),
            "{record}"
        );
        assert!(record.contains("close()"), "{record}");
    }
    let rt = Runtime::builder()
        .loops(1)
        .thread_name("closed-rt")
        .build()
        .unwrap();
    rt.close();
    assert!(
        records_with("name='closed-rt'").is_empty(),
        "{:#?}",
        all_records()
    );
}

#[test]
fn the_task_repr_says_state_name_id_spawn_site_and_loop() {
    let rt = Runtime::builder().loops(1).build().unwrap();
    let (line, pending, finished, pinned) = rt.block_on(async {
        let (tx, rx) = loopwork::handoff::promise::<()>();
        let line = line!() + 1;
        let task = Builder::new().name("fetch").spawn(async move {
            let _ = rx.await;
        });
        // The event waited for: the task has run and waits on `rx`.
        let pending = loop {
            let repr = format!("{task:?}");
            if repr.starts_with("<Task pending") {
                break repr;
            }
            loopwork::yield_now().await;
        };
        tx.set_result(()).unwrap();
        while !task.is_finished() {
            loopwork::yield_now().await;
        }
        let finished = format!("{task:?}");
        let pinned = loopwork::spawn(async {
            let t = loopwork::spawn_local(async {});
            let repr = format!("{t:?}");
            t.await.unwrap();
            repr
        })
        .await
        .unwrap();
        (line, pending, finished, pinned)
    });
    rt.close();
    let id_and_site = |repr: &str| {
        assert!(
            repr.contains(&format!("spawned at {}", site(line))),
            "{repr}"
        );
        assert!(repr.contains(" id="), "{repr}");
    };
    assert!(
        pending.starts_with("<Task pending name='fetch' id="),
        "{pending}"
    );
    assert!(pending.ends_with(" on loop 0>"), "{pending}");
    id_and_site(&pending);
    assert!(
        finished.starts_with("<Task finished name='fetch' id="),
        "{finished}"
    );
    assert!(
        pinned.starts_with("<Task scheduled id="),
        "never polled yet: {pinned}"
    );
    assert!(pinned.ends_with(" pinned to loop 0>"), "{pinned}");
}

#[test]
fn run_with_runs_on_the_configured_runtime_and_closes_it() {
    let (debug, loops) = loopwork::run_with(Runtime::builder().loops(2).debug(true), async {
        let h = loopwork::runtime::Handle::try_current().unwrap();
        (h.is_debug(), h.loops())
    });
    assert_eq!((debug, loops), (true, 2));
}

#[test]
fn set_debug_reaches_every_loop_at_its_next_poll() {
    capture();
    let rt = Runtime::builder()
        .loops(2)
        .debug(false)
        .slow_callback_duration(Duration::from_millis(50))
        .build()
        .unwrap();
    rt.set_debug(true);
    let slow: Vec<_> = (0..2)
        .map(|i| {
            rt.loop_handle(i).run_coroutine_threadsafe(async {
                std::thread::sleep(Duration::from_millis(60));
            })
        })
        .collect();
    for fut in slow {
        fut.result().unwrap();
    }
    rt.close();
    // No other test of this binary blocks a poll past a slow threshold.
    for i in 0..2 {
        let slow_here: Vec<_> = records_with("WARN Executing <Task running id=")
            .into_iter()
            .filter(|r| r.contains("tests/debug_reports.rs:"))
            .filter(|r| r.contains(&format!(" pinned to loop {i}> took ")))
            .collect();
        assert_eq!(
            slow_here.len(),
            1,
            "loop {i} timed its poll: {:#?}",
            all_records()
        );
    }
}

#[test]
fn a_pending_pinned_task_destroyed_at_close_is_reported() {
    capture();
    let rt = runtime(false);
    let (tx, rx) = std::sync::mpsc::channel();
    rt.loop_handle(0)
        .run_coroutine_threadsafe(async move {
            Builder::new()
                .name("destroyed-pinned")
                .spawn_local(async move {
                    tx.send(()).unwrap();
                    std::future::pending::<()>().await
                })
                .detach();
        })
        .result()
        .unwrap();
    // It has started, so it is pending, parked on no waker.
    rx.recv().unwrap();
    rt.close();
    let record = one_record("'destroyed-pinned'");
    assert!(
        record.starts_with(
            "ERROR Task was destroyed but it is pending! <Task pending name='destroyed-pinned' id="
        ),
        "{record}"
    );
}
