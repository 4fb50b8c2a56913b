use factum::prelude::*;

pub struct Audited { pub by: String }

#[derive(Aggregate, Default)]
pub struct Account { audits: u64 }

#[handlers]
impl Account {
    #[command]
    pub fn audit(&self, by: String) -> Result<Audited, std::convert::Infallible> { Ok(Audited { by }) }

    #[apply]
    fn audited(&mut self, _: &Audited) { self.audits += 1; }
}

fn main() {}
