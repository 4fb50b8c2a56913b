use factum::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(version = 0, name = "")]
pub struct Deposited { pub amount: u64 }

fn main() {}
