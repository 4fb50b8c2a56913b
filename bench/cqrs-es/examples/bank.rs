//! `examples/bank.rs` written with cqrs-es 0.5: the same events, commands, checks, services
//! and balances read model, on cqrs-es's MemStore (cqrs-es has no embedded durable store).
//! The compile-time figure of BENCHMARKS.md builds this file against `examples/bank.rs`
//! (`bench/compile-time.sh`).
//!
//! `cargo run --example bank` in bench/cqrs-es.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cqrs_es::event_sink::EventSink;
use cqrs_es::mem_store::MemStore;
use cqrs_es::{Aggregate, AggregateError, CqrsFramework, DomainEvent, EventEnvelope, EventStore, Query};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AccountOpened {
    pub owner: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MoneyDeposited {
    pub amount: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MoneyWithdrawn {
    pub amount: u64,
    pub reason: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AccountClosed;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BankEvent {
    AccountOpened(AccountOpened),
    MoneyDeposited(MoneyDeposited),
    MoneyWithdrawn(MoneyWithdrawn),
    AccountClosed(AccountClosed),
}

impl DomainEvent for BankEvent {
    fn event_type(&self) -> String {
        match self {
            BankEvent::AccountOpened(_) => "AccountOpened",
            BankEvent::MoneyDeposited(_) => "MoneyDeposited",
            BankEvent::MoneyWithdrawn(_) => "MoneyWithdrawn",
            BankEvent::AccountClosed(_) => "AccountClosed",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            BankEvent::MoneyWithdrawn(_) => "2",
            _ => "1",
        }
        .to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BankCommand {
    Open { owner: String },
    Deposit { amount: u64 },
    Withdraw { amount: u64, reason: String },
    CloseAccount,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BankError {
    AlreadyOpen,
    NotOpen,
    ZeroAmount,
    InsufficientFunds { balance: u64, requested: u64 },
    Refused(String),
}

impl std::fmt::Display for BankError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BankError::AlreadyOpen => write!(f, "the account is already open"),
            BankError::NotOpen => write!(f, "the account is not open"),
            BankError::ZeroAmount => write!(f, "an amount must be positive"),
            BankError::InsufficientFunds { balance, requested } => {
                write!(f, "insufficient funds: the balance is {balance}, {requested} was requested")
            }
            BankError::Refused(owner) => write!(f, "{owner} is not allowed to open an account"),
        }
    }
}

impl std::error::Error for BankError {}

pub struct BankServices {
    pub blocked_owners: Vec<String>,
}

impl BankServices {
    async fn may_open(&self, owner: &str) -> bool {
        !self.blocked_owners.iter().any(|b| b == owner)
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct BankAccount {
    open: bool,
    balance: u64,
}

impl BankAccount {
    fn ensure_open(&self) -> Result<(), BankError> {
        if self.open { Ok(()) } else { Err(BankError::NotOpen) }
    }
}

impl Aggregate for BankAccount {
    const TYPE: &'static str = "bank-account";
    type Command = BankCommand;
    type Event = BankEvent;
    type Error = BankError;
    type Services = BankServices;

    async fn handle(
        &mut self,
        command: BankCommand,
        bank: &BankServices,
        sink: &EventSink<Self>,
    ) -> Result<(), BankError> {
        match command {
            BankCommand::Open { owner } => {
                if self.open {
                    return Err(BankError::AlreadyOpen);
                }
                if !bank.may_open(&owner).await {
                    return Err(BankError::Refused(owner));
                }
                sink.write(BankEvent::AccountOpened(AccountOpened { owner }), self).await;
            }
            BankCommand::Deposit { amount } => {
                self.ensure_open()?;
                if amount == 0 {
                    return Err(BankError::ZeroAmount);
                }
                sink.write(BankEvent::MoneyDeposited(MoneyDeposited { amount }), self).await;
            }
            BankCommand::Withdraw { amount, reason } => {
                self.ensure_open()?;
                if amount == 0 {
                    return Err(BankError::ZeroAmount);
                }
                if amount > self.balance {
                    return Err(BankError::InsufficientFunds { balance: self.balance, requested: amount });
                }
                sink.write(BankEvent::MoneyWithdrawn(MoneyWithdrawn { amount, reason }), self).await;
            }
            BankCommand::CloseAccount => {
                self.ensure_open()?;
                let payout = MoneyWithdrawn { amount: self.balance, reason: "closing".to_owned() };
                sink.write(BankEvent::MoneyWithdrawn(payout), self).await;
                sink.write(BankEvent::AccountClosed(AccountClosed), self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: BankEvent) {
        match event {
            BankEvent::AccountOpened(_) => self.open = true,
            BankEvent::MoneyDeposited(e) => self.balance += e.amount,
            BankEvent::MoneyWithdrawn(e) => self.balance -= e.amount,
            BankEvent::AccountClosed(_) => self.open = false,
        }
    }
}

/// Balances of every account, folded after each commit.
#[derive(Default)]
pub struct Balances {
    by_account: Mutex<BTreeMap<String, u64>>,
}

#[async_trait]
impl Query<BankAccount> for Arc<Balances> {
    async fn dispatch(&self, aggregate_id: &str, events: &[EventEnvelope<BankAccount>]) {
        let mut balances = self.by_account.lock().unwrap();
        for envelope in events {
            match &envelope.payload {
                BankEvent::MoneyDeposited(e) => *balances.entry(aggregate_id.to_owned()).or_default() += e.amount,
                BankEvent::MoneyWithdrawn(e) => *balances.entry(aggregate_id.to_owned()).or_default() -= e.amount,
                BankEvent::AccountOpened(_) | BankEvent::AccountClosed(_) => {}
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = MemStore::<BankAccount>::default();
    let balances = Arc::new(Balances::default());
    let services = BankServices { blocked_owners: vec!["Mallory".to_owned()] };
    let cqrs = CqrsFramework::new(store.clone(), vec![Box::new(balances.clone())], services);
    let id = "acc-1";
    let commands = [
        BankCommand::Open { owner: "Ada".to_owned() },
        BankCommand::Deposit { amount: 100 },
        BankCommand::Withdraw { amount: 30, reason: "groceries".to_owned() },
        BankCommand::Withdraw { amount: 500, reason: "a car".to_owned() },
        BankCommand::CloseAccount,
    ];
    for command in commands {
        let shown = format!("{command:?}");
        match cqrs.execute(id, command).await {
            Ok(()) => println!("  ok       {shown:<50} read model: {:?}", balances.by_account.lock().unwrap().get(id)),
            Err(AggregateError::UserError(why)) => println!("  rejected {shown:<50} -> {why}"),
            Err(other) => return Err(other.into()),
        }
    }
    let refused = cqrs.execute("blocked", BankCommand::Open { owner: "Mallory".to_owned() }).await;
    println!("  rejected Open {{ owner: \"Mallory\" }} on another account -> {:?}", refused.err());
    for envelope in store.load_events(id).await? {
        println!("  v{} {:?}", envelope.sequence, envelope.payload);
    }
    let total: u64 = balances.by_account.lock().unwrap().values().sum();
    println!("money in the bank, by the read model: {total}");
    Ok(())
}
