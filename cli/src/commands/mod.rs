//! One module per subcommand: its arguments, and how it reads the store and writes.

pub mod events;
pub mod projections;
pub mod reset;
pub mod stats;
pub mod streams;
pub mod tail;
