use factum::prelude::*;

#[derive(Event, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Deposited { pub amount: u64 }

#[derive(Aggregate, Default)]
pub struct Account { balance: u64 }

#[handlers]
impl Account {
    #[apply]
    fn deposited(&mut self, e: &Deposited) { self.balance += e.amount; }
}

// Cloning, comparing and printing the event enum add no error of their own.
fn main() {
    let event = AccountEvent::from(Deposited { amount: 1 });
    let copy = event.clone();
    assert!(copy == event, "{event:?}");
    factum::testing::given::<Account>([copy], ());
}
