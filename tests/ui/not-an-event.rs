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

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Audited { pub by: String }

#[handlers]
impl Account {
    #[command]
    pub fn audit(&self, by: String) -> Result<Audited, Refused> { Ok(Audited { by }) }

    #[apply]
    fn audited(&mut self, _: &Audited) {}
}
fn main() {}
