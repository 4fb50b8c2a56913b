//! The bank of `examples/bank.rs`, written with factum's macros: the generated side of every
//! comparison. Same events, commands, checks and read model as the example.

use factum::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AccountOpened {
    pub owner: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MoneyDeposited {
    pub amount: u64,
}

/// The first schema of a withdrawal, before it carried a reason.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "MoneyWithdrawn")]
pub struct MoneyWithdrawnV1 {
    pub amount: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "MoneyWithdrawn", version = 2, upcast_from = MoneyWithdrawnV1)]
pub struct MoneyWithdrawn {
    pub amount: u64,
    pub reason: String,
}

impl From<MoneyWithdrawnV1> for MoneyWithdrawn {
    fn from(old: MoneyWithdrawnV1) -> Self {
        MoneyWithdrawn { amount: old.amount, reason: "unspecified".to_owned() }
    }
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AccountClosed;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BankError {
    #[error("the account is already open")]
    AlreadyOpen,
    #[error("the account is not open")]
    NotOpen,
    #[error("an amount must be positive")]
    ZeroAmount,
    #[error("insufficient funds: the balance is {balance}, {requested} was requested")]
    InsufficientFunds { balance: u64, requested: u64 },
    #[error("{0} is not allowed to open an account")]
    Refused(String),
}

/// What commands may consult; handed to the repository once.
#[derive(Debug, Clone, Default)]
pub struct BankServices {
    pub blocked_owners: Vec<String>,
}

impl BankServices {
    /// The services of every benchmark: one blocked owner, as in the example.
    pub fn standard() -> Self {
        BankServices { blocked_owners: vec!["Mallory".to_owned()] }
    }

    /// Stands for a call to another system (a sanctions list, say).
    pub async fn may_open(&self, owner: &str) -> bool {
        !self.blocked_owners.iter().any(|b| b == owner)
    }
}

#[derive(Aggregate, Default, Debug, Clone, Serialize, Deserialize)]
#[aggregate(name = "bank-account", snapshot_every = 500)]
pub struct BankAccount {
    pub open: bool,
    pub balance: u64,
}

#[handlers]
impl BankAccount {
    /// Opens the account for `owner`, unless the bank refuses them.
    #[command]
    pub async fn open(&self, owner: String, #[services] bank: &BankServices) -> Result<AccountOpened, BankError> {
        if self.open {
            return Err(BankError::AlreadyOpen);
        }
        if !bank.may_open(&owner).await {
            return Err(BankError::Refused(owner));
        }
        Ok(AccountOpened { owner })
    }

    #[command]
    pub fn deposit(&self, amount: u64) -> Result<MoneyDeposited, BankError> {
        self.ensure_open()?;
        if amount == 0 {
            return Err(BankError::ZeroAmount);
        }
        Ok(MoneyDeposited { amount })
    }

    #[command]
    pub fn withdraw(&self, amount: u64, reason: String) -> Result<MoneyWithdrawn, BankError> {
        self.ensure_open()?;
        if amount == 0 {
            return Err(BankError::ZeroAmount);
        }
        if amount > self.balance {
            return Err(BankError::InsufficientFunds { balance: self.balance, requested: amount });
        }
        Ok(MoneyWithdrawn { amount, reason })
    }

    /// Pays out what is left, then closes the account.
    #[command(name = "CloseAccount")]
    pub fn close(&self) -> Result<(MoneyWithdrawn, AccountClosed), BankError> {
        self.ensure_open()?;
        Ok((MoneyWithdrawn { amount: self.balance, reason: "closing".to_owned() }, AccountClosed))
    }

    #[apply]
    fn opened(&mut self, _: &AccountOpened) {
        self.open = true;
    }

    #[apply]
    fn deposited(&mut self, e: &MoneyDeposited) {
        self.balance += e.amount;
    }

    #[apply]
    fn withdrawn(&mut self, e: &MoneyWithdrawn) {
        self.balance -= e.amount;
    }

    #[apply]
    fn closed(&mut self, _: &AccountClosed) {
        self.open = false;
    }

    fn ensure_open(&self) -> Result<(), BankError> {
        if self.open { Ok(()) } else { Err(BankError::NotOpen) }
    }
}

/// Balances of every account, as in the example.
#[derive(Projection, Default, Debug, Clone, Serialize, Deserialize)]
#[projection(name = "balances")]
pub struct Balances {
    pub by_account: std::collections::BTreeMap<String, u64>,
}

#[handlers]
impl Balances {
    #[on(aggregate = "bank-account")]
    fn deposited(&mut self, e: &MoneyDeposited, meta: &EventMeta) {
        *self.by_account.entry(meta.stream_id.clone()).or_default() += e.amount;
    }

    #[on(aggregate = "bank-account")]
    fn withdrawn(&mut self, e: &MoneyWithdrawn, meta: &EventMeta) {
        *self.by_account.entry(meta.stream_id.clone()).or_default() -= e.amount;
    }

    /// The balance of one account, if it ever saw money.
    #[query]
    pub fn balance(&self, account: String) -> Option<u64> {
        self.by_account.get(&account).copied()
    }

    /// All money in the bank.
    #[query]
    pub fn total(&self) -> u64 {
        self.by_account.values().sum()
    }
}

/// The command script of the dispatch figure: every command of the domain, accepted and
/// rejected ones, in a realistic order (it ends where it started: closed).
pub fn script() -> Vec<BankAccountCommand> {
    vec![
        BankAccountCommand::Open { owner: "Ada".to_owned() },
        BankAccountCommand::Deposit { amount: 100 },
        BankAccountCommand::Withdraw { amount: 30, reason: "groceries".to_owned() },
        BankAccountCommand::Deposit { amount: 0 },
        BankAccountCommand::Withdraw { amount: 500, reason: "a car".to_owned() },
        BankAccountCommand::Deposit { amount: 7 },
        BankAccountCommand::Open { owner: "Ada".to_owned() },
        BankAccountCommand::CloseAccount,
    ]
}
