//! The bank of [`crate::bank`] with everything `#[handlers]` writes written by hand: the
//! command and event enums, `EventSet` and `Aggregate` as plain `match`es, the decisions and
//! state changes inline. The baseline of the dispatch figure: generated code should cost
//! no more than this.

use factum::{Aggregate, AggregateType, DecodeError, EncodeError, Event, EventSet};

use crate::bank::{AccountClosed, AccountOpened, BankError, BankServices, MoneyDeposited, MoneyWithdrawn};

#[derive(Default, Debug, Clone)]
pub struct HandAccount {
    pub open: bool,
    pub balance: u64,
}

impl AggregateType for HandAccount {
    const NAME: &'static str = "hand-account";
}

#[derive(Debug, Clone, PartialEq)]
pub enum HandCommand {
    Open { owner: String },
    Deposit { amount: u64 },
    Withdraw { amount: u64, reason: String },
    CloseAccount,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HandEvent {
    AccountOpened(AccountOpened),
    MoneyDeposited(MoneyDeposited),
    MoneyWithdrawn(MoneyWithdrawn),
    AccountClosed(AccountClosed),
}

impl EventSet for HandEvent {
    const NAMES: &'static [&'static str] =
        &[AccountOpened::NAME, MoneyDeposited::NAME, MoneyWithdrawn::NAME, AccountClosed::NAME];

    fn name(&self) -> &'static str {
        match self {
            HandEvent::AccountOpened(_) => AccountOpened::NAME,
            HandEvent::MoneyDeposited(_) => MoneyDeposited::NAME,
            HandEvent::MoneyWithdrawn(_) => MoneyWithdrawn::NAME,
            HandEvent::AccountClosed(_) => AccountClosed::NAME,
        }
    }

    fn version(&self) -> u32 {
        match self {
            HandEvent::AccountOpened(_) => AccountOpened::VERSION,
            HandEvent::MoneyDeposited(_) => MoneyDeposited::VERSION,
            HandEvent::MoneyWithdrawn(_) => MoneyWithdrawn::VERSION,
            HandEvent::AccountClosed(_) => AccountClosed::VERSION,
        }
    }

    fn encode(&self) -> Result<String, EncodeError> {
        match self {
            HandEvent::AccountOpened(e) => e.encode(),
            HandEvent::MoneyDeposited(e) => e.encode(),
            HandEvent::MoneyWithdrawn(e) => e.encode(),
            HandEvent::AccountClosed(e) => e.encode(),
        }
    }

    fn decode(name: &str, version: u32, payload: &str) -> Result<Self, DecodeError> {
        match name {
            "AccountOpened" => AccountOpened::decode(version, payload).map(HandEvent::AccountOpened),
            "MoneyDeposited" => MoneyDeposited::decode(version, payload).map(HandEvent::MoneyDeposited),
            "MoneyWithdrawn" => MoneyWithdrawn::decode(version, payload).map(HandEvent::MoneyWithdrawn),
            "AccountClosed" => AccountClosed::decode(version, payload).map(HandEvent::AccountClosed),
            other => Err(DecodeError::UnknownEvent { name: other.to_owned(), known: Self::NAMES }),
        }
    }
}

impl Aggregate for HandAccount {
    type Event = HandEvent;
    type Command = HandCommand;
    type Error = BankError;
    type Services = BankServices;

    async fn handle(&self, command: HandCommand, services: &BankServices) -> Result<Vec<HandEvent>, BankError> {
        match command {
            HandCommand::Open { owner } => {
                if self.open {
                    return Err(BankError::AlreadyOpen);
                }
                if !services.may_open(&owner).await {
                    return Err(BankError::Refused(owner));
                }
                Ok(vec![HandEvent::AccountOpened(AccountOpened { owner })])
            }
            HandCommand::Deposit { amount } => {
                if !self.open {
                    return Err(BankError::NotOpen);
                }
                if amount == 0 {
                    return Err(BankError::ZeroAmount);
                }
                Ok(vec![HandEvent::MoneyDeposited(MoneyDeposited { amount })])
            }
            HandCommand::Withdraw { amount, reason } => {
                if !self.open {
                    return Err(BankError::NotOpen);
                }
                if amount == 0 {
                    return Err(BankError::ZeroAmount);
                }
                if amount > self.balance {
                    return Err(BankError::InsufficientFunds { balance: self.balance, requested: amount });
                }
                Ok(vec![HandEvent::MoneyWithdrawn(MoneyWithdrawn { amount, reason })])
            }
            HandCommand::CloseAccount => {
                if !self.open {
                    return Err(BankError::NotOpen);
                }
                Ok(vec![
                    HandEvent::MoneyWithdrawn(MoneyWithdrawn { amount: self.balance, reason: "closing".to_owned() }),
                    HandEvent::AccountClosed(AccountClosed),
                ])
            }
        }
    }

    fn apply(&mut self, event: &HandEvent) {
        match event {
            HandEvent::AccountOpened(_) => self.open = true,
            HandEvent::MoneyDeposited(e) => self.balance += e.amount,
            HandEvent::MoneyWithdrawn(e) => self.balance -= e.amount,
            HandEvent::AccountClosed(_) => self.open = false,
        }
    }
}

/// [`crate::bank::script`], as hand-written commands.
pub fn script() -> Vec<HandCommand> {
    vec![
        HandCommand::Open { owner: "Ada".to_owned() },
        HandCommand::Deposit { amount: 100 },
        HandCommand::Withdraw { amount: 30, reason: "groceries".to_owned() },
        HandCommand::Deposit { amount: 0 },
        HandCommand::Withdraw { amount: 500, reason: "a car".to_owned() },
        HandCommand::Deposit { amount: 7 },
        HandCommand::Open { owner: "Ada".to_owned() },
        HandCommand::CloseAccount,
    ]
}
