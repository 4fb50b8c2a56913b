use factum::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Deposited { pub amount: u64 }

pub struct Totals { total: u64 }

#[handlers]
impl Totals {
    #[on]
    fn deposited(&mut self, e: &Deposited) { self.total += e.amount; }

    #[query]
    pub fn total(&self) -> u64 { self.total }
}

fn main() {}
