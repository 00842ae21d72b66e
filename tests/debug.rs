//! Debug mode's slow-poll report: a task poll that takes longer than
//! `slow_callback_duration` is logged (target `loopwork`, level warn), and
//! only the poll itself is charged, not a slow callback run before it.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Every `loopwork` record logged by this test binary.
static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, meta: &log::Metadata<'_>) -> bool {
        meta.target() == "loopwork"
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            RECORDS
                .lock()
                .unwrap()
                .push(format!("{} {}", record.level(), record.args()));
        }
    }
    fn flush(&self) {}
}

fn capture() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        log::set_boxed_logger(Box::new(Capture)).expect("no other logger in this binary");
        log::set_max_level(log::LevelFilter::Trace);
    });
}

/// The captured records that mention `needle`.
fn records_with(needle: &str) -> Vec<String> {
    RECORDS
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.contains(needle))
        .cloned()
        .collect()
}

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
        logged[0].starts_with("WARN Executing <Task 'slow-poller'"),
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
        RECORDS.lock().unwrap()
    );
    assert!(
        records_with("'fast-after-callback'").is_empty(),
        "the callback's time was charged to the next task: {:?}",
        records_with("'fast-after-callback'")
    );
}
