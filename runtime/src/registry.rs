//! The event model as the program holds it: every event type with its stored shape, every
//! aggregate with its commands and the events each may return, every projection with the
//! events it reads and its queries, every process manager with the events it reads and the
//! aggregates it sends commands to. The macros register each where it is compiled
//! (`#[derive(Event)]` the events, `#[handlers]` the aggregates, projections and process
//! managers), and the program collects them at start-up from every crate linked into it.
//!
//! What each [`EventShape`] records is what decides the stored JSON: the stored name and
//! schema version, the fields with their types as written, and the `serde` attributes of
//! the type and of each field. [`schema::check`](crate::schema::check) compares it with a
//! committed lock file, so that a shape changed under an unchanged version fails a test
//! instead of failing to decode old events in production.
//!
//! ```
//! use factum::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! pub struct CashDeposited {
//!     pub amount: u64,
//!     #[serde(default)]
//!     pub note: Option<String>,
//! }
//!
//! let shape = factum::registry::events().find(|e| e.name == "CashDeposited").unwrap();
//! assert_eq!(shape.version, 1);
//! let fields: Vec<_> = shape.fields().iter().map(|f| (f.name, f.ty)).collect();
//! assert_eq!(fields, [("amount", "u64"), ("note", "Option<String>")]);
//! assert_eq!(shape.fields()[1].serde, ["default"]);
//! ```

/// The stored shape of one event type, as `#[derive(Event)]` saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventShape {
    /// The name it is stored under.
    pub name: &'static str,
    /// Its schema version.
    pub version: u32,
    /// The Rust type, with the module it is in (`bank::MoneyWithdrawn`).
    pub rust_type: &'static str,
    /// The type it upcasts from (`upcast_from`), as written, if any.
    pub upcast_from: Option<&'static str>,
    /// The `serde` attributes of the type, each as written inside `#[serde(...)]`.
    pub serde: &'static [&'static str],
    /// What the type holds.
    pub body: Body,
}

impl EventShape {
    /// The fields of a struct (named, or numbered from `0` for a tuple struct); none for a
    /// unit struct or an enum.
    pub fn fields(&self) -> &'static [FieldShape] {
        match self.body {
            Body::Struct(fields) | Body::Tuple(fields) => fields,
            Body::Unit | Body::Enum(_) => &[],
        }
    }
}

/// What an event type holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// A struct with named fields.
    Struct(&'static [FieldShape]),
    /// A tuple struct: its fields are named `0`, `1`, ...
    Tuple(&'static [FieldShape]),
    /// A unit struct.
    Unit,
    /// An enum, variant by variant.
    Enum(&'static [VariantShape]),
}

/// One field: its name, its type as written (spaces only where Rust needs them), and its
/// `serde` attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldShape {
    /// The field's name (`amount`), or its index in a tuple (`0`).
    pub name: &'static str,
    /// The type as written (`Option<Vec<String>>`).
    pub ty: &'static str,
    /// The `serde` attributes of the field, each as written inside `#[serde(...)]`.
    pub serde: &'static [&'static str],
}

/// One variant of an enum event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VariantShape {
    /// The variant's name.
    pub name: &'static str,
    /// Its `serde` attributes.
    pub serde: &'static [&'static str],
    /// Its fields, as for a struct: named, numbered (a tuple variant) or none (a unit one).
    pub fields: &'static [FieldShape],
    /// Whether the fields are numbered (a tuple variant).
    pub tuple: bool,
}

/// An aggregate, as `#[handlers]` saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregateShape {
    /// Its stored name (`bank-account`).
    pub name: &'static str,
    /// The Rust type, with the module of its `#[handlers]` block.
    pub rust_type: &'static str,
    /// Its commands, in declaration order.
    pub commands: &'static [CommandShape],
    /// The stored names of the events it applies, in declaration order.
    pub events: &'static [&'static str],
}

/// One command of an aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandShape {
    /// The variant of the command enum (`Deposit`).
    pub name: &'static str,
    /// The stored names of the events it may return: those of its return type, or every
    /// event of the aggregate for a `Vec` of its event enum.
    pub emits: &'static [&'static str],
}

/// A projection, as `#[handlers]` saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectionShape {
    /// Its stored name (`balances`), under which its checkpoint is kept.
    pub name: &'static str,
    /// The Rust type, with the module of its `#[handlers]` block.
    pub rust_type: &'static str,
    /// Its `#[on]` handlers, in declaration order.
    pub handlers: &'static [HandlerShape],
    /// The variants of its query enum.
    pub queries: &'static [&'static str],
}

/// One `#[on]` handler: the stored event name it reads, narrowed to one aggregate or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandlerShape {
    /// The stored name of the event.
    pub event: &'static str,
    /// The aggregate of `#[on(aggregate = "...")]`, if set.
    pub aggregate: Option<&'static str>,
}

/// A process manager, as `#[handlers]` saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessShape {
    /// Its stored name (`payment-deadline`), under which its position and instances are kept.
    pub name: &'static str,
    /// The Rust type, with the module of its `#[handlers]` block.
    pub rust_type: &'static str,
    /// Its `#[on]` handlers, in declaration order.
    pub handlers: &'static [HandlerShape],
    /// The stored names of the aggregates it sends commands to (`sends = [..]`).
    pub sends: &'static [&'static str],
    /// The variants of its deadline enum, in declaration order.
    pub deadlines: &'static [&'static str],
}

/// What `#[derive(Event)]` submits; not for direct use.
#[doc(hidden)]
pub struct Registered(pub &'static EventShape);

inventory::collect!(Registered);

/// What `#[handlers]` submits for an aggregate; not for direct use.
#[doc(hidden)]
pub struct RegisteredAggregate(pub &'static AggregateShape);

inventory::collect!(RegisteredAggregate);

/// What `#[handlers]` submits for a projection; not for direct use.
#[doc(hidden)]
pub struct RegisteredProjection(pub &'static ProjectionShape);

inventory::collect!(RegisteredProjection);

/// What `#[handlers]` submits for a process manager; not for direct use.
#[doc(hidden)]
pub struct RegisteredProcess(pub &'static ProcessShape);

inventory::collect!(RegisteredProcess);

/// The name and `sends` of a process manager for its registration, or none when the type
/// lacks `#[derive(ProcessManager)]` (the fallback of [`NoProcessIdentity`], which the
/// registration imports): that mistake is reported once elsewhere.
#[doc(hidden)]
pub struct ProcessIdentity<T: ?Sized>(core::marker::PhantomData<T>);

impl<T: crate::process::ProcessType> ProcessIdentity<T> {
    /// `T::NAME`.
    pub const NAME: &'static str = T::NAME;
    /// `T::SENDS`.
    pub const SENDS: &'static [&'static str] = T::SENDS;
}

/// The fallback of [`ProcessIdentity`] for a type without the derive.
#[doc(hidden)]
pub trait NoProcessIdentity {
    /// Unknown.
    const NAME: &'static str = "";
    /// Unknown.
    const SENDS: &'static [&'static str] = &[];
}

impl<T: ?Sized> NoProcessIdentity for ProcessIdentity<T> {}

/// Every event type linked into this program, ordered by stored name, then version.
pub fn events() -> impl Iterator<Item = &'static EventShape> {
    sorted(inventory::iter::<Registered>.into_iter().map(|r| r.0), |e| (e.name, e.version, e.rust_type))
}

/// Every aggregate linked into this program, ordered by stored name.
pub fn aggregates() -> impl Iterator<Item = &'static AggregateShape> {
    sorted(inventory::iter::<RegisteredAggregate>.into_iter().map(|r| r.0), |a| (a.name, 0, a.rust_type))
}

/// Every projection linked into this program, ordered by stored name.
pub fn projections() -> impl Iterator<Item = &'static ProjectionShape> {
    sorted(inventory::iter::<RegisteredProjection>.into_iter().map(|r| r.0), |p| (p.name, 0, p.rust_type))
}

/// Every process manager linked into this program, ordered by stored name.
pub fn processes() -> impl Iterator<Item = &'static ProcessShape> {
    sorted(inventory::iter::<RegisteredProcess>.into_iter().map(|r| r.0), |p| (p.name, 0, p.rust_type))
}

/// `shapes` in the order of `key` (name, version, Rust type): the link order is no order.
fn sorted<T: 'static>(
    shapes: impl Iterator<Item = &'static T>,
    key: impl Fn(&T) -> (&'static str, u32, &'static str),
) -> impl Iterator<Item = &'static T> {
    let mut all: Vec<&'static T> = shapes.collect();
    all.sort_by_key(|shape| key(shape));
    all.into_iter()
}
