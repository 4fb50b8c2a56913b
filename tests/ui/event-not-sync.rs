use factum::prelude::*;
use serde::{Deserialize, Serialize};
use std::cell::Cell;

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Deposited { pub amount: Cell<u64> }

#[derive(Aggregate, Default)]
pub struct Account { balance: u64 }

#[handlers]
impl Account {
    #[command]
    pub fn deposit(&self, amount: u64) -> Result<Deposited, std::convert::Infallible> { Ok(Deposited { amount: Cell::new(amount) }) }

    #[apply]
    fn deposited(&mut self, e: &Deposited) { self.balance += e.amount.get(); }
}

fn main() {}
