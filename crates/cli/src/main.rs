//! The `latchkey` command.
#![forbid(unsafe_code)]

fn main() {}
