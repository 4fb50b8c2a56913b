//! A bank account, event-sourced: open, deposit, withdraw, a rejected overdraft, close.
//!
//! Run it with `cargo run --example bank`. The events go to the SQLite file `bank.db` (or
//! the path given as the first argument, or in `FACTUM_BANK_DB`); run it twice and the
//! second run finds the first run's account still there. `RUST_LOG=factum=debug` prints a
//! line for each command on stderr, with its span: aggregate, stream, command, attempts and
//! version. `examples/bank-expanded.md` walks through what the macros write for this file.

use factum::prelude::*;
use std::sync::Arc;

use factum::{EventFilter, SqliteStore};
use serde::{Deserialize, Serialize};

// ---- Events: facts, stored under a stable name and schema version. ----

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AccountOpened {
    pub owner: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MoneyDeposited {
    pub amount: u64,
}

/// The first schema of a withdrawal, before it carried a reason. Old streams still hold it.
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

// ---- The aggregate: state, commands that decide, and apply methods that evolve. ----

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
pub struct BankServices {
    pub blocked_owners: Vec<String>,
}

impl BankServices {
    /// Stands for a call to another system (a sanctions list, say).
    async fn may_open(&self, owner: &str) -> bool {
        !self.blocked_owners.iter().any(|b| b == owner)
    }
}

#[derive(Aggregate, Default, Debug, Clone, Serialize, Deserialize)]
#[aggregate(name = "bank-account", snapshot_every = 500)]
pub struct BankAccount {
    open: bool,
    balance: u64,
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

// ---- A read model: balances of every account, kept up to date inline. ----

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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // factum's logs go to stderr, filtered by RUST_LOG: `RUST_LOG=factum=debug` adds one line
    // a command. Unset, only warnings show, so the output below is the demo's own.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();

    let path = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("FACTUM_BANK_DB").ok())
        .unwrap_or_else(|| "bank.db".to_owned());
    let store = SqliteStore::open(&path).await?;

    // What earlier runs left in the file.
    let opened = store.read_all(0, EventFilter::names(&["AccountOpened"]), usize::MAX).await?;
    println!("{path}: {} events from earlier runs, {} accounts", store.head_position().await?, opened.len());
    for earlier in &opened {
        println!("  found {} (opened at position {})", earlier.meta.stream_id, earlier.meta.position);
    }

    let services = BankServices { blocked_owners: vec!["Mallory".to_owned()] };
    let balances = Arc::new(ProjectionRunner::<Balances, _>::start(store.clone()).await?);
    balances.catch_up().await?;
    let accounts = Repository::<BankAccount, _>::with_services(store, services).with_inline(balances.clone());

    let id = format!("acc-{}", opened.len() + 1);
    println!("\ncommands on {id}:");
    let commands = [
        BankAccountCommand::Open { owner: "Ada".to_owned() },
        BankAccountCommand::Deposit { amount: 100 },
        BankAccountCommand::Withdraw { amount: 30, reason: "groceries".to_owned() },
        BankAccountCommand::Withdraw { amount: 500, reason: "a car".to_owned() },
        BankAccountCommand::CloseAccount,
    ];
    for command in commands {
        let shown = format!("{command:?}");
        match accounts.execute(&id, command).await {
            Ok(committed) => {
                println!("  ok       {shown:<50} -> version {}: {:?}", committed.version, committed.events);
                let query = BalancesQuery::Balance { account: id.clone() };
                println!("           read model: {:?}", balances.ask(query).await);
            }
            Err(ExecuteError::Rejected(why)) => println!("  rejected {shown:<50} -> {why}"),
            Err(other) => return Err(other.into()),
        }
    }
    let refused = accounts.execute("blocked", BankAccountCommand::Open { owner: "Mallory".to_owned() }).await;
    println!("  rejected Open {{ owner: \"Mallory\" }} on another account -> {}", refused.unwrap_err());

    println!("\nthe stream {}/{id}:", BankAccount::NAME);
    for envelope in accounts.events(&id).await? {
        let meta = &envelope.meta;
        println!(
            "  v{} (position {}) {} v{}: {:?}",
            meta.stream_version, meta.position, meta.event_name, meta.event_version, envelope.event
        );
    }
    let state = accounts.load(&id).await?.expect("the account has events");
    println!("\nstate at version {}: {:?}", state.version, state.state);
    let earlier = accounts.load_at(&id, 2).await?.expect("the account has two events");
    println!("state at version 2: {:?}", earlier.state);
    println!("money in the bank, by the read model: {:?}", balances.ask(BalancesQuery::Total).await);
    // The read model's checkpoint is written every 1,000 events or second; on a clean
    // shutdown, write it now, so that the next run starts from here without replaying.
    balances.save_checkpoint().await?;
    println!("\nrun it again: the events above are still in {path}");
    Ok(())
}

/// The stored shape of the bank's events is locked in `examples/bank.events.lock`: a field
/// changed under an unchanged version fails this test, with the fix. After adding an event
/// or a version on purpose, write the file again with `FACTUM_BLESS=1 cargo test --example bank`.
#[cfg(test)]
mod tests {
    #[test]
    fn stored_events_keep_their_shape() {
        // Relative to the package's root, where `cargo test` runs: in a package of your own,
        // `check("events.lock")`.
        factum::schema::check("examples/bank.events.lock").unwrap();
    }
}
