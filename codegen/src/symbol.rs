//! The words of factum's attributes, in one place.

/// `#[event(...)]` on an event type.
pub const EVENT: &str = "event";
/// `#[aggregate(...)]` on an aggregate type.
pub const AGGREGATE: &str = "aggregate";
/// `#[command]` on a method of a `#[handlers]` impl.
pub const COMMAND: &str = "command";
/// `#[apply]` on a method of a `#[handlers]` impl.
pub const APPLY: &str = "apply";
/// `#[services]` on a command parameter.
pub const SERVICES: &str = "services";

/// `name = "..."`: a stored name (event, aggregate) or a variant name (command).
pub const NAME: &str = "name";
/// `version = N` of an event.
pub const VERSION: &str = "version";
/// `upcast_from = Type` of an event.
pub const UPCAST_FROM: &str = "upcast_from";
/// `snapshot_every = N` of an aggregate.
pub const SNAPSHOT_EVERY: &str = "snapshot_every";
/// `vis = "..."` of `#[handlers]`.
pub const VIS: &str = "vis";

/// The keys `#[event(...)]` accepts.
pub const EVENT_KEYS: &[&str] = &[NAME, VERSION, UPCAST_FROM];
/// The keys `#[aggregate(...)]` accepts.
pub const AGGREGATE_KEYS: &[&str] = &[NAME, SNAPSHOT_EVERY];
/// The keys `#[command(...)]` accepts.
pub const COMMAND_KEYS: &[&str] = &[NAME];
/// The keys `#[handlers(...)]` accepts.
pub const HANDLERS_KEYS: &[&str] = &[VIS];
/// The attributes `#[handlers]` reads on methods.
pub const METHOD_ATTRS: &[&str] = &[COMMAND, APPLY];
