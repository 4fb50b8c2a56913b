// A three-step upcast chain: version 1 and 2 payloads decode as version 3.

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Priced")]
pub struct PricedV1 {
    pub units: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Priced", version = 2, upcast_from = PricedV1)]
pub struct PricedV2 {
    pub cents: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Priced", version = 3, upcast_from = PricedV2)]
pub struct Priced {
    pub cents: u64,
    pub currency: String,
}
