use factum::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Deposited { pub amount: u64 }

#[derive(Aggregate, Default)]
pub struct Account<T> { balance: T }

#[handlers]
impl<T> Account<T> {
    #[apply]
    fn deposited(&mut self, _: &Deposited) {}
}

fn main() {}
