use factum::prelude::*;

#[derive(Aggregate, Default)]
pub enum Account {
    #[default]
    Closed,
    Open,
}

fn main() {}
