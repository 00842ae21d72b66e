//! `task::Builder`: the options of a task to spawn (a name). Its spawn
//! methods (`spawn`, `spawn_on`, `spawn_local`) are the runtime's, in
//! `runtime/spawn.rs`.

/// Spawns tasks with options (a name, shown by diagnostics and `Task::name`).
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
}
