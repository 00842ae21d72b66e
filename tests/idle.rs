//! An idle runtime sleeps in its pollers: no busy spinning, no periodic
//! wake-ups.

mod common;

/// What a loop thread (`loopwork-loop-N`) of this process is doing, from
/// `/proc`: `Some(true)` if it is asleep in a poller wait with no timeout
/// (state `S` in `epoll_wait` / `epoll_pwait` with a timeout of -1, or in
/// `epoll_pwait2` with no timeout: a null `timespec` pointer).
fn loop_threads_sleeping_without_timeout() -> Vec<(String, bool)> {
    // epoll_wait and epoll_pwait; the timeout is their fourth argument.
    #[cfg(target_arch = "x86_64")]
    const WAITS: &[u64] = &[232, 281];
    #[cfg(target_arch = "aarch64")]
    const WAITS: &[u64] = &[22];
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    const WAITS: &[u64] = &[];
    // epoll_pwait2 (the same number on both): its fourth argument is a
    // pointer to the timeout, null for none.
    const PWAIT2: u64 = 441;
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = entry.unwrap().path();
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue; // the thread ended meanwhile
        };
        if !comm.starts_with("loopwork-loop-") {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        let sleeping = stat
            .rfind(')')
            .is_some_and(|i| stat[i + 2..].starts_with('S'));
        let syscall = std::fs::read_to_string(dir.join("syscall")).unwrap_or_default();
        // "NR ARG1 ARG2 ...": the number in decimal, the arguments in hex.
        let fields: Vec<u64> = syscall
            .split_whitespace()
            .map(|f| match f.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).unwrap_or(0),
                None => f.parse().unwrap_or(0),
            })
            .collect();
        let waits_forever = fields.len() > 4
            && ((WAITS.contains(&fields[0]) && fields[4] as i32 == -1)
                || (fields[0] == PWAIT2 && fields[4] == 0));
        out.push((comm.trim().to_owned(), sleeping && waits_forever));
    }
    out
}

/// Whether every timerfd of this process is disarmed and has not fired
/// unread: the poller (`polling`) arms one for a wait with a timeout.
fn timerfds_disarmed() -> bool {
    std::fs::read_dir("/proc/self/fd").unwrap().all(|entry| {
        let path = entry.unwrap().path();
        let is_timerfd = std::fs::read_link(&path)
            .is_ok_and(|target| target.to_string_lossy().contains("timerfd"));
        if !is_timerfd {
            return true;
        }
        let fd = path.file_name().unwrap().to_string_lossy().into_owned();
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default();
        info.contains("it_value: (0, 0)") && info.lines().any(|l| l.trim() == "ticks: 0")
    })
}

/// Each loop of an idle runtime ends up asleep in its poller with no
/// timeout: neither spinning (it would never be asleep in the wait) nor
/// waking periodically (its wait would carry a timeout: the syscall's
/// argument, or the poller's timerfd, armed while the loop sleeps). The
/// timerfds are read before and after the threads, so a loop asleep with a
/// timer shows it in one of the two reads. A runtime that never gets there
/// fails when the bound runs out.
#[test]
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn an_idle_runtime_sleeps_in_its_pollers_without_a_timeout() {
    let rt = common::runtime(4);
    rt.block_on(async {
        for _ in 0..10 {
            loopwork::spawn(async {}).await.unwrap();
        }
    });
    common::eventually(
        30,
        "a loop of the idle runtime never slept without a timeout",
        || {
            timerfds_disarmed()
                && {
                    let loops = loop_threads_sleeping_without_timeout();
                    loops.len() == 4 && loops.iter().all(|(_, asleep)| *asleep)
                }
                && timerfds_disarmed()
        },
    );
    let parks: u64 = rt.metrics().loops.iter().map(|l| l.parks).sum();
    assert!(
        parks >= 4,
        "every loop should have parked at least once, saw {parks}"
    );
    rt.close();
}
