use factum::prelude::*;
use serde::{Deserialize, Serialize};

pub struct Audited { pub by: String }

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Withdrawn { pub amount: u64 }

#[derive(Aggregate, Default)]
pub struct Account { audits: u64 }

#[handlers]
impl Account {
    #[command]
    pub fn audit(&self, by: String) -> Result<Audited, std::convert::Infallible> { Ok(Audited { by }) }

    #[apply]
    fn audited(&mut self, _: &Audited) { self.audits += 1; }

    #[apply]
    fn withdrawn(&mut self, _: &Withdrawn) {}
}

fn main() {}
