//! Debug mode's loop diagnostics: the watchdog's "blocked right now" report
//! (with the flight recorder's events), slow callbacks named by their
//! creation site, the late-reactor line, the events logged with a task's
//! panic, and a stolen task calling a loop-local API.
//!
//! Each test names its runtime's threads (`thread_name`) or its tasks, so
//! the records of tests running at the same time are told apart.

mod common;

use common::logs::{all_records, capture, records_with, wait_for_record};
use common::within;
use loopwork::runtime::Builder;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const THRESHOLD: Duration = Duration::from_millis(100);

fn debug_runtime(prefix: &str, loops: usize) -> loopwork::Runtime {
    Builder::new()
        .loops(loops)
        .thread_name(prefix)
        .debug(true)
        .slow_callback_duration(Duration::from_millis(20))
        .watchdog_threshold(THRESHOLD)
        .build()
        .unwrap()
}

/// The one record that contains every needle.
fn record_with_all(needles: &[&str]) -> String {
    let found: Vec<_> = all_records()
        .into_iter()
        .filter(|r| needles.iter().all(|n| r.contains(n)))
        .collect();
    assert_eq!(found.len(), 1, "one record with {needles:?}: {found:#?}");
    found.into_iter().next().unwrap()
}

#[test]
fn a_blocked_loop_is_reported_while_it_is_still_blocked() {
    capture();
    within(120, "blocked", || {
        let rt = debug_runtime("blk", 2);
        let (release, released) = mpsc::channel::<()>();
        let (stolen_tx, stolen) = mpsc::channel::<String>();
        let (home_tx, home) = mpsc::channel::<(String, Vec<u64>)>();
        let blocker =
            loopwork::task::Builder::new()
                .name("blocker")
                .spawn_on(&rt.handle(), async move {
                    let me = std::thread::current().name().unwrap().to_owned();
                    // Stealable work queued on this loop: its sibling steals it
                    // while this task holds the loop.
                    let ids = (0..4)
                        .map(|_| {
                            let tx = stolen_tx.clone();
                            let t = loopwork::spawn(async move {
                                let thread = std::thread::current().name().unwrap().to_owned();
                                tx.send(thread).unwrap();
                            });
                            let id = t.id().as_u64();
                            t.detach();
                            id
                        })
                        .collect();
                    home_tx.send((me, ids)).unwrap();
                    let start = Instant::now();
                    // Blocks the loop until the test has seen the report.
                    let got = released.recv_timeout(Duration::from_secs(60));
                    // At least three thresholds in all, so the end line has a
                    // known lower bound (a wait for a deadline, not for an effect).
                    while start.elapsed() < 3 * THRESHOLD {
                        std::hint::spin_loop();
                    }
                    got.is_ok()
                });
        let (home, ids) = home.recv_timeout(Duration::from_secs(30)).unwrap();
        let index: usize = home.rsplit('-').next().unwrap().parse().unwrap();
        for _ in 0..4 {
            let thread = stolen.recv_timeout(Duration::from_secs(30)).unwrap();
            assert_ne!(
                thread, home,
                "the blocked loop's stealable work ran elsewhere"
            );
        }
        wait_for_record(&format!("(thread '{home}') has been blocked for"), 30);
        // Only now is the block released: the line came while it lasted.
        release.send(()).unwrap();
        assert!(
            rt.block_on(blocker).unwrap(),
            "released by the test, not by a timeout"
        );
        wait_for_record(&format!("(thread '{home}') is running again"), 30);

        let report = record_with_all(&[&format!("(thread '{home}') has been blocked for")]);
        for part in [
            "WARN ".to_owned(),
            format!("loop {index} (thread '{home}')"),
            "name='blocker'".to_owned(),
            "spawned at tests/loop_diagnostics.rs:".to_owned(),
            "still running".to_owned(),
            "its siblings steal its stealable work".to_owned(),
            "stolen since the block began".to_owned(),
            "pinned task(s) and inbox item(s) wait".to_owned(),
            "use spawn_blocking".to_owned(),
            "Its last scheduling events:".to_owned(),
            // The flight recorder: the spawns of the stolen tasks, queued
            // on the blocked loop before it blocked.
            format!("wake        task #{} (queued here)", ids[0]),
            format!("wake        task #{} (queued here)", ids[3]),
        ] {
            assert!(report.contains(&part), "missing {part:?} in:\n{report}");
        }
        let end = record_with_all(&[&format!("(thread '{home}') is running again")]);
        assert!(
            end.contains("name='blocker'") && end.contains("in total"),
            "{end}"
        );
        let total: f64 = end
            .split("blocked it for ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no duration in {end}"));
        assert!(
            total >= 0.3,
            "the block lasted at least 3 thresholds: {end}"
        );
        let records = all_records();
        let pos = |needle: &str| records.iter().position(|r| r.contains(needle)).unwrap();
        assert!(
            pos(&format!("(thread '{home}') has been blocked for"))
                < pos(&format!("(thread '{home}') is running again")),
            "reported during the block, then its end"
        );
        let m = rt.metrics();
        assert!(m.loops[index].stolen_out >= 4, "{:?}", m.loops[index]);
        assert!(m.loops[1 - index].stolen >= 4, "{:?}", m.loops[1 - index]);
        assert!(
            m.loops[index].longest_poll >= 3 * THRESHOLD,
            "the blocked poll is the longest: {:?}",
            m.loops[index]
        );
        rt.close();
        assert_eq!(
            records_with(&format!("(thread '{home}') has been blocked for")).len(),
            1,
            "once per episode"
        );
    });
}

#[test]
fn a_blocked_callback_is_named_by_its_creation_site() {
    capture();
    within(120, "blocked-callback", || {
        let rt = debug_runtime("blkcb", 1);
        let (release, released) = mpsc::channel::<()>();
        rt.loop_handle(0)
            .call_soon_threadsafe(move || {
                released.recv_timeout(Duration::from_secs(60)).unwrap();
            })
            .unwrap();
        let needle = "(thread 'blkcb-loop-0') has been blocked for";
        wait_for_record(needle, 30);
        release.send(()).unwrap();
        wait_for_record("(thread 'blkcb-loop-0') is running again", 30);
        let report = record_with_all(&[needle]);
        // `… by <Callback scheduled at tests/loop_diagnostics.rs:L:C>, …`
        let site = report
            .split("by <Callback scheduled at ")
            .nth(1)
            .and_then(|s| s.split('>').next())
            .unwrap_or_else(|| panic!("no callback site in {report}"));
        assert!(site.starts_with("tests/loop_diagnostics.rs:"), "{report}");
        assert!(
            report.contains(&format!("callback    scheduled at {site} starts")),
            "the recorder has the callback's start: {report}"
        );
        rt.close();
    });
}

#[test]
fn slow_timer_and_threadsafe_callbacks_name_their_creation_site() {
    capture();
    within(60, "slow-callbacks", || {
        let rt = debug_runtime("slowcb", 1);
        let lp = rt.loop_handle(0);
        let (tx, rx) = mpsc::channel::<u32>();
        let tx2 = tx.clone();
        let threadsafe_line = line!() + 1;
        lp.call_soon_threadsafe(move || {
            std::thread::sleep(Duration::from_millis(40));
            tx2.send(line!()).unwrap();
        })
        .unwrap();
        let (later_tx, later_line) = mpsc::channel();
        lp.call_soon_threadsafe(move || {
            later_tx.send(line!() + 1).unwrap();
            loopwork::current_loop().call_later(Duration::from_millis(1), move || {
                std::thread::sleep(Duration::from_millis(40));
                tx.send(0).unwrap();
            });
        })
        .unwrap();
        rx.recv_timeout(Duration::from_secs(30)).unwrap();
        rx.recv_timeout(Duration::from_secs(30)).unwrap();
        let later_line = later_line.recv().unwrap();
        rt.close();
        for line in [threadsafe_line, later_line] {
            let site =
                format!("Executing <Callback scheduled at tests/loop_diagnostics.rs:{line}:");
            let found = records_with(&site);
            assert_eq!(found.len(), 1, "{site}: {:#?}", all_records());
            assert!(
                found[0].starts_with("WARN ") && found[0].contains("on loop 0> took 0.0"),
                "{found:?}"
            );
        }
    });
}

#[test]
fn a_reactor_wait_that_returns_late_is_logged_once_at_info_and_each_wait_at_debug() {
    capture();
    within(60, "late-reactor", || {
        // A slow threshold of 1 ns: every timed wait that returns after its
        // timeout at all (the OS wakes a sleeper late by its timer slack at
        // least) counts as late, so the line can be provoked without
        // overloading the machine.
        let rt = Builder::new()
            .loops(1)
            .thread_name("late")
            .debug(true)
            .slow_callback_duration(Duration::from_nanos(1))
            .watchdog_threshold(Duration::from_secs(60))
            .build()
            .unwrap();
        let needle = "(thread 'late-loop-0'): the poller's wait returned";
        rt.block_on(rt.handle().spawn(async move {
            for _ in 0..2_000 {
                loopwork::sleep(Duration::from_millis(2)).await;
                if !records_with(needle).is_empty() {
                    return;
                }
            }
        }))
        .unwrap();
        rt.close();
        let late = records_with(needle);
        assert!(!late.is_empty(), "no late wait in 2000 timed waits");
        assert!(
            late[0].starts_with("INFO ") && late[0].contains("after its timeout of"),
            "{late:?}"
        );
        assert!(
            records_with("(thread 'late-loop-0') waited ")
                .iter()
                .all(|r| r.starts_with("DEBUG ")),
            "per-wait timing is at debug level only"
        );
        assert!(!records_with("(thread 'late-loop-0') waited ").is_empty());

        // Production: no wait is timed, nothing is logged.
        let rt = Builder::new()
            .loops(1)
            .thread_name("late-prod")
            .debug(false)
            .slow_callback_duration(Duration::from_nanos(1))
            .build()
            .unwrap();
        rt.block_on(rt.handle().spawn(async {
            for _ in 0..20 {
                loopwork::sleep(Duration::from_millis(1)).await;
            }
        }))
        .unwrap();
        rt.close();
        assert!(
            records_with("(thread 'late-prod-loop-0')").is_empty(),
            "production logs no reactor timing: {:?}",
            records_with("(thread 'late-prod-loop-0')")
        );
    });
}

#[test]
fn a_task_panic_in_debug_mode_logs_the_events_that_led_to_it() {
    capture();
    within(60, "panic-events", || {
        let rt = debug_runtime("panicrec", 1);
        let id = rt
            .block_on(rt.handle().spawn(async {
                let t = loopwork::task::Builder::new()
                    .name("boom-recorder")
                    .spawn(async { panic!("boom from the recorder test") });
                let id = t.id().as_u64();
                assert!(t.await.is_err());
                id
            }))
            .unwrap();
        rt.close();
        let report = record_with_all(&["name='boom-recorder'", "panicked on loop 0"]);
        for part in [
            "WARN ".to_owned(),
            "(thread 'panicrec-loop-0')".to_owned(),
            "boom from the recorder test".to_owned(),
            "the loop's last scheduling events before the panic:".to_owned(),
            // Its spawn, recorded by the loop that queued it.
            format!("wake        task #{id} (queued here)"),
        ] {
            assert!(report.contains(&part), "missing {part:?} in:\n{report}");
        }
    });
}

#[test]
fn production_logs_none_of_the_loop_diagnostics() {
    capture();
    within(60, "prod-quiet", || {
        let rt = Builder::new()
            .loops(1)
            .thread_name("quiet")
            .debug(false)
            .slow_callback_duration(Duration::from_millis(1))
            .watchdog_threshold(Duration::from_millis(5))
            .build()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        rt.loop_handle(0)
            .call_soon_threadsafe(move || {
                std::thread::sleep(Duration::from_millis(30));
                tx.send(()).unwrap();
            })
            .unwrap();
        rx.recv_timeout(Duration::from_secs(30)).unwrap();
        let _ = rt.block_on(
            loopwork::task::Builder::new()
                .name("quiet-panic")
                .spawn_on(&rt.handle(), async { panic!("quiet") }),
        );
        rt.close();
        assert!(
            records_with("'quiet-loop-0'").is_empty(),
            "{:?}",
            records_with("'quiet-loop-0'")
        );
        assert!(
            records_with("quiet-panic")
                .iter()
                .all(|r| !r.contains("scheduling events")),
            "no recorder in production"
        );
    });
}

#[test]
fn the_watchdog_logs_a_new_await_cycle_once_at_error() {
    capture();
    let rt = debug_runtime("cyclewatch", 1);
    let h = rt.handle();
    // Task 'ping' awaits task 'pong', which awaits 'ping': a deadlock.
    let (set_ping, ping_target) = loopwork::handoff::promise::<loopwork::Task<()>>();
    let (set_pong, pong_target) = loopwork::handoff::promise::<loopwork::Task<()>>();
    let ping = loopwork::task::Builder::new()
        .name("cyc-ping")
        .spawn_on(&h, async move {
            let _ = ping_target.await.unwrap().await;
        });
    let pong = loopwork::task::Builder::new()
        .name("cyc-pong")
        .spawn_on(&h, async move {
            let _ = pong_target.await.unwrap().await;
        });
    let (ping_id, pong_id) = (ping.id(), pong.id());
    set_ping.set_result(pong).unwrap();
    set_pong.set_result(ping).unwrap();
    wait_for_record("'cyc-pong'", 30);
    // Two blocked-loop episodes, each reported by the watchdog: the check
    // that reported the first ran its periodic checks (the cycle check)
    // again before the second report, so a repeated report would be here.
    for episode in 0..2 {
        let (release, held) = mpsc::channel::<()>();
        rt.loop_handle(0)
            .call_soon_threadsafe(move || held.recv().unwrap())
            .unwrap();
        let needle = "(thread 'cyclewatch-loop-0') has been blocked";
        while records_with(needle).len() <= episode {
            wait_for_record(needle, 30);
            std::thread::yield_now();
        }
        release.send(()).unwrap();
    }
    let lines = records_with("await-graph cycle (deadlock)");
    let ours: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("'cyc-ping'") && l.contains("'cyc-pong'"))
        .collect();
    assert_eq!(ours.len(), 1, "one report for the cycle: {lines:?}");
    assert!(ours[0].starts_with("ERROR "), "{}", ours[0]);
    assert!(
        ours[0].contains(&format!("#{ping_id}")) && ours[0].contains(&format!("#{pong_id}")),
        "{}",
        ours[0]
    );
    rt.close();
}

#[test]
fn a_pinned_task_panic_in_debug_mode_logs_the_events_that_led_to_it() {
    capture();
    within(60, "pinned-panic-events", || {
        let rt = debug_runtime("pinpanic", 1);
        rt.loop_handle(0)
            .run_coroutine_threadsafe(async {
                let t = loopwork::task::Builder::new()
                    .name("boom-pinned")
                    .spawn_local(async { panic!("boom from a pinned task") });
                assert!(t.await.is_err());
            })
            .result()
            .unwrap();
        rt.close();
        let report = record_with_all(&["name='boom-pinned'", "panicked on loop 0"]);
        for part in [
            "WARN ",
            "(thread 'pinpanic-loop-0')",
            "boom from a pinned task",
            "the loop's last scheduling events before the panic:",
        ] {
            assert!(report.contains(part), "missing {part:?} in:\n{report}");
        }
    });
}
