//! Creation backtraces: captured in debug mode only, shown trimmed.
//!
//! Invariants: a backtrace is captured only when the runtime the creating
//! thread belongs to is in debug mode ([`wanted`]); production never calls
//! `Backtrace::force_capture`. Capturing is the expensive part (a stack walk,
//! microseconds), so it happens once per call site and thread, and the
//! objects created there later share it ([`Trace::at_site`]); symbol
//! resolution is deferred to the first report that shows it.
//!
//! Trimming follows asyncio's `extract_stack` habit: the frames of loopwork
//! itself, of the standard library and of the thread start-up are dropped,
//! at most [`MAX_FRAMES`] are kept, printed most recent call last.
//!
//! This module is at the bottom of the layering: which runtime the current
//! thread belongs to is a question for the runtime, handed down once through
//! [`set_probe`].

use std::backtrace::Backtrace;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

/// Frames kept in a report (asyncio keeps 10 as well).
pub(crate) const MAX_FRAMES: usize = 10;

/// Set once any runtime has been in debug mode: until then the probe is not
/// even asked, so a production program pays one relaxed load per creation.
/// (A std atomic on purpose: a diagnostic hint, not part of any protocol the
/// loom models check.)
static ANY_DEBUG: AtomicBool = AtomicBool::new(false);

/// Answers "is the current thread's runtime in debug mode?" (set by the runtime).
static PROBE: OnceLock<fn() -> bool> = OnceLock::new();

/// Hands the debug layer the runtime's "current runtime is in debug mode" question.
pub(crate) fn set_probe(probe: fn() -> bool) {
    let _ = PROBE.set(probe);
}

/// Records that some runtime is (or was) in debug mode.
pub(crate) fn note_debug_on() {
    ANY_DEBUG.store(true, Relaxed);
}

/// Whether an object created on this thread now should carry a backtrace.
#[inline]
pub(crate) fn wanted() -> bool {
    ANY_DEBUG.load(Relaxed) && PROBE.get().is_some_and(|probe| probe())
}

/// How many call sites one thread remembers a backtrace for; past that the
/// cache starts over (a program with more spawn sites than this pays a
/// capture per creation again, which is still correct).
const SITES_PER_THREAD: usize = 4096;

thread_local! {
    /// The backtrace of the first creation at each call site on this thread.
    static BY_SITE: RefCell<HashMap<usize, Arc<Trace>>> = RefCell::new(HashMap::new());
}

/// A creation backtrace, captured in debug mode, shared by the objects
/// created at one call site on one thread (see [`Trace::at_site`]).
pub(crate) struct Trace {
    site: &'static Location<'static>,
    backtrace: Backtrace,
    /// The rendered frames, resolved on the first report.
    rendered: OnceLock<Vec<String>>,
}

impl Trace {
    /// The backtrace of the first creation at `site` on this thread,
    /// captured now if this is the first.
    ///
    /// A capture is a stack walk of some microseconds, too slow to pay per
    /// spawn (a debug-mode spawn would cost 50 times a production one): so
    /// it is paid once per call site and thread, and later objects made
    /// there share it. Their own call paths above the site may differ; the
    /// reports say "first run of this site" for that reason.
    #[inline(never)]
    pub(crate) fn at_site(site: &'static Location<'static>) -> Arc<Trace> {
        let key = site as *const Location<'static> as usize;
        let cached = BY_SITE
            .try_with(|m| m.borrow().get(&key).cloned())
            .ok()
            .flatten();
        if let Some(trace) = cached {
            return trace;
        }
        let trace = Arc::new(Trace {
            site,
            backtrace: Backtrace::force_capture(),
            rendered: OnceLock::new(),
        });
        let _ = BY_SITE.try_with(|m| {
            let mut m = m.borrow_mut();
            if m.len() >= SITES_PER_THREAD {
                m.clear();
            }
            m.insert(key, trace.clone());
        });
        trace
    }

    /// [`at_site`](Trace::at_site) if [`wanted`].
    #[inline]
    pub(crate) fn if_wanted(site: &'static Location<'static>) -> Option<Arc<Trace>> {
        if wanted() {
            Some(Trace::at_site(site))
        } else {
            None
        }
    }

    /// The call site this backtrace was captured at.
    pub(crate) fn site(&self) -> &'static Location<'static> {
        self.site
    }

    /// The frames outside loopwork and std, most recent first, at most `MAX_FRAMES`.
    pub(crate) fn user_frames(&self) -> &[String] {
        self.rendered
            .get_or_init(|| user_frames(&self.backtrace.to_string()))
    }
}

/// One indented frame per line (`function at file:line:col`), most recent
/// call last, each on a new line.
impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let frames = self.user_frames();
        if frames.is_empty() {
            return f.write_str(" (no frames outside loopwork and std)");
        }
        for frame in frames.iter().rev() {
            write!(f, "\n  {frame}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Trace")
    }
}

/// Parses std's backtrace rendering (`  N: symbol` lines, each followed by
/// an optional `at file:line:col` line) and keeps the user's frames.
fn user_frames(rendered: &str) -> Vec<String> {
    let mut frames: Vec<(String, Option<String>)> = Vec::new();
    for line in rendered.lines() {
        let line = line.trim();
        if let Some(at) = line.strip_prefix("at ") {
            if let Some(last) = frames.last_mut() {
                if last.1.is_none() {
                    last.1 = Some(at.to_owned());
                }
            }
        } else if let Some((num, symbol)) = line.split_once(": ") {
            if num.chars().all(|c| c.is_ascii_digit()) {
                frames.push((symbol.to_owned(), None));
            }
        }
    }
    frames
        .into_iter()
        .filter(|(symbol, at)| is_user_frame(symbol, at.as_deref()))
        .take(MAX_FRAMES)
        .map(|(symbol, at)| match at {
            Some(at) => format!("{symbol} at {at}"),
            None => symbol,
        })
        .collect()
}

/// Whether a frame belongs to the program rather than to loopwork, the
/// standard library, the test harness or the thread start-up.
fn is_user_frame(symbol: &str, at: Option<&str>) -> bool {
    const HIDDEN: &[&str] = &[
        "loopwork::",
        "std::",
        "core::",
        "alloc::",
        "test::",
        "backtrace::",
        "__rust",
        "rust_begin_unwind",
        "_start",
        "__libc_start",
        "start_thread",
        "clone",
        "__clone",
    ];
    // `<loopwork::time::Sleep as core::future::Future>::poll`: the
    // implementing type decides (a user's own `impl Future` is kept).
    let path = symbol.trim_start_matches('<');
    if HIDDEN.iter().any(|h| path.starts_with(h))
        || symbol == "main"
        || symbol.starts_with("<unknown>")
    {
        return false;
    }
    // An inlined frame may carry a user-looking symbol but std's source.
    !at.is_some_and(|at| at.contains("/rustc/") || at.contains("/library/std/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_frames_drop_loopwork_std_and_startup_frames() {
        let rendered = "   0: std::backtrace::Backtrace::force_capture\n\
             at /rustc/abc/library/std/src/backtrace.rs:312:13\n\
             1: loopwork::debug::backtrace::Trace::capture\n\
             at ./src/debug/backtrace.rs:55:9\n\
             2: app::make_sleep\n\
             at ./src/main.rs:7:5\n\
             3: <app::Job as core::future::future::Future>::poll\n\
             at ./src/main.rs:20:9\n\
             4: app::main::{{closure}}\n\
             at ./src/main.rs:12:5\n\
             5: std::rt::lang_start_internal\n\
             6: main\n\
             7: __libc_start_main\n";
        let frames = user_frames(rendered);
        assert_eq!(
            frames,
            vec![
                "app::make_sleep at ./src/main.rs:7:5".to_owned(),
                "<app::Job as core::future::future::Future>::poll at ./src/main.rs:20:9".to_owned(),
                "app::main::{{closure}} at ./src/main.rs:12:5".to_owned(),
            ]
        );
    }

    #[test]
    fn one_call_site_captures_once_per_thread() {
        let site = Location::caller();
        let a = Trace::at_site(site);
        let b = Trace::at_site(site);
        assert!(
            Arc::ptr_eq(&a, &b),
            "the second creation reuses the first capture"
        );
        let other = Trace::at_site(Location::caller());
        assert!(!Arc::ptr_eq(&a, &other), "another site has its own");
        assert_eq!(a.site(), site);
    }

    #[test]
    fn at_most_max_frames_are_kept() {
        let rendered: String = (0..30)
            .map(|i| format!("  {i}: app::f{i}\n             at ./src/main.rs:{i}:1\n"))
            .collect();
        assert_eq!(user_frames(&rendered).len(), MAX_FRAMES);
    }
}
