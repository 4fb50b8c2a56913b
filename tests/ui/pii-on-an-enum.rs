use factum::prelude::*;
use factum::Pii;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum ContactChanged {
    Email { customer_id: String, email: Pii<String> },
    Cleared { customer_id: String },
}

fn main() {}
