use factum::prelude::*;
use factum::Pii;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CustomerId { pub number: u64 }

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[pii(subject = customer)]
pub struct CustomerRegistered {
    pub customer: CustomerId,
    pub name: Pii<String>,
}

fn main() {}
