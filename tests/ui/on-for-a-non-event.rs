use factum::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Deposited { pub amount: u64 }

#[derive(Projection, Default, Serialize, Deserialize)]
pub struct Totals { total: u64 }

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Audited;

#[handlers]
impl Totals {
    #[on]
    fn audited(&mut self, _: &Audited) {}
}
fn main() {}
