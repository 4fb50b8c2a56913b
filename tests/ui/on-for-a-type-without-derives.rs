use factum::prelude::*;
use serde::{Deserialize, Serialize};

pub struct Audited { pub by: String }

#[derive(Projection, Default, Serialize, Deserialize)]
pub struct Totals { total: u64 }

#[handlers]
impl Totals {
    #[on]
    fn audited(&mut self, _: &Audited) { self.total += 1; }
}

fn main() {}
