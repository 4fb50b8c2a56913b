use factum::prelude::*;

#[derive(Aggregate, Default)]
#[aggregate(snapshot_every = 100)]
pub struct Account { balance: u64 }

fn main() {}
