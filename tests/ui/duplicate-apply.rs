use factum::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Deposited { pub amount: u64 }

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Withdrawn { pub amount: u64 }

#[derive(Debug, thiserror::Error)]
#[error("refused")]
pub struct Refused;

#[derive(Aggregate, Default)]
pub struct Account { balance: u64 }

#[handlers]
impl Account {
    #[command]
    pub fn deposit(&self, amount: u64) -> Result<Deposited, Refused> { Ok(Deposited { amount }) }

    #[apply]
    fn deposited(&mut self, e: &Deposited) { self.balance += e.amount; }

    #[apply]
    fn deposited_again(&mut self, e: &Deposited) { self.balance += e.amount; }
}
fn main() {}
