use factum::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Deposited")]
pub struct DepositedV1 { pub cents: u64 }

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(version = 2, upcast_from = DepositedV1)]
pub struct Deposited { pub amount: u64 }

fn main() {}
