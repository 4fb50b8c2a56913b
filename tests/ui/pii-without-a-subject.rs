use factum::prelude::*;
use factum::Pii;
use serde::{Deserialize, Serialize};

// Each field holding personal data is reported, and nothing else.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct OrderShipped {
    pub order_id: String,
    pub recipient: Pii<String>,
    pub phone: Option<Pii<String>>,
    pub weight_grams: u32,
}

fn main() {}
