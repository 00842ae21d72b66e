//! The run queues: crossbeam-deque in production, a loom-modelled stand-in
//! with the same interface under `cfg(loopwork_loom)` (capacity shrunk to 4,
//! so models stay small while overflow paths are still explored).
//!
//! * `Worker` / `Stealer`: a loop's own FIFO deque; the owner pushes and pops,
//!   siblings steal about half of it when idle.
//! * `Injector`: a multi-producer FIFO queue, used for the runtime's global
//!   injection queue and for each loop's inbox.

crate::sync::cfg_not_loom! {
    pub(crate) use crossbeam_deque::{Injector, Steal, Stealer, Worker};
}

crate::sync::cfg_loom! {
    mod model;

    pub(crate) use model::{Injector, Steal, Stealer, Worker};
}
