//! A small ledger that uses every command shape the DSL accepts.

use factum::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Opened {
    pub owner: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Credited {
    pub amount: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Debited {
    pub amount: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "ledger.frozen")]
pub struct Frozen;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LedgerError {
    #[error("the ledger is frozen")]
    Frozen,
    #[error("{owner} may not open a ledger")]
    Refused { owner: String },
    #[error("cannot debit {requested}: the balance is {balance}")]
    Insufficient { balance: u64, requested: u64 },
}

/// Services handed to the repository once; async commands consult them.
#[derive(Default)]
pub struct Policy {
    pub refused: Vec<String>,
    pub fee: u64,
}

#[derive(Aggregate, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[aggregate(name = "ledger")]
pub struct Ledger {
    pub owner: Option<String>,
    pub balance: u64,
    pub frozen: bool,
    pub entries: u64,
}

#[handlers]
impl Ledger {
    /// An async command with services.
    #[command]
    pub async fn open(&self, owner: String, #[services] policy: &Policy) -> Result<Opened, LedgerError> {
        tokio::task::yield_now().await;
        if policy.refused.contains(&owner) {
            return Err(LedgerError::Refused { owner });
        }
        Ok(Opened { owner })
    }

    /// One event.
    #[command]
    pub fn credit(&self, amount: u64) -> Result<Credited, LedgerError> {
        self.not_frozen()?;
        Ok(Credited { amount })
    }

    /// A tuple of events; services in the middle of the parameters.
    #[command(name = "DebitWithFee")]
    pub fn debit(
        &self,
        amount: u64,
        #[services] policy: &Policy,
        memo: String,
    ) -> Result<(Debited, Debited), LedgerError> {
        self.not_frozen()?;
        let _ = memo;
        let requested = amount + policy.fee;
        if requested > self.balance {
            return Err(LedgerError::Insufficient { balance: self.balance, requested });
        }
        Ok((Debited { amount }, Debited { amount: policy.fee }))
    }

    /// `Option`: freezing a frozen ledger records nothing.
    #[command]
    pub fn freeze(&self) -> Result<Option<Frozen>, LedgerError> {
        Ok((!self.frozen).then_some(Frozen))
    }

    /// `Vec` of the event enum: as many events as asked for.
    #[command]
    pub fn credit_each(&self, amounts: Vec<u64>) -> Result<Vec<LedgerEvent>, LedgerError> {
        self.not_frozen()?;
        Ok(amounts.into_iter().map(|amount| Credited { amount }.into()).collect())
    }

    #[apply]
    fn opened(&mut self, e: &Opened) {
        self.owner = Some(e.owner.clone());
    }

    #[apply]
    fn credited(&mut self, e: &Credited) {
        self.balance += e.amount;
        self.entries += 1;
    }

    #[apply]
    fn debited(&mut self, e: &Debited) {
        self.balance -= e.amount;
        self.entries += 1;
    }

    #[apply]
    fn frozen(&mut self, _: &Frozen) {
        self.frozen = true;
    }

    fn not_frozen(&self) -> Result<(), LedgerError> {
        if self.frozen { Err(LedgerError::Frozen) } else { Ok(()) }
    }
}
