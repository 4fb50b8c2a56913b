// A projection: handlers with and without metadata, one narrowed to an aggregate, a
// fallible one, and queries with and without parameters.

#[derive(Projection, Default, Serialize, Deserialize)]
#[projection(name = "balances")]
pub struct Balances {
    by_account: BTreeMap<String, u64>,
}

#[handlers]
impl Balances {
    #[on(aggregate = "bank-account")]
    fn deposited(&mut self, e: &MoneyDeposited, meta: &EventMeta) {
        *self.by_account.entry(meta.stream_id.clone()).or_default() += e.amount;
    }

    #[on]
    fn withdrawn(&mut self, e: &MoneyWithdrawn, meta: &EventMeta) -> Result<(), String> {
        let balance = self.by_account.entry(meta.stream_id.clone()).or_default();
        *balance = balance.checked_sub(e.amount).ok_or("a balance went negative")?;
        Ok(())
    }

    #[on]
    fn closed(&mut self, _: &AccountClosed) {}

    /// The balance of one account.
    #[query]
    pub fn balance(&self, account: String) -> Option<u64> {
        self.by_account.get(&account).copied()
    }

    #[query]
    pub fn total(&self) -> u64 {
        self.by_account.values().sum()
    }
}
