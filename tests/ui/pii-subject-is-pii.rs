use factum::prelude::*;
use factum::Pii;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[pii(subject = email)]
pub struct CustomerRegistered {
    pub email: Pii<String>,
    pub name: Pii<String>,
}

fn main() {}
