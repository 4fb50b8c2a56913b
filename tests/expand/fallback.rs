// Mistakes: the errors come out as `compile_error!`s at the user's tokens, and the enums and
// impls are still declared (bodies `unreachable!()`), so uses of them add no errors.

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(nmae = "Deposited")]
pub struct Deposited {
    pub amount: u64,
}

#[derive(Aggregate, Default)]
pub struct Account {
    balance: u64,
}

#[handlers]
impl Account {
    #[command]
    pub fn deposit(&mut self, amount: u64, note: &str) -> Result<Deposited, Refused> {
        Ok(Deposited { amount })
    }

    #[apply]
    fn deposited(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
}
