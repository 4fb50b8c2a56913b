//! The event catalog: a page, written from the [`registry`], of every event with its
//! version and fields, the commands that emit it and the projections that read it; every
//! aggregate with its commands; every projection with its queries; and a Mermaid flowchart
//! command → event → projection (GitHub renders it). It warns about events no projection
//! reads and handlers for events no aggregate emits.
//!
//! ```
//! let page = factum::catalog::markdown();
//! assert!(page.starts_with("# Event catalog\n"));
//! assert!(page.contains("```mermaid\nflowchart LR\n"));
//! ```
//!
//! A committed catalog is kept fresh by a test, as the [schema lock](crate::schema) is:
//!
//! ```no_run
//! #[test]
//! fn the_catalog_is_fresh() {
//!     factum::catalog::check("CATALOG.md").unwrap();
//! }
//! ```
//!
//! [`json`] gives the same content for tools.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::registry::{self, AggregateShape, EventShape, HandlerShape, ProcessShape, ProjectionShape};
use crate::schema::BLESS;

/// The catalog of this program's event model, as Markdown with a Mermaid flowchart.
pub fn markdown() -> String {
    Model::of_registry().markdown()
}

/// The flowchart of the catalog alone (`flowchart LR ...`, without the fence), for a page
/// of one's own.
pub fn mermaid() -> String {
    Model::of_registry().mermaid()
}

/// The catalog of this program's event model, as JSON: `events`, `aggregates`,
/// `projections` and `warnings`.
pub fn json() -> serde_json::Value {
    Model::of_registry().json()
}

/// Compares [`markdown`] with the file at `path` (relative to the working directory: the
/// package's root under `cargo test`), or writes the file when `FACTUM_BLESS=1` is set.
pub fn check(path: impl AsRef<Path>) -> Result<(), CatalogError> {
    let bless = std::env::var_os(BLESS).is_some_and(|v| v == "1");
    check_page(path.as_ref(), &markdown(), bless)
}

/// [`check`] of `page`: writes it when `bless`, else compares.
fn check_page(path: &Path, page: &str, bless: bool) -> Result<(), CatalogError> {
    let io = |source| CatalogError::Io { path: path.to_path_buf(), source };
    if bless {
        return std::fs::write(path, page).map_err(io);
    }
    let written = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
            return Err(CatalogError::Missing { path: path.to_path_buf() });
        }
        Err(source) => return Err(io(source)),
    };
    if written == page {
        return Ok(());
    }
    let (line, expected) = page
        .lines()
        .zip(written.lines().map(Some).chain(std::iter::repeat(None)))
        .enumerate()
        .find(|(_, (now, then))| Some(*now) != *then)
        .map_or((page.lines().count() + 1, String::new()), |(index, (now, _))| (index + 1, now.to_owned()));
    Err(CatalogError::Stale { path: path.to_path_buf(), line, expected })
}

/// Why [`check`] failed. Its `Debug` is its message, for `check(..).unwrap()` in a test.
#[non_exhaustive]
pub enum CatalogError {
    /// The file is missing, or differs from what the code gives.
    Stale {
        /// The file.
        path: PathBuf,
        /// The first line that differs, from 1.
        line: usize,
        /// That line as the code gives it.
        expected: String,
    },
    /// There is no file yet.
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// The file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatalogError::Stale { path, line, expected } => write!(
                f,
                "the event catalog {} is stale: from line {line} on, the code gives {expected:?}; write it again \
                 with {BLESS}=1 and commit it with the change",
                path.display()
            ),
            CatalogError::Missing { path } => {
                write!(f, "the event catalog {} does not exist; write it with {BLESS}=1 and commit it", path.display())
            }
            CatalogError::Io { path, source } => write!(f, "the event catalog {}: {source}", path.display()),
        }
    }
}

impl fmt::Debug for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for CatalogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CatalogError::Io { source, .. } => Some(source),
            CatalogError::Stale { .. } | CatalogError::Missing { .. } => None,
        }
    }
}

/// The registry, joined: for each stored event name, its versions, emitters and readers.
struct Model {
    /// Stored name → its versions, oldest first.
    events: BTreeMap<&'static str, Vec<&'static EventShape>>,
    aggregates: Vec<&'static AggregateShape>,
    projections: Vec<&'static ProjectionShape>,
    processes: Vec<&'static ProcessShape>,
}

/// `aggregate` `Command`: one command that emits an event.
type Emitter = (&'static str, &'static str);

impl Model {
    fn of_registry() -> Model {
        Model::new(registry::events(), registry::aggregates(), registry::projections())
            .with_processes(registry::processes())
    }

    fn with_processes(mut self, processes: impl Iterator<Item = &'static ProcessShape>) -> Model {
        self.processes = processes.collect();
        self
    }

    fn new(
        events: impl Iterator<Item = &'static EventShape>,
        aggregates: impl Iterator<Item = &'static AggregateShape>,
        projections: impl Iterator<Item = &'static ProjectionShape>,
    ) -> Model {
        let mut by_name: BTreeMap<&'static str, Vec<&'static EventShape>> = BTreeMap::new();
        for event in events {
            let versions = by_name.entry(event.name).or_default();
            // Two types of one name and version are one entry (the schema lock checks they agree).
            if !versions.iter().any(|known| known.version == event.version) {
                versions.push(event);
            }
        }
        Model {
            events: by_name,
            aggregates: aggregates.collect(),
            projections: projections.collect(),
            processes: Vec::new(),
        }
    }

    /// The commands that emit `event`.
    fn emitters(&self, event: &str) -> Vec<Emitter> {
        let mut found = Vec::new();
        for aggregate in &self.aggregates {
            for command in aggregate.commands.iter().filter(|c| c.emits.contains(&event)) {
                found.push((aggregate.name, command.name));
            }
        }
        found
    }

    /// The projections that read `event`.
    fn readers(&self, event: &str) -> Vec<&'static str> {
        let mut found: Vec<&'static str> = Vec::new();
        for projection in &self.projections {
            if projection.handlers.iter().any(|h| h.event == event) && !found.contains(&projection.name) {
                found.push(projection.name);
            }
        }
        found
    }

    /// The process managers that handle `event`.
    fn handlers(&self, event: &str) -> Vec<&'static str> {
        let handles = |p: &&&ProcessShape| p.handlers.iter().any(|h| h.event == event);
        self.processes.iter().filter(handles).map(|p| p.name).collect()
    }

    /// What looks wrong in the model: events no projection or process reads, handlers for
    /// events no aggregate emits (or not the aggregate they are narrowed to).
    fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let applied: BTreeSet<(&str, &str)> =
            self.aggregates.iter().flat_map(|a| a.events.iter().map(move |e| (a.name, *e))).collect();
        for name in self.events.keys() {
            if self.readers(name).is_empty() && self.handlers(name).is_empty() {
                warnings.push(format!("no projection reads `{name}`"));
            }
        }
        let readers = self.projections.iter().map(|p| ("projection", p.name, p.handlers));
        let readers = readers.chain(self.processes.iter().map(|p| ("process manager", p.name, p.handlers)));
        for (kind, reader, handlers) in readers {
            for handler in handlers {
                let emitted = match handler.aggregate {
                    Some(aggregate) => applied.contains(&(aggregate, handler.event)),
                    None => applied.iter().any(|(_, event)| *event == handler.event),
                };
                if !emitted {
                    let from = handler.aggregate.map(|a| format!(" `{a}`")).unwrap_or_default();
                    warnings.push(format!(
                        "the {kind} `{reader}` reads `{}`, which no aggregate{from} of this program emits",
                        handler.event
                    ));
                }
            }
        }
        warnings
    }

    fn markdown(&self) -> String {
        let mut page = String::from("# Event catalog\n\n");
        page.push_str(&format!(
            "Written by `factum::catalog` from the code: do not edit it by hand; `{BLESS}=1 cargo test` writes it \
             again.\n\n"
        ));
        page.push_str("```mermaid\n");
        page.push_str(&self.mermaid());
        page.push_str("```\n");

        page.push_str("\n## Events\n");
        for (name, versions) in &self.events {
            let current = versions.last().expect("a stored name has a version");
            let _ = write!(page, "\n### `{name}` v{}\n\n`{}`", current.version, current.rust_type);
            let older: Vec<String> =
                versions[..versions.len() - 1].iter().map(|v| format!("v{} (`{}`)", v.version, v.rust_type)).collect();
            if !older.is_empty() {
                let _ = write!(page, "; older versions still read: {}", older.join(", "));
            }
            page.push_str("\n\n");
            let fields = current.fields();
            if fields.is_empty() {
                page.push_str(if matches!(current.body, registry::Body::Enum(_)) {
                    "An enum: see its variants in the schema lock.\n"
                } else {
                    "No fields.\n"
                });
            } else {
                page.push_str("| field | type | serde |\n|---|---|---|\n");
                for field in fields {
                    let _ = writeln!(page, "| `{}` | `{}` | {} |", field.name, field.ty, code_list(field.serde));
                }
            }
            let emitters: Vec<String> = self.emitters(name).iter().map(|(a, c)| format!("`{a}` {c}")).collect();
            let _ = writeln!(page, "\nEmitted by: {}\\", or_none(&emitters));
            let mut readers: Vec<String> = self.readers(name).iter().map(|p| format!("`{p}`")).collect();
            readers.extend(self.handlers(name).iter().map(|p| format!("process manager `{p}`")));
            let _ = writeln!(page, "Read by: {}", or_none(&readers));
        }

        page.push_str("\n## Aggregates\n");
        for aggregate in &self.aggregates {
            let _ = write!(page, "\n### `{}`\n\n`{}`\n\n", aggregate.name, aggregate.rust_type);
            page.push_str("| command | emits |\n|---|---|\n");
            for command in aggregate.commands {
                let _ = writeln!(page, "| {} | {} |", command.name, code_list(command.emits));
            }
        }

        page.push_str("\n## Projections\n");
        for projection in &self.projections {
            let _ = write!(page, "\n### `{}`\n\n`{}`\n\n", projection.name, projection.rust_type);
            let _ = writeln!(page, "Reads: {}\\", or_none(&handled(projection.handlers)));
            let queries: Vec<String> = projection.queries.iter().map(|q| q.to_string()).collect();
            let _ = writeln!(page, "Queries: {}", or_none(&queries));
        }

        if !self.processes.is_empty() {
            page.push_str("\n## Process managers\n");
        }
        for process in &self.processes {
            let _ = write!(page, "\n### `{}`\n\n`{}`\n\n", process.name, process.rust_type);
            let _ = writeln!(page, "Handles: {}\\", or_none(&handled(process.handlers)));
            let _ = writeln!(page, "Sends commands to: {}\\", code_list(process.sends));
            let _ = writeln!(page, "Deadlines: {}", code_list(process.deadlines));
        }

        let warnings = self.warnings();
        if !warnings.is_empty() {
            page.push_str("\n## Warnings\n\n");
            for warning in warnings {
                let _ = writeln!(page, "- {warning}");
            }
        }
        page
    }

    /// The flowchart: each aggregate's commands in a box of their own, an edge from each to
    /// the events it emits, from each event to the projections and process managers that
    /// read it, and from each process manager to the aggregates it sends commands to.
    fn mermaid(&self) -> String {
        let mut chart = String::from("flowchart LR\n");
        let event_ids: BTreeMap<&str, String> =
            self.events.keys().enumerate().map(|(i, name)| (*name, format!("e{i}"))).collect();
        for (name, id) in &event_ids {
            let _ = writeln!(chart, "    {id}([\"{}\"])", label(name));
        }
        for (a, aggregate) in self.aggregates.iter().enumerate() {
            let _ = writeln!(chart, "    subgraph a{a} [\"{}\"]", label(aggregate.name));
            for (c, command) in aggregate.commands.iter().enumerate() {
                let _ = writeln!(chart, "        a{a}c{c}[\"{}\"]", label(command.name));
            }
            chart.push_str("    end\n");
            for (c, command) in aggregate.commands.iter().enumerate() {
                for event in command.emits {
                    if let Some(id) = event_ids.get(event) {
                        let _ = writeln!(chart, "    a{a}c{c} --> {id}");
                    }
                }
            }
        }
        for (p, projection) in self.projections.iter().enumerate() {
            let _ = writeln!(chart, "    p{p}[[\"{}\"]]", label(projection.name));
            let mut seen = BTreeSet::new();
            for handler in projection.handlers.iter().filter(|h| seen.insert(h.event)) {
                if let Some(id) = event_ids.get(handler.event) {
                    let _ = writeln!(chart, "    {id} --> p{p}");
                }
            }
        }
        for (q, process) in self.processes.iter().enumerate() {
            let _ = writeln!(chart, "    q{q}{{{{\"{}\"}}}}", label(process.name));
            let mut seen = BTreeSet::new();
            for handler in process.handlers.iter().filter(|h| seen.insert(h.event)) {
                if let Some(id) = event_ids.get(handler.event) {
                    let _ = writeln!(chart, "    {id} --> q{q}");
                }
            }
            for target in process.sends {
                if let Some(a) = self.aggregates.iter().position(|a| a.name == *target) {
                    let _ = writeln!(chart, "    q{q} -.-> a{a}");
                }
            }
        }
        chart
    }

    fn json(&self) -> serde_json::Value {
        use serde_json::json;
        let events: Vec<serde_json::Value> = self
            .events
            .iter()
            .map(|(name, versions)| {
                let versions: Vec<serde_json::Value> = versions
                    .iter()
                    .map(|v| {
                        let fields: Vec<serde_json::Value> = v
                            .fields()
                            .iter()
                            .map(|f| json!({ "name": f.name, "type": f.ty, "serde": f.serde }))
                            .collect();
                        json!({
                            "version": v.version,
                            "rust_type": v.rust_type,
                            "upcast_from": v.upcast_from,
                            "serde": v.serde,
                            "fields": fields,
                        })
                    })
                    .collect();
                let emitted_by: Vec<serde_json::Value> = self
                    .emitters(name)
                    .iter()
                    .map(|(aggregate, command)| json!({ "aggregate": aggregate, "command": command }))
                    .collect();
                json!({
                    "name": name,
                    "versions": versions,
                    "emitted_by": emitted_by,
                    "read_by": self.readers(name),
                    "handled_by": self.handlers(name),
                })
            })
            .collect();
        let aggregates: Vec<serde_json::Value> = self
            .aggregates
            .iter()
            .map(|a| {
                let commands: Vec<serde_json::Value> =
                    a.commands.iter().map(|c| json!({ "name": c.name, "emits": c.emits })).collect();
                json!({ "name": a.name, "rust_type": a.rust_type, "commands": commands, "events": a.events })
            })
            .collect();
        let projections: Vec<serde_json::Value> = self
            .projections
            .iter()
            .map(|p| {
                let reads: Vec<serde_json::Value> =
                    p.handlers.iter().map(|h| json!({ "event": h.event, "aggregate": h.aggregate })).collect();
                json!({ "name": p.name, "rust_type": p.rust_type, "reads": reads, "queries": p.queries })
            })
            .collect();
        let processes: Vec<serde_json::Value> = self
            .processes
            .iter()
            .map(|p| {
                let handles: Vec<serde_json::Value> =
                    p.handlers.iter().map(|h| json!({ "event": h.event, "aggregate": h.aggregate })).collect();
                json!({
                    "name": p.name,
                    "rust_type": p.rust_type,
                    "handles": handles,
                    "sends": p.sends,
                    "deadlines": p.deadlines,
                })
            })
            .collect();
        json!({
            "events": events,
            "aggregates": aggregates,
            "projections": projections,
            "processes": processes,
            "warnings": self.warnings(),
        })
    }
}

/// `a`, `b` as code, or a dash for none.
fn code_list(items: &[&str]) -> String {
    if items.is_empty() {
        "–".to_owned()
    } else {
        items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
    }
}

/// The events handlers take, as code, each with the aggregate it is narrowed to.
fn handled(handlers: &[HandlerShape]) -> Vec<String> {
    handlers
        .iter()
        .map(|h| match h.aggregate {
            Some(aggregate) => format!("`{}` of `{aggregate}`", h.event),
            None => format!("`{}`", h.event),
        })
        .collect()
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() { "none".to_owned() } else { items.join(", ") }
}

/// A name as a Mermaid label inside double quotes.
fn label(name: &str) -> String {
    name.replace('"', "#quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Body, CommandShape, FieldShape, HandlerShape};

    fn leak<T>(value: T) -> &'static T {
        Box::leak(Box::new(value))
    }

    fn event(name: &'static str, version: u32, fields: &'static [FieldShape]) -> &'static EventShape {
        leak(EventShape {
            name,
            version,
            rust_type: "bank::Event",
            upcast_from: None,
            serde: &[],
            body: Body::Struct(fields),
        })
    }

    fn model() -> Model {
        let amount: &'static [FieldShape] = &[FieldShape { name: "amount", ty: "u64", serde: &[] }];
        let events = [
            event("Deposited", 1, amount),
            event("Withdrawn", 1, amount),
            event("Withdrawn", 2, amount),
            event("Frozen", 1, &[]),
        ];
        let account = leak(AggregateShape {
            name: "account",
            rust_type: "bank::Account",
            commands: leak([
                CommandShape { name: "Deposit", emits: &["Deposited"] },
                CommandShape { name: "Withdraw", emits: &["Withdrawn"] },
                CommandShape { name: "Freeze", emits: &["Frozen"] },
            ]),
            events: &["Deposited", "Withdrawn", "Frozen"],
        });
        let balances = leak(ProjectionShape {
            name: "balances",
            rust_type: "bank::Balances",
            handlers: leak([
                HandlerShape { event: "Deposited", aggregate: None },
                HandlerShape { event: "Withdrawn", aggregate: Some("account") },
                HandlerShape { event: "Closed", aggregate: None },
                HandlerShape { event: "Frozen", aggregate: Some("ledger") },
            ]),
            queries: &["Balance"],
        });
        Model::new(events.into_iter(), [account].into_iter(), [balances].into_iter())
    }

    #[test]
    fn the_page_joins_commands_events_and_projections() {
        let page = model().markdown();
        assert!(
            page.contains(
                "### `Withdrawn` v2\n\n`bank::Event`; older versions still read: v1 (`bank::Event`)\n\n| field | type | serde |\n|---|---|---|\n| `amount` | `u64` | – |\n\nEmitted by: `account` Withdraw\\\nRead by: `balances`\n"
            ),
            "{page}"
        );
        assert!(page.contains("| Deposit | `Deposited` |\n"), "{page}");
        assert!(
            page.contains(
                "Reads: `Deposited`, `Withdrawn` of `account`, `Closed`, `Frozen` of `ledger`\\\nQueries: Balance\n"
            ),
            "{page}"
        );
        assert!(page.contains("    subgraph a0 [\"account\"]\n        a0c0[\"Deposit\"]\n"), "{page}");
        assert!(page.contains("    a0c1 --> e2\n"), "{page}");
        assert!(page.contains("    p0[[\"balances\"]]\n    e0 --> p0\n    e2 --> p0\n    e1 --> p0\n"), "{page}");
    }

    #[test]
    fn process_managers_are_listed_and_drawn() {
        let payout = leak(ProcessShape {
            name: "payout",
            rust_type: "bank::Payout",
            handlers: leak([
                HandlerShape { event: "Frozen", aggregate: None },
                HandlerShape { event: "Seized", aggregate: None },
            ]),
            sends: &["account"],
            deadlines: &["Reminder"],
        });
        let model = model().with_processes([payout].into_iter());
        let page = model.markdown();
        assert!(page.contains("Read by: `balances`, process manager `payout`\n"), "{page}");
        assert!(
            page.contains(
                "## Process managers\n\n### `payout`\n\n`bank::Payout`\n\nHandles: `Frozen`, `Seized`\\\nSends commands to: `account`\\\nDeadlines: `Reminder`\n"
            ),
            "{page}"
        );
        assert!(page.contains("    q0{{\"payout\"}}\n    e1 --> q0\n    q0 -.-> a0\n"), "{page}");
        assert_eq!(
            model.warnings().last().map(String::as_str),
            Some("the process manager `payout` reads `Seized`, which no aggregate of this program emits")
        );
        assert_eq!(model.json()["processes"][0]["sends"], serde_json::json!(["account"]));
    }

    #[test]
    fn unread_events_and_handlers_for_nothing_are_warned_about() {
        assert_eq!(
            model().warnings(),
            [
                "the projection `balances` reads `Closed`, which no aggregate of this program emits",
                "the projection `balances` reads `Frozen`, which no aggregate `ledger` of this program emits",
            ]
        );
        let quiet = Model::new([event("Deposited", 1, &[])].into_iter(), std::iter::empty(), std::iter::empty());
        assert_eq!(quiet.warnings(), ["no projection reads `Deposited`"]);
    }

    #[test]
    fn a_missing_or_stale_page_says_so() {
        let dir = std::env::temp_dir().join(format!("factum-catalog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("CATALOG.md");
        let page = model().markdown();
        let missing = check_page(&path, &page, false).unwrap_err().to_string();
        assert!(missing.ends_with("does not exist; write it with FACTUM_BLESS=1 and commit it"), "{missing}");
        std::fs::write(&path, "# Event catalog\n\nsomething else\n").unwrap();
        let stale = check_page(&path, &page, false).unwrap_err().to_string();
        assert!(stale.contains("is stale: from line 3 on, the code gives \"Written by `factum::catalog`"), "{stale}");
        check_page(&path, &page, true).unwrap();
        check_page(&path, &page, false).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_json_holds_the_same_model() {
        let json = model().json();
        assert_eq!(json["events"][2]["name"], "Withdrawn");
        assert_eq!(json["events"][2]["versions"][1]["version"], 2);
        assert_eq!(json["events"][2]["emitted_by"][0]["command"], "Withdraw");
        assert_eq!(json["aggregates"][0]["commands"][2]["emits"][0], "Frozen");
        assert_eq!(json["projections"][0]["reads"][1]["aggregate"], "account");
        assert_eq!(json["warnings"].as_array().unwrap().len(), 2);
    }
}
