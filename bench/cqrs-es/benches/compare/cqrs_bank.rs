//! The bank of `factum_bench::bank` written against cqrs-es 0.5: the same events (the very
//! same structs), the same commands and checks, the same services, and a balances read
//! model wired as cqrs-es wires one, a `Query` dispatched after each commit.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent, EventEnvelope, Query};
use serde::{Deserialize, Serialize};

use factum_bench::bank::{AccountClosed, AccountOpened, BankError, BankServices, MoneyDeposited, MoneyWithdrawn};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CqrsBankEvent {
    AccountOpened(AccountOpened),
    MoneyDeposited(MoneyDeposited),
    MoneyWithdrawn(MoneyWithdrawn),
    AccountClosed(AccountClosed),
}

impl DomainEvent for CqrsBankEvent {
    fn event_type(&self) -> String {
        match self {
            CqrsBankEvent::AccountOpened(_) => "AccountOpened",
            CqrsBankEvent::MoneyDeposited(_) => "MoneyDeposited",
            CqrsBankEvent::MoneyWithdrawn(_) => "MoneyWithdrawn",
            CqrsBankEvent::AccountClosed(_) => "AccountClosed",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            CqrsBankEvent::MoneyWithdrawn(_) => "2",
            _ => "1",
        }
        .to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CqrsBankCommand {
    Open { owner: String },
    Deposit { amount: u64 },
    Withdraw { amount: u64, reason: String },
    CloseAccount,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct CqrsBankAccount {
    open: bool,
    balance: u64,
}

impl CqrsBankAccount {
    fn ensure_open(&self) -> Result<(), BankError> {
        if self.open { Ok(()) } else { Err(BankError::NotOpen) }
    }

    pub fn balance(&self) -> u64 {
        self.balance
    }
}

impl Aggregate for CqrsBankAccount {
    const TYPE: &'static str = "bank-account";
    type Command = CqrsBankCommand;
    type Event = CqrsBankEvent;
    type Error = BankError;
    type Services = BankServices;

    async fn handle(
        &mut self,
        command: CqrsBankCommand,
        services: &BankServices,
        sink: &EventSink<Self>,
    ) -> Result<(), BankError> {
        match command {
            CqrsBankCommand::Open { owner } => {
                if self.open {
                    return Err(BankError::AlreadyOpen);
                }
                if !services.may_open(&owner).await {
                    return Err(BankError::Refused(owner));
                }
                sink.write(CqrsBankEvent::AccountOpened(AccountOpened { owner }), self).await;
            }
            CqrsBankCommand::Deposit { amount } => {
                self.ensure_open()?;
                if amount == 0 {
                    return Err(BankError::ZeroAmount);
                }
                sink.write(CqrsBankEvent::MoneyDeposited(MoneyDeposited { amount }), self).await;
            }
            CqrsBankCommand::Withdraw { amount, reason } => {
                self.ensure_open()?;
                if amount == 0 {
                    return Err(BankError::ZeroAmount);
                }
                if amount > self.balance {
                    return Err(BankError::InsufficientFunds { balance: self.balance, requested: amount });
                }
                sink.write(CqrsBankEvent::MoneyWithdrawn(MoneyWithdrawn { amount, reason }), self).await;
            }
            CqrsBankCommand::CloseAccount => {
                self.ensure_open()?;
                let payout = MoneyWithdrawn { amount: self.balance, reason: "closing".to_owned() };
                sink.write(CqrsBankEvent::MoneyWithdrawn(payout), self).await;
                sink.write(CqrsBankEvent::AccountClosed(AccountClosed), self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: CqrsBankEvent) {
        match event {
            CqrsBankEvent::AccountOpened(_) => self.open = true,
            CqrsBankEvent::MoneyDeposited(e) => self.balance += e.amount,
            CqrsBankEvent::MoneyWithdrawn(e) => self.balance -= e.amount,
            CqrsBankEvent::AccountClosed(_) => self.open = false,
        }
    }
}

/// The balances read model, updated by cqrs-es after each commit (the counterpart of
/// factum's inline `Balances` projection).
#[derive(Debug, Default)]
pub struct CqrsBalances {
    pub by_account: Mutex<BTreeMap<String, u64>>,
}

impl CqrsBalances {
    pub fn total(&self) -> u64 {
        self.by_account.lock().unwrap().values().sum()
    }
}

#[async_trait]
impl Query<CqrsBankAccount> for CqrsBalances {
    async fn dispatch(&self, aggregate_id: &str, events: &[EventEnvelope<CqrsBankAccount>]) {
        let mut balances = self.by_account.lock().unwrap();
        for envelope in events {
            match &envelope.payload {
                CqrsBankEvent::MoneyDeposited(e) => *balances.entry(aggregate_id.to_owned()).or_default() += e.amount,
                CqrsBankEvent::MoneyWithdrawn(e) => *balances.entry(aggregate_id.to_owned()).or_default() -= e.amount,
                CqrsBankEvent::AccountOpened(_) | CqrsBankEvent::AccountClosed(_) => {}
            }
        }
    }
}

/// Queries hold `Box<dyn Query>`; this lets the caller keep reading the shared read model.
pub struct SharedBalances(pub std::sync::Arc<CqrsBalances>);

#[async_trait]
impl Query<CqrsBankAccount> for SharedBalances {
    async fn dispatch(&self, aggregate_id: &str, events: &[EventEnvelope<CqrsBankAccount>]) {
        self.0.dispatch(aggregate_id, events).await;
    }
}
