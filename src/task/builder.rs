//! `task::Builder`: the options of a task to spawn (a name, whether it is a
//! background task). Its spawn methods (`spawn`, `spawn_on`, `spawn_local`,
//! `spawn_fallible`, …) are the runtime's, in `runtime/spawn.rs`.

/// Spawns tasks with options: a name (shown by diagnostics and
/// [`Task::name`](crate::Task::name)) and whether the task is a
/// [background](Builder::background) task.
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let t = loopwork::task::Builder::new().name("fetch").spawn(async { 3 });
///     assert_eq!(t.name(), Some("fetch"));
///     assert_eq!(t.await.unwrap(), 3);
/// });
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    pub(crate) name: Option<Box<str>>,
    pub(crate) background: bool,
    /// Set only by `spawn_fallible`, for the task's own output type.
    pub(crate) describe_err: Option<super::DescribeErr>,
}

impl Builder {
    /// A builder with no name set.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the task.
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into().into_boxed_str());
        self
    }

    /// Marks the task as a background task: one that is expected to be
    /// still pending when the runtime closes (a server's accept loop, a
    /// periodic flusher), so its destruction at shutdown is not reported as
    /// `Task was destroyed but it is pending!`. Default `false`.
    ///
    /// Tasks it spawns are not background tasks unless they are spawned with
    /// this flag too.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// loopwork::run(async {
    ///     loopwork::task::Builder::new()
    ///         .name("heartbeat")
    ///         .background(true)
    ///         .spawn(async {
    ///             loop {
    ///                 loopwork::sleep(Duration::from_millis(10)).await;
    ///             }
    ///         })
    ///         .detach();
    /// }); // the heartbeat is destroyed here, quietly
    /// ```
    pub fn background(mut self, background: bool) -> Builder {
        self.background = background;
        self
    }
}
