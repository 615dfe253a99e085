//! The key server (placeholder).
#![forbid(unsafe_code)]
