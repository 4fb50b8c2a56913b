use factum::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Clone, PartialEq)]
pub struct Deposited { pub amount: u64 }

#[derive(Projection, Default, Serialize, Deserialize)]
pub struct Totals { total: u64 }

#[handlers]
impl Totals {
    #[on]
    fn deposited(&mut self, e: &Deposited) { self.total += e.amount; }
}

fn main() {}
