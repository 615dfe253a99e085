//! Holder package for the end-to-end tests in `tests/`.
#![forbid(unsafe_code)]
