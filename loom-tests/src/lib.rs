//! loom models
