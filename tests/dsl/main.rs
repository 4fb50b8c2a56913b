//! The DSL end to end: generated code, the repository on `MemoryStore`, and the test helpers.

mod domain;
mod faults;
mod health;
mod repository;
mod shapes;
mod testing;
mod upcasting;
