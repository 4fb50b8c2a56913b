use factum::prelude::*;
use factum::testing::given;

#[derive(Event, Debug, Clone, PartialEq)]
pub struct Deposited { pub amount: u64 }

#[derive(Aggregate, Default, Debug, Clone)]
pub struct Account { balance: u64 }

#[handlers]
impl Account {
    #[command]
    pub fn deposit(&self, amount: u64) -> Result<Deposited, std::convert::Infallible> { Ok(Deposited { amount }) }

    #[apply]
    fn deposited(&mut self, e: &Deposited) { self.balance += e.amount; }
}

// A given / when / then test of the aggregate adds no error of its own.
fn main() {
    given::<Account>([Deposited { amount: 1 }.into()], ())
        .when(AccountCommand::Deposit { amount: 2 })
        .then_events([Deposited { amount: 2 }.into()])
        .then_state(|account| account.balance == 3);
}
