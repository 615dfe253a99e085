//! `en-server`: the key server (placeholder until the server lands).
fn main() {}
