//! Why a task produced no value.

use std::any::Any;
use std::fmt;

/// Why awaiting a [`Task`](crate::Task) gave no value.
///
/// # Examples
///
/// ```
/// let err = loopwork::run(async {
///     loopwork::spawn(async { panic!("boom") }).await.unwrap_err()
/// });
/// assert!(err.is_panic());
/// assert_eq!(err.to_string(), "task panicked: boom");
/// ```
#[derive(Debug)]
pub enum TaskError {
    /// The task was cancelled (by [`Task::cancel`](crate::Task::cancel), a
    /// timeout, or runtime shutdown) before it completed.
    Cancelled,
    /// The task's future panicked; the payload is kept.
    Panicked(Panic),
}

impl TaskError {
    /// Whether the task was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, TaskError::Cancelled)
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }

    /// The panic, if the task panicked.
    pub fn into_panic(self) -> Option<Panic> {
        match self {
            TaskError::Panicked(p) => Some(p),
            TaskError::Cancelled => None,
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Cancelled => f.write_str("task was cancelled"),
            TaskError::Panicked(p) => write!(f, "task panicked: {}", p.message()),
        }
    }
}

impl std::error::Error for TaskError {}

/// A caught panic: its message and its payload.
pub struct Panic {
    message: String,
    payload: Box<dyn Any + Send>,
}

// SAFETY: the payload is never reachable through `&Panic` (only by value, in
// `into_payload`), so sharing a `&Panic` between threads shares only `message`.
unsafe impl Sync for Panic {}

impl Panic {
    pub(crate) fn new(payload: Box<dyn Any + Send>) -> Panic {
        Panic {
            message: panic_message(&*payload),
            payload,
        }
    }

    /// The panic message (`"<non-string panic payload>"` if it was not a string).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The payload, to re-raise with [`std::panic::resume_unwind`].
    pub fn into_payload(self) -> Box<dyn Any + Send> {
        self.payload
    }
}

impl fmt::Debug for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Panic").field(&self.message).finish()
    }
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

#[cfg(test)]
#[cfg(not(loopwork_loom))]
mod tests {
    use super::*;

    #[test]
    fn each_error_answers_only_its_own_kind() {
        let cancelled = TaskError::Cancelled;
        assert!(cancelled.is_cancelled() && !cancelled.is_panic());
        let panicked = TaskError::Panicked(Panic::new(Box::new("boom")));
        assert!(panicked.is_panic() && !panicked.is_cancelled());
    }

    #[test]
    fn a_panic_debug_prints_its_message() {
        let p = Panic::new(Box::new(String::from("boom")));
        assert_eq!(format!("{p:?}"), "Panic(\"boom\")");
        let p = Panic::new(Box::new(7_u8));
        assert_eq!(format!("{p:?}"), "Panic(\"<non-string panic payload>\")");
    }
}
