use factum::prelude::*;

#[derive(Projection, Default)]
pub struct Totals { total: u64 }

fn main() {}
