use factum::prelude::*;

#[derive(Aggregate, Default)]
#[aggregate(name = "account", snapshot = 100)]
pub struct Account { balance: u64 }

fn main() {}
