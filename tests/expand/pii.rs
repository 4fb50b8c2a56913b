// Personal data: an event whose `Pii` fields are sealed with the key of the subject its
// `customer_id` names. The derive adds an `encode` that writes the subject beside each value.

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "CustomerRegistered")]
#[pii(subject = customer_id)]
pub struct CustomerRegistered {
    pub customer_id: String,
    pub name: Pii<String>,
    pub email: Option<Pii<String>>,
}
