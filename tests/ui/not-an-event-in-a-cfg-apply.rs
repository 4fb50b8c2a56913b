use factum::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Deposited { pub amount: u64 }

pub struct Audited { pub by: String }

#[derive(Aggregate, Default)]
pub struct Account { balance: u64 }

#[handlers]
impl Account {
    #[apply]
    fn deposited(&mut self, e: &Deposited) { self.balance += e.amount; }

    // `all()` is always true: the handler is compiled, and its type checked.
    #[cfg(all())]
    #[apply]
    fn audited(&mut self, _: &Audited) {}
}

fn main() {}
