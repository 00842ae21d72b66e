//! The SIGCHLD fallback of `loopwork::process` (`LOOPWORK_NO_PIDFD=1`), on a
//! kernel that has pidfds. One test: the switch is read once per process.

mod common;

use common::procs::zombie_children;
use futures::io::AsyncWriteExt;
use loopwork::process::{Command, Stdio};
use std::os::unix::process::ExitStatusExt;

#[test]
fn children_are_waited_for_and_reaped_through_sigchld() {
    std::env::set_var("LOOPWORK_NO_PIDFD", "1");
    common::within(120, "sigchld", || {
        let rt = common::runtime(2);
        rt.block_on(async {
            let child = Command::new("true").spawn().unwrap();
            assert!(format!("{child:?}").contains("SIGCHLD"), "{child:?}");
            drop(child);

            let out = Command::new("echo").arg("hi").output().await.unwrap();
            assert_eq!(out.stdout, b"hi\n");

            let status = Command::new("sh")
                .args(["-c", "exit 9"])
                .status()
                .await
                .unwrap();
            assert_eq!(status.code(), Some(9));

            let mut sleeper = Command::new("sleep").arg("1000").spawn().unwrap();
            sleeper.kill().unwrap();
            assert_eq!(sleeper.wait().await.unwrap().signal(), Some(libc::SIGKILL));

            let mut cat = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = cat.stdin.take().unwrap();
            let stdout = cat.stdout.take().unwrap();
            let writer = loopwork::spawn(async move {
                stdin.write_all(&[5u8; 200_000]).await.unwrap();
                stdin.close().await.unwrap();
            });
            let mut echoed = Vec::new();
            stdout.read_to_end(&mut echoed).await.unwrap();
            writer.await.unwrap();
            assert_eq!(echoed.len(), 200_000);
            assert!(cat.wait().await.unwrap().success());

            // Many at once: each SIGCHLD (they coalesce) wakes every waiter.
            let tasks: Vec<_> = (0..50)
                .map(|i| {
                    loopwork::spawn(async move {
                        Command::new("sh")
                            .args(["-c", &format!("exit {}", i % 7)])
                            .status()
                            .await
                            .unwrap()
                            .code()
                    })
                })
                .collect();
            for (i, t) in tasks.into_iter().enumerate() {
                assert_eq!(t.await.unwrap(), Some((i % 7) as i32));
            }
        });
        common::eventually(30, "every child is reaped", || zombie_children() == 0);
        rt.close();
    });
}
