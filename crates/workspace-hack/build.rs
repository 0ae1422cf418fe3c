// Empty: the build-dependencies in Cargo.toml only unify host-side features
// (proc macros and build scripts).
fn main() {}
