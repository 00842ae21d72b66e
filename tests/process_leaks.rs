//! Many short-lived children leave no fds and no zombies behind; dropped
//! children are reaped in the background. One test per binary: it counts
//! the whole process's fds and children.

mod common;

use common::procs::{open_fds, zombie_children};
use loopwork::process::{Command, Stdio};

#[test]
fn two_hundred_short_lived_children_leak_no_fds_and_no_zombies() {
    common::within(120, "children", || {
        let rt = common::runtime(2);
        // Let the runtime open what it keeps (pollers, notifiers) first.
        rt.block_on(async { Command::new("true").status().await.unwrap() });
        let fds_before = open_fds();
        assert_eq!(zombie_children(), 0);
        rt.block_on(async {
            let tasks: Vec<_> = (0..200)
                .map(|i| {
                    loopwork::spawn(async move {
                        match i % 4 {
                            // Captured output: two pipes and a pidfd each.
                            0 | 1 => {
                                let out = Command::new("echo")
                                    .arg(i.to_string())
                                    .output()
                                    .await
                                    .unwrap();
                                assert_eq!(out.stdout, format!("{i}\n").as_bytes());
                            }
                            // Waited for, stdin piped and dropped unused.
                            2 => {
                                let mut child = Command::new("cat")
                                    .stdin(Stdio::piped())
                                    .stdout(Stdio::null())
                                    .spawn()
                                    .unwrap();
                                assert!(child.wait().await.unwrap().success());
                            }
                            // Dropped while (probably) running: reaped in the background.
                            _ => drop(Command::new("true").spawn().unwrap()),
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        // The background reapers finish on their own: wait for the count,
        // bounded.
        common::eventually(30, "every dropped child is reaped", || {
            zombie_children() == 0
        });
        common::eventually(30, "every pipe and pidfd is closed", || {
            open_fds() == fds_before
        });

        // A long-running child dropped with kill_on_drop is killed and reaped.
        let pid = rt.block_on(async {
            let child = Command::new("sleep")
                .arg("1000")
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            child.id()
        });
        common::eventually(30, "the killed child is reaped", || {
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
        });
        assert_eq!(zombie_children(), 0);
        rt.close();
    });
}
