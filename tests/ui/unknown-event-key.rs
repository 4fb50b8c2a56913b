use factum::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(nmae = "Deposited", verison = 2, colour = "blue")]
pub struct Deposited { pub amount: u64 }

fn main() {}
