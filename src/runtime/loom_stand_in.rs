//! Under loom the runtime is not built, only the protocols that loom
//! models; what they call of it stands in here, with the same signatures.

use std::panic::Location;

/// `handle::check_blocking_wait`: under loom there is no loop thread to
/// warn about.
pub(crate) fn check_blocking_wait(_api: &str, _location: &'static Location<'static>) {}
