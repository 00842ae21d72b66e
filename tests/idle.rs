//! An idle runtime sleeps in its pollers: no busy spinning.

mod common;

use std::time::Duration;

/// CPU time (user + system) of this process, in clock ticks.
fn process_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line (indices 11 and 12 after ")").
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn an_idle_runtime_uses_almost_no_cpu() {
    let rt = common::runtime(4);
    // Let the loops start and park.
    rt.block_on(async {
        for _ in 0..10 {
            loopwork::spawn(async {}).await.unwrap();
        }
    });
    let before = process_cpu_ticks();
    std::thread::sleep(Duration::from_secs(1));
    let used = process_cpu_ticks() - before;
    // Clock ticks are 10 ms: four spinning loops would burn ~400 ticks in
    // this second (or ~200 on two cores). Idle loops park: allow 5 ticks of
    // noise from the test harness itself.
    assert!(
        used <= 5,
        "idle runtime used {used} CPU ticks (10 ms each) in one second"
    );
    let parks: u64 = rt.metrics().loops.iter().map(|l| l.parks).sum();
    assert!(
        parks >= 4,
        "every loop should have parked at least once, saw {parks}"
    );
    rt.close();
}
