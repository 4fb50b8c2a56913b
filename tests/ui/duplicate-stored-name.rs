use factum::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Moved")]
pub struct Deposited { pub amount: u64 }

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Moved")]
pub struct Withdrawn { pub amount: u64 }

#[derive(Aggregate, Default)]
pub struct Account { balance: u64 }

#[handlers]
impl Account {
    #[apply]
    fn deposited(&mut self, e: &Deposited) { self.balance += e.amount; }

    #[apply]
    fn withdrawn(&mut self, e: &Withdrawn) { self.balance -= e.amount; }
}

fn main() {}
