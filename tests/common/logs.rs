//! A capturing `log` backend for the tests that check what loopwork logs
//! (target `loopwork`). A test binary that uses it must not install another
//! logger.

use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Every `loopwork` record logged by this test binary, as "LEVEL message".
static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Notified on every record, so a test can wait for one without spinning.
static LOGGED: Condvar = Condvar::new();

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
            LOGGED.notify_all();
        }
    }
    fn flush(&self) {}
}

/// Installs the capturing logger (once per binary).
pub fn capture() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        log::set_boxed_logger(Box::new(Capture)).expect("no other logger in this binary");
        log::set_max_level(log::LevelFilter::Trace);
    });
}

/// Every captured record, in order.
pub fn all_records() -> Vec<String> {
    RECORDS.lock().unwrap().clone()
}

/// The captured records that mention `needle`.
pub fn records_with(needle: &str) -> Vec<String> {
    RECORDS
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.contains(needle))
        .cloned()
        .collect()
}

/// Blocks until a record containing `needle` is logged (at most `secs`).
pub fn wait_for_record(needle: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut records = RECORDS.lock().unwrap();
    while !records.iter().any(|r| r.contains(needle)) {
        let now = Instant::now();
        assert!(now < deadline, "no record with {needle:?} within {secs} s");
        records = LOGGED.wait_timeout(records, deadline - now).unwrap().0;
    }
}
