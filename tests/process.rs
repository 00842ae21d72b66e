//! Subprocesses on the loops: output, pipes, exit codes, signals, dropping.

mod common;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use loopwork::process::{Command, Stdio};
use std::os::unix::process::ExitStatusExt;

fn run<T: Send + 'static>(
    what: &str,
    fut: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    common::within(60, what, move || {
        let rt = common::runtime(2);
        let out = rt.block_on(async move { loopwork::spawn(fut).await.unwrap() });
        rt.close();
        out
    })
}

#[test]
fn echo_output_is_captured() {
    let out = run("echo", async {
        Command::new("echo")
            .args(["hello", "world"])
            .output()
            .await
            .unwrap()
    });
    assert!(out.status.success());
    assert_eq!(out.stdout, b"hello world\n");
    assert!(out.stderr.is_empty());
}

#[test]
fn cat_pipes_one_mebibyte_through_stdin_and_stdout_concurrently() {
    const LEN: usize = 1 << 20;
    let (echoed, status) = run("cat", async {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        // More than a pipe holds (64 KiB): writing it all before reading
        // would deadlock, so the writer is its own task.
        let writer = loopwork::spawn(async move {
            let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
            stdin.write_all(&data).await.unwrap();
            stdin.close().await.unwrap(); // cat sees the end of its input
        });
        let mut echoed = Vec::new();
        // Through the futures-io trait (the inherent `read_to_end` would
        // shadow it).
        AsyncReadExt::read_to_end(&mut stdout, &mut echoed)
            .await
            .unwrap();
        writer.await.unwrap();
        (echoed, child.wait().await.unwrap())
    });
    assert!(status.success());
    assert_eq!(echoed.len(), LEN);
    assert!(
        echoed
            .iter()
            .enumerate()
            .all(|(i, &b)| b == (i % 251) as u8),
        "bytes intact, in order"
    );
}

#[test]
fn exit_codes_are_reported() {
    let codes = run("exit-codes", async {
        let mut codes = Vec::new();
        for code in [0, 1, 3, 42, 255] {
            let status = Command::new("sh")
                .args(["-c", &format!("exit {code}")])
                .status()
                .await
                .unwrap();
            codes.push((status.code(), status.success()));
        }
        codes
    });
    assert_eq!(
        codes,
        [
            (Some(0), true),
            (Some(1), false),
            (Some(3), false),
            (Some(42), false),
            (Some(255), false)
        ]
    );
}

#[test]
fn a_child_killed_by_a_signal_reports_the_signal() {
    let (killed, terminated) = run("killed", async {
        let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
        assert_eq!(child.try_wait().unwrap(), None);
        child.kill().unwrap();
        let killed = child.wait().await.unwrap();
        // A child that signals itself.
        let terminated = Command::new("sh")
            .args(["-c", "kill -TERM $$"])
            .status()
            .await
            .unwrap();
        (killed, terminated)
    });
    assert_eq!(
        (killed.code(), killed.signal()),
        (None, Some(libc::SIGKILL))
    );
    assert_eq!(terminated.signal(), Some(libc::SIGTERM));
}

#[test]
fn stdout_and_stderr_are_read_at_the_same_time() {
    // 256 KiB on each: reading one to the end before the other would
    // deadlock once the other pipe is full.
    let out = run("both-pipes", async {
        Command::new("sh")
            .args([
                "-c",
                "head -c 262144 /dev/zero >&2; head -c 262144 /dev/zero",
            ])
            .output()
            .await
            .unwrap()
    });
    assert!(out.status.success());
    assert_eq!((out.stdout.len(), out.stderr.len()), (262144, 262144));
}

#[test]
fn a_missing_program_is_a_not_found_error() {
    let err = run("missing", async {
        Command::new("/no/such/program")
            .spawn()
            .map(|_| ())
            .unwrap_err()
    });
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn a_child_waited_for_on_many_loops_at_once_is_reaped_once() {
    let statuses = run("many-waits", async {
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                loopwork::spawn(async move {
                    Command::new("sh")
                        .args(["-c", &format!("exit {i}")])
                        .status()
                        .await
                        .unwrap()
                        .code()
                })
            })
            .collect();
        let mut codes = Vec::new();
        for t in tasks {
            codes.push(t.await.unwrap());
        }
        codes
    });
    assert_eq!(statuses, (0..16).map(Some).collect::<Vec<_>>());
}

#[test]
fn spawning_outside_a_runtime_panics_naming_the_fix() {
    let err = std::panic::catch_unwind(|| Command::new("true").spawn().map(drop)).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("process::Command::spawn") && msg.contains("outside a loopwork runtime"),
        "{msg}"
    );
}

/// Whether `pid` is still a process (running or a zombie).
fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The state letter of `pid` in `/proc/<pid>/stat` (`S`, `R`, `Z`, …).
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

#[test]
fn a_dropped_running_child_is_not_killed_and_is_reaped_once_it_exits() {
    common::within(60, "drop-running", || {
        let rt = common::runtime(2);
        let (pid, stdin) = rt.block_on(async {
            let mut child = Command::new("sh")
                .args(["-c", "read line"])
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            let stdin = child.stdin.take().unwrap();
            let pid = child.id();
            drop(child);
            (pid, stdin)
        });
        // Still blocked in `read`: not killed by the drop.
        assert!(matches!(state(pid), Some('S' | 'R')), "{:?}", state(pid));
        drop(stdin); // end of its input: it exits
        common::eventually(30, "the dropped child is reaped in the background", || {
            !exists(pid)
        });
        rt.close();
    });
}

#[test]
fn a_dropped_child_outliving_its_runtime_is_still_reaped() {
    common::within(60, "drop-after-close", || {
        let rt = common::runtime(1);
        let (pid, stdin) = rt.block_on(async {
            let mut child = Command::new("sh")
                .args(["-c", "read line"])
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            let stdin = child.stdin.take().unwrap();
            (child.id(), (child, stdin))
        });
        let (child, stdin) = stdin;
        drop(child); // its reaping task is cancelled by the close below
        rt.close();
        assert!(matches!(state(pid), Some('S' | 'R')), "{:?}", state(pid));
        drop(stdin);
        common::eventually(30, "a thread reaps it", || !exists(pid));
    });
}
