use factum::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Deposited", version = 3)]
pub struct DepositedV3 { pub amount: u64 }

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(version = 2, upcast_from = DepositedV3)]
pub struct Deposited { pub amount: u64 }

impl From<DepositedV3> for Deposited {
    fn from(d: DepositedV3) -> Self { Deposited { amount: d.amount } }
}

fn main() {}
