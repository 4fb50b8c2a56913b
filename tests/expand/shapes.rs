// Every command shape, services in the middle of the parameters, an async command, a cfg'd
// handler, an explicit visibility, and an aggregate with no command at all.

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Credited {
    pub amount: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "ledger.frozen")]
pub struct Frozen;

#[derive(Aggregate, Default)]
#[aggregate(name = "ledger")]
pub struct Ledger {
    balance: u64,
}

#[handlers(vis = "pub(crate)")]
impl Ledger {
    #[command]
    pub async fn credit(&self, amount: u64, #[services] policy: &Policy, memo: String) -> Result<Credited, LedgerError> {
        policy.check(&memo).await?;
        Ok(Credited { amount })
    }

    #[command(name = "Split")]
    pub fn credit_twice(&self, amount: u64) -> Result<(Credited, Credited), LedgerError> {
        Ok((Credited { amount }, Credited { amount }))
    }

    #[command]
    pub fn freeze(&self) -> Result<Option<Frozen>, LedgerError> {
        Ok(Some(Frozen))
    }

    #[command]
    pub fn credit_each(&self, amounts: Vec<u64>) -> Result<Vec<LedgerEvent>, LedgerError> {
        Ok(amounts.into_iter().map(|amount| Credited { amount }.into()).collect())
    }

    #[cfg(feature = "audit")]
    #[apply]
    fn frozen(&mut self, _: &Frozen) {}

    #[apply]
    fn credited(&mut self, e: &Credited) {
        self.balance += e.amount;
    }
}

// Only events: no commands, so the command enum is empty and `Error` is `Infallible`.
#[derive(Aggregate, Default)]
struct Archive;

#[handlers]
impl Archive {
    #[apply]
    fn credited(&mut self, _: &Credited) {}
}
