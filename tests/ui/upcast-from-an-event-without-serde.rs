use factum::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Clone, PartialEq)]
#[event(name = "Withdrawn")]
pub struct WithdrawnV1 { pub amount: u64 }

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(version = 2, upcast_from = WithdrawnV1)]
pub struct Withdrawn { pub amount: u64 }
impl From<WithdrawnV1> for Withdrawn { fn from(o: WithdrawnV1) -> Self { Self { amount: o.amount } } }

fn main() {}
