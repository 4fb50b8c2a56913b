use factum::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Deposited { pub amount: u64 }

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(version = 2, upcast_from = Deposited)]
pub struct Withdrawn { pub amount: u64 }

impl From<Deposited> for Withdrawn {
    fn from(d: Deposited) -> Self { Withdrawn { amount: d.amount } }
}

fn main() {}
