//! Creation backtraces: captured in debug mode only, shown trimmed.
//!
//! Invariants: a backtrace is captured only when the runtime the creating
//! thread belongs to is in debug mode ([`wanted`]); production never calls
//! `Backtrace::force_capture`. Capturing is the expensive part (a stack walk,
//! microseconds), so it happens once per call site, and the objects created
//! there later share it ([`note_site`]); symbol resolution is deferred to
//! the first report that shows it. (A std `Mutex`: a diagnostic table
//! written once per site, outside every protocol the loom models check.)
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
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};

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

/// Call sites with a backtrace, process-wide (written once per site).
static SITES: Mutex<Option<HashMap<usize, Arc<Trace>, SiteHash>>> = Mutex::new(None);

thread_local! {
    /// The sites this thread knows `SITES` has: the fast path of [`note_site`].
    static SEEN: RefCell<HashSet<usize, SiteHash>> = RefCell::new(HashSet::default());
}

/// Makes sure `site` has a creation backtrace, capturing it now if this is
/// the first creation there. Debug mode calls it for every spawn and
/// tracked future; the report looks the backtrace up by site ([`trace_of`]).
///
/// A capture is a stack walk of some microseconds, too slow to pay per
/// spawn (a debug-mode spawn would cost 50 times a production one): so it
/// is paid once per call site, and later objects made there share it.
/// Their own call paths above the site may differ; the reports say "the
/// first made at this site" for that reason. After the first creation, the
/// cost is one lookup in a thread-local set.
#[inline]
pub(crate) fn note_site(site: &'static Location<'static>) {
    let key = site_key(site);
    if SEEN.try_with(|s| s.borrow().contains(&key)).unwrap_or(true) {
        return;
    }
    capture_site(key);
}

#[cold]
#[inline(never)]
fn capture_site(key: usize) {
    let mut sites = SITES.lock().unwrap_or_else(|e| e.into_inner());
    sites
        .get_or_insert_with(HashMap::default)
        .entry(key)
        .or_insert_with(|| {
            Arc::new(Trace {
                backtrace: Backtrace::force_capture(),
                rendered: OnceLock::new(),
            })
        });
    drop(sites);
    let _ = SEEN.try_with(|s| s.borrow_mut().insert(key));
}

/// [`note_site`] if [`wanted`]; whether the site has a backtrace now.
#[inline]
pub(crate) fn note_site_if_wanted(site: &'static Location<'static>) -> bool {
    let wanted = wanted();
    if wanted {
        note_site(site);
    }
    wanted
}

/// The creation backtrace of `site`, if one was captured.
pub(crate) fn trace_of(site: &'static Location<'static>) -> Option<Arc<Trace>> {
    let sites = SITES.lock().unwrap_or_else(|e| e.into_inner());
    sites.as_ref()?.get(&site_key(site)).cloned()
}

fn site_key(site: &'static Location<'static>) -> usize {
    site as *const Location<'static> as usize
}

/// Hashes a site's address (unique, so a multiply spreads it well enough);
/// the default SipHash would cost more than the rest of a spawn.
#[derive(Default, Clone, Copy)]
pub(crate) struct SiteHash;

impl BuildHasher for SiteHash {
    type Hasher = SiteHasher;
    fn build_hasher(&self) -> SiteHasher {
        SiteHasher(0)
    }
}

pub(crate) struct SiteHasher(u64);

impl Hasher for SiteHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_right(29);
    }
}

/// A creation backtrace, captured in debug mode, shared by the objects
/// created at one call site (see [`note_site`]).
pub(crate) struct Trace {
    backtrace: Backtrace,
    /// The rendered frames, resolved on the first report.
    rendered: OnceLock<Vec<String>>,
}

impl Trace {
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
    fn one_call_site_captures_once() {
        let site = Location::caller();
        assert!(
            trace_of(site).is_none(),
            "nothing captured before the first creation"
        );
        note_site(site);
        let a = trace_of(site).expect("captured at the first creation");
        note_site(site);
        let b = trace_of(site).unwrap();
        assert!(
            Arc::ptr_eq(&a, &b),
            "the second creation reuses the first capture"
        );
        assert!(
            trace_of(Location::caller()).is_none(),
            "another site has its own"
        );
    }

    #[test]
    fn at_most_max_frames_are_kept() {
        let rendered: String = (0..30)
            .map(|i| format!("  {i}: app::f{i}\n             at ./src/main.rs:{i}:1\n"))
            .collect();
        assert_eq!(user_frames(&rendered).len(), MAX_FRAMES);
    }
}
