use factum::prelude::*;

#[derive(Event, Debug, Clone, PartialEq)]
pub struct Deposited { pub amount: u64 }

#[derive(Aggregate, Default)]
pub struct Account { balance: u64 }

#[handlers]
impl Account {
    #[command]
    pub fn deposit(&self, amount: u64) -> Result<Deposited, std::convert::Infallible> { Ok(Deposited { amount }) }

    #[apply]
    fn deposited(&mut self, e: &Deposited) { self.balance += e.amount; }
}

// The user's own uses of the aggregate and its event enum add no error of their own.
async fn deposit(accounts: &Repository<Account, MemoryStore>) -> Vec<AccountEvent> {
    let committed = accounts.execute("acc-1", AccountCommand::Deposit { amount: 5 }).await.unwrap();
    committed.events.iter().map(|event| match event {
        AccountEvent::Deposited(deposited) => AccountEvent::Deposited(deposited.clone()),
    }).chain(committed.events.clone()).collect()
}

fn main() {
    let accounts = Repository::<Account, _>::new(MemoryStore::new());
    let _ = deposit(&accounts);
}
