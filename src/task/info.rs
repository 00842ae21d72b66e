//! `TaskInfo`: a snapshot of one task, as `all_tasks()` returns it.

use super::trace::Leaf;
use super::{Header, TaskId, TaskKind};
use std::fmt;
use std::panic::Location;
use std::time::Duration;

/// Where a task is in its life, as seen by a snapshot.
///
/// # Examples
///
/// ```
/// use loopwork::task::TaskState;
/// assert_eq!(TaskState::Waiting.to_string(), "waiting");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskState {
    /// In a run queue: woken (or just spawned) and not yet polled.
    Scheduled,
    /// Being polled by a loop right now.
    Running,
    /// Suspended: its last poll returned `Pending` and nothing has woken it.
    Waiting,
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskState::Scheduled => "scheduled",
            TaskState::Running => "running",
            TaskState::Waiting => "waiting",
        })
    }
}

/// A snapshot of one live task, from [`all_tasks`](crate::runtime::all_tasks) or
/// [`Runtime::all_tasks`](crate::Runtime::all_tasks).
///
/// Taken from shared state (every task is listed in a directory any thread
/// can read), so it works while a loop is blocked. The figures are a
/// snapshot: a task may have moved on by the time you read them.
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let t = loopwork::task::Builder::new()
///         .name("idle")
///         .spawn(std::future::pending::<()>());
///     let tasks = loopwork::all_tasks();
///     let info = tasks.iter().find(|i| i.id == t.id()).expect("listed");
///     assert_eq!(info.name.as_deref(), Some("idle"));
///     assert!(info.pinned_to.is_none(), "spawn makes a stealable task");
///     t.cancel();
/// });
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TaskInfo {
    /// The task's id.
    pub id: TaskId,
    /// Its name, if it was given one ([`Builder::name`](crate::task::Builder::name)).
    pub name: Option<String>,
    /// Scheduled, running or waiting.
    pub state: TaskState,
    /// Whether [`Task::cancel`](crate::Task::cancel) was called on it (it
    /// is dropped at its next scheduling point).
    pub cancel_requested: bool,
    /// The loop that polled it last (`None`: never polled yet).
    pub last_loop: Option<usize>,
    /// `Some(i)`: pinned to loop `i` (`spawn_local` and the
    /// `*_threadsafe` handoffs); `None`: stealable by any loop.
    pub pinned_to: Option<usize>,
    /// Where it was spawned.
    pub spawned_at: &'static Location<'static>,
    /// Completed polls.
    pub polls: u32,
    /// Total time spent in its polls. **Debug mode only**: production
    /// does not read the clock per poll, and this stays zero.
    pub busy: Duration,
    /// Its longest single poll. **Debug mode only**, as `busy`.
    pub longest_poll: Duration,
    /// Time since it was spawned, from a coarse clock (resolution one
    /// kernel tick, 1-4 ms). Production reads no clock per spawn on a loop
    /// thread, nor per poll: a task spawned by a task is stamped with the
    /// time its loop's iteration began (as for `since_last_poll`), one
    /// spawned elsewhere pays one cheap clock read. Kept in 32-bit milliseconds: exact
    /// up to 49.7 days, read modulo 49.7 days beyond.
    pub age: Duration,
    /// How long ago its last poll started (`None`: never polled yet), from
    /// the same coarse clock as `age` and never more than it. Production
    /// reads no clock per poll: a loop reads the coarse clock once per
    /// iteration and stamps each task it polls with that reading, so this
    /// can overstate the time by what the loop ran earlier in the same
    /// iteration (a few polls, usually microseconds; more if one of them
    /// blocked the loop) plus one tick. Exact up to 49.7 days (32-bit
    /// milliseconds); for a running task it is how long its poll has run.
    pub since_last_poll: Option<Duration>,
    /// The loopwork future its last poll was suspended on.
    pub(crate) leaf: Option<Leaf>,
    /// Who awaits it (see `trace.rs`).
    pub(crate) awaited_by: u64,
}

impl TaskInfo {
    /// A snapshot of the task behind `header`; `None` once it is complete.
    pub(crate) fn from_header(h: &Header) -> Option<TaskInfo> {
        let snap = h.state.load();
        if snap.is_complete() {
            return None;
        }
        let state = if snap.is_running() {
            TaskState::Running
        } else if snap.is_notified() {
            TaskState::Scheduled
        } else {
            TaskState::Waiting
        };
        let pinned_to = match h.meta.kind() {
            TaskKind::Pinned(i) => Some(i),
            _ => None,
        };
        let now = super::trace::coarse_now_ms();
        let last_loop = h.meta.stats.last_loop();
        Some(TaskInfo {
            id: h.meta.id,
            name: h.meta.name().map(str::to_owned),
            state,
            cancel_requested: snap.is_cancelled(),
            last_loop,
            pinned_to,
            spawned_at: h.meta.location,
            polls: h.meta.stats.polls(),
            busy: h.meta.stats.busy(),
            longest_poll: h.meta.stats.longest_poll(),
            age: h.trace.age(now),
            since_last_poll: last_loop.map(|_| h.trace.since_poll(now)),
            leaf: h.trace.leaf(),
            awaited_by: h.trace.awaited_by(),
        })
    }

    /// `Task #7 'fetch'`: how dumps name the task.
    pub(crate) fn short_name(&self) -> String {
        match &self.name {
            Some(n) => format!("Task #{} '{n}'", self.id),
            None => format!("Task #{}", self.id),
        }
    }
}
