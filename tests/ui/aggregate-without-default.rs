use factum::prelude::*;

#[derive(Aggregate)]
pub struct Account { balance: u64 }

fn main() {}
