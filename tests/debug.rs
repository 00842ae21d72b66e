//! Debug mode's slow-poll report: a task poll that takes longer than
//! `slow_callback_duration` is logged (target `loopwork`, level warn), and
//! only the poll itself is charged, not a slow callback run before it.

mod common;

use std::time::Duration;

use common::logs::{all_records, capture, records_with};

fn debug_runtime() -> loopwork::Runtime {
    loopwork::Runtime::builder()
        .loops(1)
        .debug(true)
        .slow_callback_duration(Duration::from_millis(50))
        .build()
        .unwrap()
}

#[test]
fn a_slow_task_poll_is_logged_with_the_task_name() {
    capture();
    let rt = debug_runtime();
    rt.block_on(async {
        loopwork::task::Builder::new()
            .name("slow-poller")
            .spawn(async {
                std::thread::sleep(Duration::from_millis(120));
            })
            .await
            .unwrap();
    });
    rt.close();
    let logged = records_with("'slow-poller'");
    assert_eq!(logged.len(), 1, "one slow poll, one report: {logged:?}");
    assert!(
        logged[0].starts_with("WARN Executing <Task running name='slow-poller'"),
        "unexpected report: {}",
        logged[0]
    );
    // The reported duration covers the 120 ms the poll took; no upper
    // bound (a loaded machine may take longer), only "took N seconds".
    let took: f64 = logged[0]
        .split(" took ")
        .nth(1)
        .and_then(|rest| rest.strip_suffix(" seconds"))
        .and_then(|secs| secs.parse().ok())
        .unwrap_or_else(|| panic!("no 'took N seconds' in the report: {}", logged[0]));
    assert!(
        took >= 0.12,
        "the poll took at least 0.12 s, reported {took}"
    );
}

#[test]
fn a_slow_callback_is_not_charged_to_the_task_polled_after_it() {
    capture();
    let rt = debug_runtime();
    rt.block_on(async {
        loopwork::spawn(async {
            // Runs right after this poll ends (this task waits on the next
            // one), before `fast-after-callback` is polled (both on this
            // loop): the callback is slow, the task is not.
            loopwork::runtime::call_soon_local(|| std::thread::sleep(Duration::from_millis(120)));
            loopwork::task::Builder::new()
                .name("fast-after-callback")
                .spawn_local(async {})
                .await
                .unwrap();
        })
        .await
        .unwrap();
    });
    rt.close();
    assert_eq!(
        records_with("<Callback scheduled at").len(),
        1,
        "the slow callback is reported: {:?}",
        all_records()
    );
    assert!(
        records_with("'fast-after-callback'").is_empty(),
        "the callback's time was charged to the next task: {:?}",
        records_with("'fast-after-callback'")
    );
}
