use factum::prelude::*;
use factum::Pii;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[pii(subject = custmer_id)]
pub struct CustomerRegistered {
    pub customer_id: String,
    pub name: Pii<String>,
}

fn main() {}
