//! Benchmarks of saas-core (filled in below).
fn main() {}
