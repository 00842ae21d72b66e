//! Introspection: `all_tasks`, `dump_tasks`, and the await-graph dump
//! (`task_tree`, `print_call_graph`), with its deadlock cycles.
//!
//! # Invariants
//! * Everything here is built from shared state — the task directory, the
//!   tasks' headers, the table of foreign threads blocked on the runtime —
//!   and never asks a loop to cooperate: a dump taken while a loop is stuck
//!   in a synchronous call shows that loop and the task it is running.
//! * A snapshot is not atomic: tasks move on while it is taken. Every figure
//!   is one relaxed read; a task that completes meanwhile may be missing,
//!   one that starts may be listed as scheduled.
//! * The directory's shard locks are held only while copying one shard's
//!   entries; formatting happens after.

use super::context;
use super::shared::Shared;
use super::Runtime;
use crate::debug::graph::{self, Node};
use crate::task::directory;
use crate::task::trace::{self, Leaf, LeafKind, THREAD_NODE};
use crate::task::{TaskId, TaskInfo, TaskState};
use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Every live task of the runtime behind `shared`, by id.
pub(crate) fn collect_tasks(shared: &Shared) -> Vec<TaskInfo> {
    let mut out = Vec::new();
    directory::for_each(shared.sched.directory_owner(), |h| {
        out.extend(TaskInfo::from_header(h))
    });
    out.sort_by_key(|t| t.id);
    out
}

/// The aligned table of [`Runtime::dump_tasks`](crate::Runtime::dump_tasks).
pub(crate) fn tasks_table(shared: &Shared) -> String {
    let tasks = collect_tasks(shared);
    let debug = shared.is_debug();
    let header = [
        "ID",
        "NAME",
        "STATE",
        "LOOP",
        "KIND",
        "POLLS",
        "BUSY",
        "LONGEST",
        "AGE",
        "LAST POLL",
        "SPAWNED AT",
    ];
    let rows: Vec<[String; 11]> = tasks
        .iter()
        .map(|t| {
            let timed = |d: Duration| {
                if debug {
                    secs(d)
                } else {
                    "-".to_owned()
                }
            };
            [
                t.id.to_string(),
                t.name.clone().unwrap_or_else(|| "-".to_owned()),
                state_word(t),
                t.last_loop.map_or("-".to_owned(), |l| l.to_string()),
                t.pinned_to
                    .map_or("stealable".to_owned(), |l| format!("pinned({l})")),
                t.polls.to_string(),
                timed(t.busy),
                timed(t.longest_poll),
                secs(t.age),
                t.since_last_poll
                    .map_or("-".to_owned(), |d| format!("{} ago", secs(d))),
                t.spawned_at.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                let _ = write!(l, "{cell:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
    if !debug {
        out.push_str("(BUSY and LONGEST are measured in debug mode only)\n");
    }
    out
}

fn state_word(t: &TaskInfo) -> String {
    if t.cancel_requested {
        format!("{} (cancelling)", t.state)
    } else {
        t.state.to_string()
    }
}

fn secs(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

/// Who awaits a task, in a [`TaskTree`].
///
/// # Examples
///
/// ```
/// use loopwork::runtime::Awaiter;
/// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let inner = rt.handle().spawn(async move { let _ = rx; std::future::pending::<()>().await });
/// let inner_id = inner.id();
/// let outer = rt.handle().spawn(async move { inner.await.ok(); });
/// // Wait until the outer task has awaited the inner one once.
/// while rt.task_tree().awaiter(inner_id).is_none() { std::thread::yield_now(); }
/// assert_eq!(rt.task_tree().awaiter(inner_id), Some(Awaiter::Task(outer.id())));
/// drop(tx);
/// rt.close();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Awaiter {
    /// A task awaits it (through a `Task`, a `ConcurrentFuture`, `shield`
    /// or `wait_for`).
    Task(TaskId),
    /// A foreign thread is blocked on it (`ConcurrentFuture::result*`,
    /// `Handle::block_on`, `Runtime::block_on`).
    Thread {
        /// The thread's name (`<unnamed>` if it has none).
        name: String,
        /// The blocking call, e.g. `"ConcurrentFuture::result"`.
        api: &'static str,
    },
}

/// One loop's line in a [`TaskTree`].
#[derive(Clone, Debug)]
struct LoopLine {
    index: usize,
    thread: String,
    running: Vec<String>,
    /// How long the loop has been in its current poll: the per-loop activity
    /// record of the loop diagnostics fills it in (see [`loop_busy_for`]).
    busy_for: Option<Duration>,
}

/// A snapshot of the await graph: who awaits whom, what each pending task
/// is suspended on, and the deadlock cycles. `Display` draws it like
/// `pstree` (see [`Runtime::task_tree`](crate::Runtime::task_tree)).
///
/// # Examples
///
/// ```
/// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
/// let tree = rt.task_tree();
/// assert!(tree.cycles().is_empty());
/// println!("{tree}");
/// rt.close();
/// ```
#[derive(Clone, Debug)]
pub struct TaskTree {
    tasks: Vec<TaskInfo>,
    awaiters: Vec<(TaskId, Awaiter)>,
    loops: Vec<LoopLine>,
    nodes: Vec<Node>,
    cycles: Vec<Vec<TaskId>>,
}

impl TaskTree {
    /// The live tasks in the snapshot, by id.
    pub fn tasks(&self) -> &[TaskInfo] {
        &self.tasks
    }

    /// Who awaits task `id`, if anyone (in the snapshot).
    pub fn awaiter(&self, id: TaskId) -> Option<Awaiter> {
        self.awaiters
            .iter()
            .find(|(t, _)| *t == id)
            .map(|(_, a)| a.clone())
    }

    /// What task `id` is suspended on: the line the dump draws under it
    /// (`Sleep created at src/x.rs:7:5, fires in 0.8 s`), if it has one.
    pub fn leaf(&self, id: TaskId) -> Option<String> {
        self.nodes
            .iter()
            .find(|n| n.key == id.as_u64())
            .and_then(|n| n.leaves.first().cloned())
    }

    /// The deadlock cycles: each a list of tasks where each awaits the next
    /// and the last awaits the first.
    pub fn cycles(&self) -> &[Vec<TaskId>] {
        &self.cycles
    }
}

impl fmt::Display for TaskTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in &self.loops {
            write!(f, "loop {} (thread '{}'): ", l.index, l.thread)?;
            if l.running.is_empty() {
                writeln!(f, "not running a task")?;
            } else {
                write!(f, "running {}", l.running.join(", "))?;
                if let Some(d) = l.busy_for {
                    write!(f, " for {:.1} s", d.as_secs_f64())?;
                }
                writeln!(f)?;
            }
        }
        let mut out = String::new();
        graph::render(&self.nodes, &mut out);
        f.write_str(&out)
    }
}

/// How long loop `index` has been inside its current poll or callback:
/// the per-loop activity record of the loop diagnostics (the watchdog's)
/// answers it, from any thread and while the loop is blocked. Debug mode
/// only: production reads no clock per poll, so the figure is unknown there.
fn loop_busy_for(shared: &Shared, index: usize) -> Option<Duration> {
    shared
        .sched
        .loops
        .get(index)?
        .activity()
        .map(|a| a.running_for)
}

/// Builds the await graph of the runtime behind `shared`.
pub(crate) fn build_tree(shared: &Shared) -> TaskTree {
    let tasks = collect_tasks(shared);
    let now = Instant::now();
    let mut nodes: Vec<Node> = Vec::with_capacity(tasks.len());
    let mut awaiters = Vec::new();
    let mut threads: Vec<(u64, trace::Waiter)> = Vec::new();
    let listed: std::collections::HashSet<u64> = tasks.iter().map(|t| t.id.as_u64()).collect();
    for t in &tasks {
        let by = t.awaited_by;
        if by & THREAD_NODE != 0 {
            if let Some(w) = trace::waiter(by) {
                awaiters.push((
                    t.id,
                    Awaiter::Thread {
                        name: w.thread.clone(),
                        api: w.api,
                    },
                ));
                if !threads.iter().any(|(k, _)| *k == by) {
                    threads.push((by, w));
                }
            }
        } else if by != 0 {
            awaiters.push((t.id, Awaiter::Task(TaskId::from_u64(by))));
        }
    }
    // Threads in a `block_on` of this runtime that await no task: drawn
    // with what their own future waits on.
    for node in trace::block_on_nodes(shared.sched.directory_owner()) {
        if !threads.iter().any(|(k, _)| *k == node) {
            if let Some(w) = trace::waiter(node) {
                threads.push((node, w));
            }
        }
    }
    for t in &tasks {
        let by = t.awaited_by;
        let awaiter_known =
            by != 0 && (listed.contains(&by) || threads.iter().any(|(k, _)| *k == by));
        let mut leaves = Vec::new();
        if let Some(leaf) = leaf_line(t, now, &listed, &tasks) {
            leaves.push(leaf);
        }
        let frames = crate::task::frame::frames_of(t.id.as_u64())
            .into_iter()
            .map(|(name, at)| format!("frame '{name}' at {at}"))
            .collect();
        nodes.push(Node {
            key: t.id.as_u64(),
            label: task_label(t),
            short: t.short_name(),
            awaiters: if awaiter_known { vec![by] } else { Vec::new() },
            frames,
            leaves,
            first: false,
        });
    }
    for (key, w) in &threads {
        let mut leaves = Vec::new();
        if w.polls {
            // What the `block_on`'s own future waits on, as under a task.
            match &w.leaf {
                Some(leaf) => leaves.extend(describe_leaf(leaf, now, *key, &listed, &tasks)),
                None => leaves.push("a future outside loopwork".to_owned()),
            }
        }
        nodes.push(Node {
            key: *key,
            label: format!(
                "thread '{}' (blocking) in {} at {} for {:.1} s",
                w.thread,
                w.api,
                w.location,
                now.saturating_duration_since(w.since).as_secs_f64()
            ),
            short: format!("thread '{}'", w.thread),
            awaiters: Vec::new(),
            frames: Vec::new(),
            leaves,
            first: true,
        });
    }
    let cycles = graph::cycles(&nodes)
        .into_iter()
        .map(|c| {
            c.into_iter()
                .map(|i| TaskId::from_u64(nodes[i].key))
                .collect()
        })
        .collect();
    let loops = shared
        .loops
        .iter()
        .map(|l| LoopLine {
            index: l.index,
            thread: l.thread_name.clone(),
            running: tasks
                .iter()
                .filter(|t| t.state == TaskState::Running && t.last_loop == Some(l.index))
                .map(TaskInfo::short_name)
                .collect(),
            busy_for: loop_busy_for(shared, l.index),
        })
        .collect();
    TaskTree {
        tasks,
        awaiters,
        loops,
        nodes,
        cycles,
    }
}

/// `Task #3 'b' [waiting, loop 1, stealable] spawned at src/x.rs:3:9, 4 polls,
/// last 0.950 s ago, age 1.200 s`.
fn task_label(t: &TaskInfo) -> String {
    let mut s = format!("{} [{}", t.short_name(), state_word(t));
    match t.last_loop {
        Some(l) => {
            let _ = write!(s, ", loop {l}");
        }
        None => s.push_str(", not polled yet"),
    }
    match t.pinned_to {
        Some(l) => {
            let _ = write!(s, ", pinned to loop {l}");
        }
        None => s.push_str(", stealable"),
    }
    let _ = write!(s, "] spawned at {}, {} polls", t.spawned_at, t.polls);
    if let Some(d) = t.since_last_poll {
        let _ = write!(s, ", last {:.3} s ago", d.as_secs_f64());
    }
    let _ = write!(s, ", age {:.3} s", t.age.as_secs_f64());
    s
}

/// The line under a task: what it is suspended on.
fn leaf_line(
    t: &TaskInfo,
    now: Instant,
    listed: &std::collections::HashSet<u64>,
    tasks: &[TaskInfo],
) -> Option<String> {
    if t.state != TaskState::Waiting {
        return None;
    }
    let Some(leaf) = t.leaf else {
        return Some("a future outside loopwork".to_owned());
    };
    describe_leaf(&leaf, now, t.id.as_u64(), listed, tasks)
}

fn describe_leaf(
    leaf: &Leaf,
    now: Instant,
    me: u64,
    listed: &std::collections::HashSet<u64>,
    tasks: &[TaskInfo],
) -> Option<String> {
    let at = |what: &str| match leaf.location {
        Some(l) => format!("{what} created at {l}"),
        None => what.to_owned(),
    };
    let awaited_here = |id: u64| {
        listed.contains(&id)
            && tasks
                .iter()
                .any(|t| t.id.as_u64() == id && t.awaited_by == me)
    };
    Some(match leaf.kind {
        LeafKind::Sleep => format!("{}, {}", at("Sleep"), deadline(leaf.payload, now, "fires")),
        LeafKind::WaitFor => format!(
            "{}, {}",
            at("wait_for"),
            deadline(leaf.payload, now, "times out")
        ),
        LeafKind::Read => format!("read on {}", fd_line(leaf.payload as i32)),
        LeafKind::Write => format!("write on {}", fd_line(leaf.payload as i32)),
        LeafKind::Accept => match socket_addrs(leaf.payload as i32) {
            Some((local, _)) => format!("accept on {local} (fd {})", leaf.payload),
            None => format!("accept on fd {}", leaf.payload),
        },
        LeafKind::Promise => at("PromiseFuture"),
        // The awaited task is drawn under this one: no extra line.
        LeafKind::Join if awaited_here(leaf.payload) => return None,
        LeafKind::Join => format!("awaiting Task #{} (not listed: finished)", leaf.payload),
        LeafKind::Concurrent if awaited_here(leaf.payload) => return None,
        LeafKind::Concurrent if leaf.payload == 0 => {
            "ConcurrentFuture (its work has not started yet)".to_owned()
        }
        LeafKind::Concurrent => format!("ConcurrentFuture of Task #{}", leaf.payload),
        LeafKind::Blocking => match trace::running_job(leaf.payload) {
            Some((thread, running_for)) => format!(
                "{}, running for {:.1} s on thread '{thread}' (Task #{})",
                at("blocking job"),
                running_for.as_secs_f64(),
                leaf.payload
            ),
            None => format!(
                "{}, not running: queued, or just finished (Task #{})",
                at("blocking job"),
                leaf.payload
            ),
        },
    })
}

fn deadline(payload: u64, now: Instant, verb: &str) -> String {
    let d = trace::payload_deadline(payload);
    if d >= now {
        format!("{verb} in {:.1} s", (d - now).as_secs_f64())
    } else {
        format!("{verb} {:.1} s ago (due)", (now - d).as_secs_f64())
    }
}

fn fd_line(fd: i32) -> String {
    match socket_addrs(fd) {
        Some((local, Some(peer))) => format!("fd {fd} ({local} ← {peer})"),
        Some((local, None)) => format!("fd {fd} ({local})"),
        None => format!("fd {fd}"),
    }
}

/// The local and peer address of socket `fd`, read at dump time (the fd
/// may have been closed or reused since: a diagnostic only; a failing call
/// shows the fd alone).
fn socket_addrs(fd: i32) -> Option<(SocketAddr, Option<SocketAddr>)> {
    fn read(
        fd: i32,
        call: unsafe extern "C" fn(i32, *mut libc::sockaddr, *mut libc::socklen_t) -> i32,
    ) -> Option<SocketAddr> {
        // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: the buffer and its length are valid; the call only writes
        // within `len` bytes, and on a bad fd it fails without writing.
        let rc = unsafe { call(fd, &mut storage as *mut _ as *mut libc::sockaddr, &mut len) };
        if rc != 0 {
            return None;
        }
        match storage.ss_family as i32 {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in.
                let a = unsafe { &*(&storage as *const _ as *const libc::sockaddr_in) };
                let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                Some(SocketAddr::from((ip, u16::from_be(a.sin_port))))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says the storage holds a sockaddr_in6.
                let a = unsafe { &*(&storage as *const _ as *const libc::sockaddr_in6) };
                let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
                Some(SocketAddr::from((ip, u16::from_be(a.sin6_port))))
            }
            _ => None,
        }
    }
    let local = read(fd, libc::getsockname)?;
    Some((local, read(fd, libc::getpeername)))
}

/// Logs each *new* await-graph cycle of the runtime once, at error (target
/// `"loopwork"`): `await-graph cycle (deadlock): Task #2 'a' → Task #3 'b' →
/// Task #2 'a'`. Returns how many new cycles it logged.
///
/// The debug-mode watchdog (loop diagnostics) calls this periodically;
/// until it lands, only the tests call it.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn check_cycles(shared: &Shared) -> usize {
    /// Cycles already reported, as sorted task ids (ids are unique in the
    /// process, so a reported cycle never comes back under other tasks).
    /// Bounded: the oldest are forgotten first.
    /// A process-wide diagnostic record, no protocol: a plain lock even
    /// under loom (whose locks cannot live in a static).
    static REPORTED: parking_lot::Mutex<Vec<Vec<u64>>> = parking_lot::Mutex::new(Vec::new());
    const KEEP: usize = 1024;
    let tree = build_tree(shared);
    let mut new = 0;
    for (cycle, ids) in graph::cycles(&tree.nodes).iter().zip(&tree.cycles) {
        let mut key: Vec<u64> = ids.iter().map(|i| i.as_u64()).collect();
        key.sort_unstable();
        let mut reported = REPORTED.lock();
        if reported.contains(&key) {
            continue;
        }
        if reported.len() == KEEP {
            reported.remove(0);
        }
        reported.push(key);
        drop(reported);
        new += 1;
        log::error!(
            target: "loopwork",
            "await-graph cycle (deadlock): {}",
            graph::cycle_line(&tree.nodes, cycle)
        );
    }
    new
}

/// Writes the tree of the runtime behind `shared` to stderr (the dump on a
/// signal; see `dump_signal.rs`).
pub(crate) fn dump_to_stderr(shared: &Shared) {
    use std::io::Write as _;
    let tree = build_tree(shared);
    let text = format!(
        "loopwork task tree ({} tasks, {} loops):\n{tree}",
        tree.tasks.len(),
        shared.num_loops()
    );
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Introspection (see `runtime/introspect.rs`).
impl Runtime {
    /// A snapshot of every live task of this runtime (asyncio's
    /// `all_tasks()`): queued tasks that never ran, running ones, and the
    /// suspended ones, by id. Built from shared state, so it answers while a
    /// loop is blocked.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    /// let t = rt.handle().spawn(std::future::pending::<()>());
    /// assert!(rt.all_tasks().iter().any(|i| i.id == t.id()));
    /// t.cancel();
    /// rt.close();
    /// ```
    pub fn all_tasks(&self) -> Vec<TaskInfo> {
        collect_tasks(self.shared())
    }

    /// [`all_tasks`](Runtime::all_tasks) as an aligned table: id, name,
    /// state, last loop, pinned or stealable, polls, busy and longest poll
    /// (debug mode only: production does not time polls), age, how long
    /// ago the last poll started (`LAST POLL`, see
    /// [`TaskInfo::since_last_poll`]), spawn site.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    /// let t = loopwork::task::Builder::new()
    ///     .name("forever")
    ///     .spawn_on(&rt.handle(), std::future::pending::<()>());
    /// let table = rt.dump_tasks();
    /// assert!(table.starts_with("ID"));
    /// assert!(table.contains("forever"));
    /// println!("{table}");
    /// t.cancel();
    /// rt.close();
    /// ```
    pub fn dump_tasks(&self) -> String {
        tasks_table(self.shared())
    }

    /// The await graph: which task awaits which (task joins,
    /// `ConcurrentFuture`s, `shield`, `wait_for`, foreign threads blocked in
    /// `result` or `block_on`), the loopwork future each pending task is
    /// suspended on, what each loop is running, and the deadlock cycles.
    /// `Display` draws it like `pstree`. Built from shared state: it works
    /// while a loop is blocked.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = loopwork::Runtime::builder().loops(1).build().unwrap();
    /// let t = rt.handle().spawn(loopwork::sleep(Duration::from_secs(60)));
    /// // Wait until the task has been polled once (it is then suspended).
    /// while !rt.task_tree().leaf(t.id()).is_some_and(|l| l.starts_with("Sleep")) {
    ///     std::thread::yield_now();
    /// }
    /// let tree = rt.task_tree().to_string();
    /// assert!(tree.contains("Sleep created at"), "{tree}");
    /// t.cancel();
    /// rt.close();
    /// ```
    pub fn task_tree(&self) -> TaskTree {
        build_tree(self.shared())
    }
}

/// [`Runtime::all_tasks`] of the current runtime (asyncio's `all_tasks()`).
///
/// # Panics
/// Outside a loopwork runtime (no task, no `block_on` on this thread).
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let t = loopwork::spawn(std::future::pending::<()>());
///     assert!(loopwork::all_tasks().iter().any(|i| i.id == t.id()));
///     t.cancel();
/// });
/// ```
#[track_caller]
pub fn all_tasks() -> Vec<TaskInfo> {
    let shared = context::current_shared()
        .unwrap_or_else(|| super::not_in_runtime("all_tasks", std::panic::Location::caller()));
    collect_tasks(&shared)
}

/// Prints [`Runtime::task_tree`] of the current runtime to stdout
/// (asyncio's `print_call_graph()`).
///
/// # Panics
/// Outside a loopwork runtime.
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let _t = loopwork::spawn(std::future::pending::<()>());
///     loopwork::print_call_graph();
/// });
/// ```
#[track_caller]
pub fn print_call_graph() {
    let shared = context::current_shared().unwrap_or_else(|| {
        super::not_in_runtime("print_call_graph", std::panic::Location::caller())
    });
    print!("{}", build_tree(&shared));
}

#[cfg(test)]
mod tests {
    use crate::task::{Builder, Task};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    /// Waits (yielding) until the slot holds a task handle.
    async fn take(slot: Arc<Mutex<Option<Task<()>>>>) -> Task<()> {
        loop {
            if let Some(t) = slot.lock().unwrap().take() {
                return t;
            }
            crate::task::yield_now().await;
        }
    }

    /// Spawns two tasks, "a" and "b", on a one-loop runtime, each awaiting
    /// the other's handle, and waits until the task tree shows the cycle.
    fn deadlocked_pair() -> crate::Runtime {
        let rt = crate::Runtime::builder().loops(1).build().unwrap();
        let h = rt.handle();
        let (for_a, for_b) = (Arc::new(Mutex::new(None)), Arc::new(Mutex::new(None)));
        let (slot_a, slot_b) = (for_a.clone(), for_b.clone());
        let a = Builder::new().name("a").spawn_on(&h, async move {
            let _ = take(slot_a).await.await;
        });
        let b = Builder::new().name("b").spawn_on(&h, async move {
            let _ = take(slot_b).await.await;
        });
        *for_a.lock().unwrap() = Some(b);
        *for_b.lock().unwrap() = Some(a);
        let deadline = Instant::now() + Duration::from_secs(20);
        while rt.task_tree().cycles().is_empty() {
            assert!(Instant::now() < deadline, "no cycle:\n{}", rt.task_tree());
            std::thread::yield_now();
        }
        rt
    }

    #[test]
    fn check_cycles_reports_a_new_cycle_once() {
        let rt = deadlocked_pair();
        assert_eq!(super::check_cycles(rt.shared()), 1, "a new cycle is logged");
        assert_eq!(super::check_cycles(rt.shared()), 0, "and only once");
        rt.close();
    }

    /// Every task holds the runtime's scheduler through its own: once the
    /// runtime is closed and the tasks' handles dropped, the last reference
    /// to each task (the loop's registry, the task directory, a waker) is
    /// released and the scheduler is freed with them.
    #[test]
    // Counts references with std's `Weak`: loom's `Arc` (the `loom` feature) has none.
    #[cfg(not(loopwork_loom))]
    fn a_closed_runtime_frees_its_finished_tasks_and_its_scheduler() {
        let rt = crate::Runtime::builder().loops(2).build().unwrap();
        let sched = Arc::downgrade(&rt.shared().sched);
        let tasks: Vec<Task<u32>> = (0..3)
            .map(|i| rt.handle().spawn(async move { i }))
            .collect();
        let sum: u32 = rt.block_on(async {
            let mut sum = 0;
            for t in tasks {
                sum += t.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, 3);
        rt.close();
        assert!(
            sched.upgrade().is_none(),
            "the closed runtime's scheduler is still referenced {} time(s): a task was never freed",
            sched.strong_count()
        );
    }

    /// Two tasks that await each other hold each other's join wakers. The
    /// close cancels both; each then must let go of the other's waker, or
    /// the two finished tasks (and through their schedulers the runtime)
    /// keep each other alive forever.
    #[test]
    // Counts references with std's `Weak`: loom's `Arc` (the `loom` feature) has none.
    #[cfg(not(loopwork_loom))]
    fn a_runtime_closed_over_two_tasks_awaiting_each_other_frees_them_and_itself() {
        let rt = deadlocked_pair();
        // Every task holds the runtime's scheduler through its own.
        let sched = Arc::downgrade(&rt.shared().sched);
        rt.close();
        assert!(
            sched.upgrade().is_none(),
            "the closed runtime's scheduler is still referenced {} time(s): the deadlocked tasks were not freed",
            sched.strong_count()
        );
    }
}
