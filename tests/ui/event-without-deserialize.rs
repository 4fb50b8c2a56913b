use factum::prelude::*;

#[derive(Event, serde::Serialize, Debug, Clone, PartialEq)]
pub struct Deposited { pub amount: u64 }

#[derive(Aggregate, Default)]
pub struct Account { balance: u64 }

#[handlers]
impl Account {
    #[command]
    pub fn deposit(&self, amount: u64) -> Result<Deposited, std::convert::Infallible> { Ok(Deposited { amount }) }

    #[apply]
    fn deposited(&mut self, e: &Deposited) { self.balance += e.amount; }
}

fn main() {}
