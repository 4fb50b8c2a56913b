// Expansion of examples/bank.rs by factum's macros. Generated: do not edit.
//! A bank account, event-sourced: open, deposit, withdraw, a rejected overdraft, close.
//!
//! Run it with `cargo run --example bank`. `examples/bank-expanded.md` walks through what
//! the macros write for this file.
use factum::prelude::*;
use serde::{Deserialize, Serialize};
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AccountOpened {
    pub owner: String,
}
#[automatically_derived]
impl ::factum::Event for AccountOpened {
    const NAME: &'static str = "AccountOpened";
    const VERSION: u32 = 1;
    fn decode(
        version: u32,
        payload: &str,
    ) -> ::core::result::Result<Self, ::factum::DecodeError> {
        if version == 1 {
            ::factum::__private::decode_payload::<Self>(version, payload)
        } else {
            ::core::result::Result::Err(
                ::factum::__private::unknown_version::<Self>(version),
            )
        }
    }
}
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MoneyDeposited {
    pub amount: u64,
}
#[automatically_derived]
impl ::factum::Event for MoneyDeposited {
    const NAME: &'static str = "MoneyDeposited";
    const VERSION: u32 = 1;
    fn decode(
        version: u32,
        payload: &str,
    ) -> ::core::result::Result<Self, ::factum::DecodeError> {
        if version == 1 {
            ::factum::__private::decode_payload::<Self>(version, payload)
        } else {
            ::core::result::Result::Err(
                ::factum::__private::unknown_version::<Self>(version),
            )
        }
    }
}
/// The first schema of a withdrawal, before it carried a reason. Old streams still hold it.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "MoneyWithdrawn")]
pub struct MoneyWithdrawnV1 {
    pub amount: u64,
}
#[automatically_derived]
impl ::factum::Event for MoneyWithdrawnV1 {
    const NAME: &'static str = "MoneyWithdrawn";
    const VERSION: u32 = 1;
    fn decode(
        version: u32,
        payload: &str,
    ) -> ::core::result::Result<Self, ::factum::DecodeError> {
        if version == 1 {
            ::factum::__private::decode_payload::<Self>(version, payload)
        } else {
            ::core::result::Result::Err(
                ::factum::__private::unknown_version::<Self>(version),
            )
        }
    }
}
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "MoneyWithdrawn", version = 2, upcast_from = MoneyWithdrawnV1)]
pub struct MoneyWithdrawn {
    pub amount: u64,
    pub reason: String,
}
#[automatically_derived]
impl ::factum::Event for MoneyWithdrawn {
    const NAME: &'static str = "MoneyWithdrawn";
    const VERSION: u32 = 2;
    fn decode(
        version: u32,
        payload: &str,
    ) -> ::core::result::Result<Self, ::factum::DecodeError> {
        if version == 2 {
            ::factum::__private::decode_payload::<Self>(version, payload)
        } else if version < 2 {
            <MoneyWithdrawnV1 as ::factum::Event>::decode(version, payload)
                .map(<Self as ::core::convert::From<MoneyWithdrawnV1>>::from)
        } else {
            ::core::result::Result::Err(
                ::factum::__private::unknown_version::<Self>(version),
            )
        }
    }
}
const _: () = {
    ::factum::__private::require(
        ::factum::__private::str_eq(
            <MoneyWithdrawnV1 as ::factum::Event>::NAME,
            "MoneyWithdrawn",
        ),
        "`upcast_from = MoneyWithdrawnV1`: an event upcasts only from an older version of itself, stored under the same name (`MoneyWithdrawn`)",
    );
    ::factum::__private::require(
        <MoneyWithdrawnV1 as ::factum::Event>::VERSION < 2,
        "`upcast_from = MoneyWithdrawnV1`: the older type must have a lower `version` than 2",
    );
};
impl From<MoneyWithdrawnV1> for MoneyWithdrawn {
    fn from(old: MoneyWithdrawnV1) -> Self {
        MoneyWithdrawn {
            amount: old.amount,
            reason: "unspecified".to_owned(),
        }
    }
}
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AccountClosed;
#[automatically_derived]
impl ::factum::Event for AccountClosed {
    const NAME: &'static str = "AccountClosed";
    const VERSION: u32 = 1;
    fn decode(
        version: u32,
        payload: &str,
    ) -> ::core::result::Result<Self, ::factum::DecodeError> {
        if version == 1 {
            ::factum::__private::decode_payload::<Self>(version, payload)
        } else {
            ::core::result::Result::Err(
                ::factum::__private::unknown_version::<Self>(version),
            )
        }
    }
}
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
#[automatically_derived]
impl ::factum::AggregateType for BankAccount {
    const NAME: &'static str = "bank-account";
    const SNAPSHOT_EVERY: ::core::option::Option<u64> = ::core::option::Option::Some(
        500,
    );
    const FINGERPRINT: u64 = 3387066165757469429;
    const SNAPSHOT: ::core::option::Option<::factum::SnapshotCodec<Self>> = ::core::option::Option::Some(
        ::factum::__private::snapshot_codec::<Self>(),
    );
}
const _: () = ::factum::__private::assert_aggregate_default::<BankAccount>();
impl BankAccount {
    /// Opens the account for `owner`, unless the bank refuses them.
    pub async fn open(
        &self,
        owner: String,
        bank: &BankServices,
    ) -> Result<AccountOpened, BankError> {
        if self.open {
            return Err(BankError::AlreadyOpen);
        }
        if !bank.may_open(&owner).await {
            return Err(BankError::Refused(owner));
        }
        Ok(AccountOpened { owner })
    }
    pub fn deposit(&self, amount: u64) -> Result<MoneyDeposited, BankError> {
        self.ensure_open()?;
        if amount == 0 {
            return Err(BankError::ZeroAmount);
        }
        Ok(MoneyDeposited { amount })
    }
    pub fn withdraw(
        &self,
        amount: u64,
        reason: String,
    ) -> Result<MoneyWithdrawn, BankError> {
        self.ensure_open()?;
        if amount == 0 {
            return Err(BankError::ZeroAmount);
        }
        if amount > self.balance {
            return Err(BankError::InsufficientFunds {
                balance: self.balance,
                requested: amount,
            });
        }
        Ok(MoneyWithdrawn { amount, reason })
    }
    /// Pays out what is left, then closes the account.
    pub fn close(&self) -> Result<(MoneyWithdrawn, AccountClosed), BankError> {
        self.ensure_open()?;
        Ok((
            MoneyWithdrawn {
                amount: self.balance,
                reason: "closing".to_owned(),
            },
            AccountClosed,
        ))
    }
    fn opened(&mut self, _: &AccountOpened) {
        self.open = true;
    }
    fn deposited(&mut self, e: &MoneyDeposited) {
        self.balance += e.amount;
    }
    fn withdrawn(&mut self, e: &MoneyWithdrawn) {
        self.balance -= e.amount;
    }
    fn closed(&mut self, _: &AccountClosed) {
        self.open = false;
    }
    fn ensure_open(&self) -> Result<(), BankError> {
        if self.open { Ok(()) } else { Err(BankError::NotOpen) }
    }
}
/// The commands of `BankAccount`: one variant per `#[command]` method.
///
/// Generated by `#[handlers]`. Serializable, so a command can arrive as JSON.
#[derive(
    ::core::fmt::Debug,
    ::core::clone::Clone,
    ::core::cmp::PartialEq,
    ::factum::__private::serde::Serialize,
    ::factum::__private::serde::Deserialize
)]
#[serde(crate = "::factum::__private::serde")]
#[allow(clippy::derive_partial_eq_without_eq)]
pub enum BankAccountCommand {
    /// Opens the account for `owner`, unless the bank refuses them.
    Open { owner: String },
    /// Decided by `BankAccount::deposit`.
    Deposit { amount: u64 },
    /// Decided by `BankAccount::withdraw`.
    Withdraw { amount: u64, reason: String },
    /// Pays out what is left, then closes the account.
    CloseAccount,
}
/// The events of `BankAccount`: one variant per `#[apply]` method, in declaration order.
///
/// Generated by `#[handlers]`.
#[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq)]
#[allow(clippy::derive_partial_eq_without_eq)]
pub enum BankAccountEvent {
    /// `AccountOpened`, applied by `BankAccount::opened`.
    AccountOpened(AccountOpened),
    /// `MoneyDeposited`, applied by `BankAccount::deposited`.
    MoneyDeposited(MoneyDeposited),
    /// `MoneyWithdrawn`, applied by `BankAccount::withdrawn`.
    MoneyWithdrawn(MoneyWithdrawn),
    /// `AccountClosed`, applied by `BankAccount::closed`.
    AccountClosed(AccountClosed),
}
#[automatically_derived]
impl ::core::convert::From<AccountOpened> for BankAccountEvent {
    #[inline]
    fn from(event: AccountOpened) -> Self {
        BankAccountEvent::AccountOpened(event)
    }
}
#[automatically_derived]
impl ::core::convert::From<MoneyDeposited> for BankAccountEvent {
    #[inline]
    fn from(event: MoneyDeposited) -> Self {
        BankAccountEvent::MoneyDeposited(event)
    }
}
#[automatically_derived]
impl ::core::convert::From<MoneyWithdrawn> for BankAccountEvent {
    #[inline]
    fn from(event: MoneyWithdrawn) -> Self {
        BankAccountEvent::MoneyWithdrawn(event)
    }
}
#[automatically_derived]
impl ::core::convert::From<AccountClosed> for BankAccountEvent {
    #[inline]
    fn from(event: AccountClosed) -> Self {
        BankAccountEvent::AccountClosed(event)
    }
}
#[automatically_derived]
impl ::factum::EventSet for BankAccountEvent {
    const NAMES: &'static [&'static str] = &[
        <AccountOpened as ::factum::Event>::NAME,
        <MoneyDeposited as ::factum::Event>::NAME,
        <MoneyWithdrawn as ::factum::Event>::NAME,
        <AccountClosed as ::factum::Event>::NAME,
    ];
    fn name(&self) -> &'static str {
        match self {
            BankAccountEvent::AccountOpened(_) => {
                <AccountOpened as ::factum::Event>::NAME
            }
            BankAccountEvent::MoneyDeposited(_) => {
                <MoneyDeposited as ::factum::Event>::NAME
            }
            BankAccountEvent::MoneyWithdrawn(_) => {
                <MoneyWithdrawn as ::factum::Event>::NAME
            }
            BankAccountEvent::AccountClosed(_) => {
                <AccountClosed as ::factum::Event>::NAME
            }
        }
    }
    fn version(&self) -> u32 {
        match self {
            BankAccountEvent::AccountOpened(_) => {
                <AccountOpened as ::factum::Event>::VERSION
            }
            BankAccountEvent::MoneyDeposited(_) => {
                <MoneyDeposited as ::factum::Event>::VERSION
            }
            BankAccountEvent::MoneyWithdrawn(_) => {
                <MoneyWithdrawn as ::factum::Event>::VERSION
            }
            BankAccountEvent::AccountClosed(_) => {
                <AccountClosed as ::factum::Event>::VERSION
            }
        }
    }
    fn encode(
        &self,
    ) -> ::core::result::Result<::std::string::String, ::factum::EncodeError> {
        match self {
            BankAccountEvent::AccountOpened(event) => {
                <AccountOpened as ::factum::Event>::encode(event)
            }
            BankAccountEvent::MoneyDeposited(event) => {
                <MoneyDeposited as ::factum::Event>::encode(event)
            }
            BankAccountEvent::MoneyWithdrawn(event) => {
                <MoneyWithdrawn as ::factum::Event>::encode(event)
            }
            BankAccountEvent::AccountClosed(event) => {
                <AccountClosed as ::factum::Event>::encode(event)
            }
        }
    }
    fn decode(
        name: &str,
        version: u32,
        payload: &str,
    ) -> ::core::result::Result<Self, ::factum::DecodeError> {
        match name {
            __name if __name == <AccountOpened as ::factum::Event>::NAME => {
                <AccountOpened as ::factum::Event>::decode(version, payload)
                    .map(BankAccountEvent::AccountOpened)
            }
            __name if __name == <MoneyDeposited as ::factum::Event>::NAME => {
                <MoneyDeposited as ::factum::Event>::decode(version, payload)
                    .map(BankAccountEvent::MoneyDeposited)
            }
            __name if __name == <MoneyWithdrawn as ::factum::Event>::NAME => {
                <MoneyWithdrawn as ::factum::Event>::decode(version, payload)
                    .map(BankAccountEvent::MoneyWithdrawn)
            }
            __name if __name == <AccountClosed as ::factum::Event>::NAME => {
                <AccountClosed as ::factum::Event>::decode(version, payload)
                    .map(BankAccountEvent::AccountClosed)
            }
            _ => {
                ::core::result::Result::Err(
                    ::factum::__private::unknown_event(name, Self::NAMES),
                )
            }
        }
    }
}
#[automatically_derived]
impl ::factum::Aggregate for BankAccount {
    type Event = BankAccountEvent;
    type Command = BankAccountCommand;
    type Error = BankError;
    type Services = BankServices;
    async fn handle(
        &self,
        __command: Self::Command,
        __services: &Self::Services,
    ) -> ::core::result::Result<::std::vec::Vec<Self::Event>, Self::Error> {
        match __command {
            BankAccountCommand::Open { owner } => {
                let event = self.open(owner, __services).await?;
                ::core::result::Result::Ok(
                    ::std::vec::Vec::from([BankAccountEvent::from(event)]),
                )
            }
            BankAccountCommand::Deposit { amount } => {
                let event = self.deposit(amount)?;
                ::core::result::Result::Ok(
                    ::std::vec::Vec::from([BankAccountEvent::from(event)]),
                )
            }
            BankAccountCommand::Withdraw { amount, reason } => {
                let event = self.withdraw(amount, reason)?;
                ::core::result::Result::Ok(
                    ::std::vec::Vec::from([BankAccountEvent::from(event)]),
                )
            }
            BankAccountCommand::CloseAccount => {
                let (event0, event1) = self.close()?;
                ::core::result::Result::Ok(
                    ::std::vec::Vec::from([
                        BankAccountEvent::from(event0),
                        BankAccountEvent::from(event1),
                    ]),
                )
            }
        }
    }
    fn apply(&mut self, __event: &Self::Event) {
        match __event {
            BankAccountEvent::AccountOpened(event) => self.opened(event),
            BankAccountEvent::MoneyDeposited(event) => self.deposited(event),
            BankAccountEvent::MoneyWithdrawn(event) => self.withdrawn(event),
            BankAccountEvent::AccountClosed(event) => self.closed(event),
        }
    }
}
const _: () = {
    ::factum::__private::require(
        !::factum::__private::contains_name(
            &[<AccountOpened as ::factum::Event>::NAME],
            <MoneyDeposited as ::factum::Event>::NAME,
        ),
        "`MoneyDeposited` is stored under the same name as an earlier event of `BankAccount`; give one of them `#[event(name = \"...\")]`",
    );
    ::factum::__private::require(
        !::factum::__private::contains_name(
            &[
                <AccountOpened as ::factum::Event>::NAME,
                <MoneyDeposited as ::factum::Event>::NAME,
            ],
            <MoneyWithdrawn as ::factum::Event>::NAME,
        ),
        "`MoneyWithdrawn` is stored under the same name as an earlier event of `BankAccount`; give one of them `#[event(name = \"...\")]`",
    );
    ::factum::__private::require(
        !::factum::__private::contains_name(
            &[
                <AccountOpened as ::factum::Event>::NAME,
                <MoneyDeposited as ::factum::Event>::NAME,
                <MoneyWithdrawn as ::factum::Event>::NAME,
            ],
            <AccountClosed as ::factum::Event>::NAME,
        ),
        "`AccountClosed` is stored under the same name as an earlier event of `BankAccount`; give one of them `#[event(name = \"...\")]`",
    );
};
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let services = BankServices {
        blocked_owners: vec!["Mallory".to_owned()],
    };
    let accounts = Repository::<
        BankAccount,
        _,
    >::with_services(MemoryStore::new(), services);
    let id = "acc-1";
    let commands = [
        BankAccountCommand::Open {
            owner: "Ada".to_owned(),
        },
        BankAccountCommand::Deposit {
            amount: 100,
        },
        BankAccountCommand::Withdraw {
            amount: 30,
            reason: "groceries".to_owned(),
        },
        BankAccountCommand::Withdraw {
            amount: 500,
            reason: "a car".to_owned(),
        },
        BankAccountCommand::CloseAccount,
    ];
    for command in commands {
        let shown = format!("{command:?}");
        match accounts.execute(id, command).await {
            Ok(committed) => {
                println!(
                    "ok       {shown:<60} -> version {}: {:?}", committed.version,
                    committed.events
                )
            }
            Err(ExecuteError::Rejected(why)) => println!("rejected {shown:<60} -> {why}"),
            Err(other) => return Err(other.into()),
        }
    }
    let refused = accounts
        .execute(
            "acc-2",
            BankAccountCommand::Open {
                owner: "Mallory".to_owned(),
            },
        )
        .await;
    println!(
        "rejected Open {{ owner: \"Mallory\" }} on acc-2 -> {}", refused.unwrap_err()
    );
    println!("\nthe stream {}/{id}:", BankAccount::NAME);
    for envelope in accounts.events(id).await? {
        let meta = &envelope.meta;
        println!(
            "  v{} (position {}) {} v{}: {:?}", meta.stream_version, meta.position, meta
            .event_name, meta.event_version, envelope.event
        );
    }
    let state = accounts.load(id).await?.expect("acc-1 has events");
    println!("\nstate at version {}: {:?}", state.version, state.state);
    let earlier = accounts.load_at(id, 2).await?.expect("acc-1 has two events");
    println!("state at version 2: {:?}", earlier.state);
    Ok(())
}
