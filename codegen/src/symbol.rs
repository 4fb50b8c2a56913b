//! The words of factum's attributes, in one place.

/// `#[event(...)]` on an event type.
pub const EVENT: &str = "event";
/// `#[aggregate(...)]` on an aggregate type.
pub const AGGREGATE: &str = "aggregate";
/// `#[command]` on a method of a `#[handlers]` impl.
pub const COMMAND: &str = "command";
/// `#[apply]` on a method of a `#[handlers]` impl.
pub const APPLY: &str = "apply";
/// `#[on]` on a method of a projection's `#[handlers]` impl.
pub const ON: &str = "on";
/// `#[query]` on a method of a projection's `#[handlers]` impl.
pub const QUERY: &str = "query";
/// `#[projection(...)]` on a projection type.
pub const PROJECTION: &str = "projection";
/// `#[process(...)]` on a process manager type.
pub const PROCESS: &str = "process";
/// `#[deadline]` on a method of a process manager's `#[handlers]` impl.
pub const DEADLINE: &str = "deadline";
/// `#[rejected]` on a method of a process manager's `#[handlers]` impl.
pub const REJECTED: &str = "rejected";
/// `start` of `#[on(..)]`: the handler may create an instance.
pub const START: &str = "start";
/// `end` of `#[on(..)]`: the instance ends after the handler.
pub const END: &str = "end";
/// `correlate = field` of `#[on(..)]`: the event field holding the instance key.
pub const CORRELATE: &str = "correlate";
/// `sends = [..]` of a process manager: the aggregates it commands.
pub const SENDS: &str = "sends";
/// `aggregate = "..."` of `#[on]`.
pub const AGGREGATE_KEY: &str = "aggregate";
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

/// `#[pii(subject = field)]` on an event.
pub const PII: &str = "pii";
/// `subject = field` of `#[pii(..)]`.
pub const SUBJECT: &str = "subject";

/// The keys `#[event(...)]` accepts.
pub const EVENT_KEYS: &[&str] = &[NAME, VERSION, UPCAST_FROM];
/// The keys `#[pii(...)]` accepts.
pub const PII_KEYS: &[&str] = &[SUBJECT];
/// The keys `#[aggregate(...)]` accepts.
pub const AGGREGATE_KEYS: &[&str] = &[NAME, SNAPSHOT_EVERY];
/// The keys `#[command(...)]` accepts.
pub const COMMAND_KEYS: &[&str] = &[NAME];
/// The keys `#[projection(...)]` accepts.
pub const PROJECTION_KEYS: &[&str] = &[NAME];
/// The keys `#[process(...)]` accepts.
pub const PROCESS_KEYS: &[&str] = &[NAME, SENDS];
/// The keys `#[on(...)]` accepts in a projection.
pub const ON_KEYS: &[&str] = &[AGGREGATE_KEY];
/// The keys `#[on(...)]` accepts in a process manager.
pub const PROCESS_ON_KEYS: &[&str] = &[START, END, CORRELATE, AGGREGATE_KEY];
/// The keys of `#[on(...)]` that only a process manager has.
pub const PROCESS_ONLY_ON_KEYS: &[&str] = &[START, END, CORRELATE];
/// The keys `#[handlers(...)]` accepts.
pub const HANDLERS_KEYS: &[&str] = &[VIS];

/// The markers a method of a `#[handlers]` block may carry.
pub const METHOD_MARKERS: &[&str] = &[COMMAND, APPLY, ON, QUERY, DEADLINE, REJECTED];
/// The markers a parameter of a `#[handlers]` method may carry.
pub const PARAM_MARKERS: &[&str] = &[SERVICES];
