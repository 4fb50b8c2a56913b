use factum::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Deposited { pub amount: u64 }

#[derive(Aggregate, Default)]
pub struct Account { balance: u64 }

#[handlers]
impl Account {
    #[comand]
    pub fn deposit(&self, amount: u64) -> Result<Deposited, std::convert::Infallible> { Ok(Deposited { amount }) }

    #[apply]
    fn deposited(&mut self, e: &Deposited) { self.balance += e.amount; }
}

// The command is still generated as if spelled right, so this adds no error of its own.
fn _uses() -> AccountCommand { AccountCommand::Deposit { amount: 1 } }
fn main() {}
