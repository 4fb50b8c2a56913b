//! The schema lock: the stored shape of every event, committed beside the code and checked
//! by a test, so that a shape that changes under an unchanged version fails the build
//! instead of failing to decode old events in production.
//!
//! ```no_run
//! #[test]
//! fn stored_events_keep_their_shape() {
//!     factum::schema::check("events.lock").unwrap();
//! }
//! ```
//!
//! [`check`] compares the shapes in the [`registry`] with the file:
//! - a shape changed under the same name and version (a field added, removed, renamed or
//!   retyped, a `serde` attribute changed) fails with the event, the change and the fix:
//!   keep the old type, give the new one the next version and `upcast_from` the old;
//! - a new event, or a new version, is not in the file yet: it fails until the file is
//!   written again with `FACTUM_BLESS=1`, so that it is added on purpose, in review;
//! - a version in the file that no type reads any more fails too: old streams may still
//!   hold it. Keep its type (as the `upcast_from` of the next version), or, if no store
//!   holds such an event, drop it from the file with `FACTUM_BLESS=1`.
//!
//! `FACTUM_BLESS=1 cargo test` writes the file from the code. The file is text, one entry
//! per stored name and version, meant to be read in review:
//!
//! ```text
//! MoneyWithdrawn v2 = bank::MoneyWithdrawn
//!     upcasts from MoneyWithdrawnV1
//!     field amount: u64
//!     field reason: String; serde default
//! ```
//!
//! The Rust type and the upcast are there for the reader; only the stored shape (fields,
//! types, `serde` attributes, variants) is compared.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::registry::{self, Body, EventShape, FieldShape};

/// The environment variable that makes [`check`] write the lock file instead of comparing.
pub const BLESS: &str = "FACTUM_BLESS";

/// What the lock file starts with.
const HEADER: &str = "# The stored shape of every event: checked by factum::schema::check, written with FACTUM_BLESS=1.
# A shape never changes under the same version: give the new shape the next version and
# `upcast_from` the old type instead. Only the field, variant and serde lines are compared.
";

/// Compares the events of this program with the lock file at `path` (relative to the
/// working directory: the package's root under `cargo test`), or writes the file when
/// `FACTUM_BLESS=1` is set. See the [module docs](self).
pub fn check(path: impl AsRef<Path>) -> Result<(), SchemaError> {
    let bless = std::env::var_os(BLESS).is_some_and(|v| v == "1");
    check_entries(path.as_ref(), &entries_of(registry::events())?, bless)
}

/// [`check`] of the `code`'s entries: writes them when `bless`, else compares.
fn check_entries(path: &Path, code: &Entries, bless: bool) -> Result<(), SchemaError> {
    if bless {
        std::fs::write(path, render(code)).map_err(|source| SchemaError::Io { path: path.to_path_buf(), source })?;
        return Ok(());
    }
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
            return Err(SchemaError::Changed { path: path.to_path_buf(), problems: vec![Problem::NoLock] });
        }
        Err(source) => return Err(SchemaError::Io { path: path.to_path_buf(), source }),
    };
    let locked =
        parse(&text).map_err(|(line, reason)| SchemaError::Unreadable { path: path.to_path_buf(), line, reason })?;
    let problems = compare(&locked, code);
    if problems.is_empty() { Ok(()) } else { Err(SchemaError::Changed { path: path.to_path_buf(), problems }) }
}

/// Why [`check`] failed. Its `Debug` is its report, so that `check(..).unwrap()` in a
/// test prints what changed and what to do.
#[non_exhaustive]
pub enum SchemaError {
    /// The code and the lock file disagree.
    Changed {
        /// The lock file.
        path: PathBuf,
        /// Each disagreement, with what to do about it.
        problems: Vec<Problem>,
    },
    /// Two event types of this program are stored under one name and version, with
    /// different shapes.
    Ambiguous {
        /// The stored name and version.
        event: String,
        /// The two Rust types.
        types: (String, String),
    },
    /// The lock file is not in the format [`check`] writes.
    Unreadable {
        /// The lock file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The lock file could not be read or written.
    Io {
        /// The lock file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// One disagreement between the code and the lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// There is no lock file yet.
    NoLock,
    /// The stored shape of an event changed under the same version.
    ShapeChanged {
        /// `Name vN`.
        event: String,
        /// What changed, one line each (`field amount: u64 became u32`).
        changes: Vec<String>,
        /// The fix, with the names and versions filled in.
        fix: String,
    },
    /// An event or version of the code is not in the file.
    New {
        /// `Name vN`.
        event: String,
    },
    /// A version in the file that no type of the code reads any more.
    Unread {
        /// `Name vN`.
        event: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NoLock => write!(f, "the file does not exist; write it with {BLESS}=1 and commit it"),
            Problem::ShapeChanged { event, changes, fix } => {
                writeln!(f, "{event} changed its stored shape under the same version:")?;
                for change in changes {
                    writeln!(f, "    {change}")?;
                }
                write!(f, "  events already stored at this version no longer decode as written. {fix}")
            }
            Problem::New { event } => {
                write!(f, "{event} is not in the file: if it is meant to be stored, add it with {BLESS}=1")
            }
            Problem::Unread { event } => write!(
                f,
                "{event} is in the file, but no type reads it any more, and old streams may still hold it: keep \
                 its type (as the `upcast_from` of the next version); if no store holds such an event, drop it \
                 from the file with {BLESS}=1"
            ),
        }
    }
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaError::Changed { path, problems } => {
                write!(f, "the events of this program disagree with the schema lock {}:", path.display())?;
                for problem in problems {
                    write!(f, "\n- {problem}")?;
                }
                Ok(())
            }
            SchemaError::Ambiguous { event, types } => write!(
                f,
                "{event} is the stored name and version of two types with different shapes, {} and {}: give one \
                 of them another name or version",
                types.0, types.1
            ),
            SchemaError::Unreadable { path, line, reason } => {
                write!(f, "the schema lock {} is not readable at line {line}: {reason}", path.display())
            }
            SchemaError::Io { path, source } => write!(f, "the schema lock {}: {source}", path.display()),
        }
    }
}

impl fmt::Debug for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for SchemaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SchemaError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// One entry of the lock: the header (name, version, Rust type), the lines for the reader,
/// and the compared lines of the stored shape.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    rust_type: String,
    notes: Vec<String>,
    shape: Vec<String>,
}

/// `(name, version)` to its entry.
type Entries = BTreeMap<(String, u32), Entry>;

/// The entries of the registered shapes; one type per name and version.
fn entries_of(shapes: impl Iterator<Item = &'static EventShape>) -> Result<Entries, SchemaError> {
    let mut entries = Entries::new();
    for shape in shapes {
        let entry = Entry {
            rust_type: shape.rust_type.to_owned(),
            notes: shape.upcast_from.map(|old| format!("upcasts from {old}")).into_iter().collect(),
            shape: shape_lines(shape),
        };
        let key = (shape.name.to_owned(), shape.version);
        match entries.get(&key) {
            Some(known) if known.shape != entry.shape => {
                return Err(SchemaError::Ambiguous {
                    event: label(&key),
                    types: (known.rust_type.clone(), entry.rust_type),
                });
            }
            Some(_) => {}
            None => {
                entries.insert(key, entry);
            }
        }
    }
    Ok(entries)
}

fn label((name, version): &(String, u32)) -> String {
    format!("{name} v{version}")
}

/// The compared lines of a shape: the type's serde attributes, then its fields or variants.
fn shape_lines(shape: &EventShape) -> Vec<String> {
    let mut lines: Vec<String> = shape.serde.iter().map(|attr| format!("serde {attr}")).collect();
    match shape.body {
        Body::Struct(fields) | Body::Tuple(fields) => {
            lines.extend(fields.iter().map(|f| format!("field {}", field(f))))
        }
        Body::Unit => lines.push("unit".to_owned()),
        Body::Enum(variants) => lines.extend(variants.iter().map(|v| {
            let fields: Vec<String> = v.fields.iter().map(field).collect();
            let body = match (v.fields.is_empty(), v.tuple) {
                (true, _) => String::new(),
                (false, true) => format!("({})", fields.join(", ")),
                (false, false) => format!(" {{ {} }}", fields.join(", ")),
            };
            let serde = if v.serde.is_empty() { String::new() } else { format!("; serde {}", v.serde.join(", ")) };
            format!("variant {}{body}{serde}", v.name)
        })),
    }
    lines
}

/// `name: Type` and, if it has any, `; serde attr, attr`.
fn field(field: &FieldShape) -> String {
    let serde = if field.serde.is_empty() { String::new() } else { format!("; serde {}", field.serde.join(", ")) };
    format!("{}: {}{serde}", field.name, field.ty)
}

/// The lock file's text for `entries`.
fn render(entries: &Entries) -> String {
    let mut text = HEADER.to_owned();
    for (key, entry) in entries {
        text.push_str(&format!("\n{} = {}\n", label(key), entry.rust_type));
        for line in entry.notes.iter().chain(&entry.shape) {
            text.push_str(&format!("    {line}\n"));
        }
    }
    text
}

/// Reads a lock file back; an error names the line (from 1) and what is wrong.
fn parse(text: &str) -> Result<Entries, (usize, String)> {
    let mut entries = Entries::new();
    let mut current: Option<((String, u32), Entry)> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(body) = line.strip_prefix("    ") {
            let Some((_, entry)) = current.as_mut() else {
                return Err((number, "an indented line before the first event".to_owned()));
            };
            if body.starts_with("upcasts from ") {
                entry.notes.push(body.to_owned());
            } else {
                entry.shape.push(body.to_owned());
            }
            continue;
        }
        let header = || (number, format!("expected `Name vN = path::Type`, found {line:?}"));
        let (event, rust_type) = line.split_once(" = ").ok_or_else(header)?;
        let (name, version) = event.rsplit_once(" v").ok_or_else(header)?;
        let version: u32 = version.parse().map_err(|_| header())?;
        let key = (name.to_owned(), version);
        if entries.contains_key(&key) || current.as_ref().is_some_and(|(k, _)| *k == key) {
            return Err((number, format!("{} is in the file twice", label(&key))));
        }
        if let Some((key, entry)) = current.take() {
            entries.insert(key, entry);
        }
        current = Some((key, Entry { rust_type: rust_type.to_owned(), notes: Vec::new(), shape: Vec::new() }));
    }
    if let Some((key, entry)) = current {
        entries.insert(key, entry);
    }
    Ok(entries)
}

/// Every disagreement between the file's `locked` entries and the `code`'s.
fn compare(locked: &Entries, code: &Entries) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (key, entry) in code {
        match locked.get(key) {
            None => problems.push(Problem::New { event: label(key) }),
            Some(old) if old.shape != entry.shape => problems.push(Problem::ShapeChanged {
                event: label(key),
                changes: changes(&old.shape, &entry.shape),
                fix: fix(key, &old.rust_type),
            }),
            Some(_) => {}
        }
    }
    for key in locked.keys().filter(|key| !code.contains_key(*key)) {
        problems.push(Problem::Unread { event: label(key) });
    }
    problems
}

/// What to do when the shape stored as `key` changed: the type locked as `rust_type` stays as
/// it was, under another name, and the new shape is the next version, upcast from it.
fn fix((name, version): &(String, u32), rust_type: &str) -> String {
    let ident = rust_type.rsplit("::").next().unwrap_or(rust_type);
    let old = format!("{ident}V{version}");
    format!(
        "Keep the old shape as the type `{old}` (with #[event(name = \"{name}\", version = {version})]), give the new \
         one #[event(name = \"{name}\", version = {next}, upcast_from = {old})] and `impl From<{old}>`, then write the \
         file again with {BLESS}=1",
        next = version + 1
    )
}

/// What changed from the `old` shape lines to the `new` ones, in words.
fn changes(old: &[String], new: &[String]) -> Vec<String> {
    /// A line's kind and name (`field amount`, `variant Opened`, `serde`, `unit`), and the rest.
    fn split(line: &str) -> (String, &str) {
        for kind in ["field ", "variant "] {
            if let Some(rest) = line.strip_prefix(kind) {
                let end = rest.find([':', '(', ' ', ';']).unwrap_or(rest.len());
                return (format!("{kind}{}", &rest[..end]), &rest[end..]);
            }
        }
        (line.to_owned(), "")
    }
    let old_keys: BTreeMap<String, &str> = old.iter().map(|l| split(l)).collect();
    let new_keys: BTreeMap<String, &str> = new.iter().map(|l| split(l)).collect();
    let mut changes = Vec::new();
    for line in old {
        let (key, rest) = split(line);
        match new_keys.get(&key) {
            None => changes.push(format!("removed: {line}")),
            Some(now) if *now != rest => changes.push(format!("changed: {line} became {key}{now}")),
            Some(_) => {}
        }
    }
    for line in new {
        if !old_keys.contains_key(&split(line).0) {
            changes.push(format!("added: {line}"));
        }
    }
    if changes.is_empty() {
        // The same lines in another order: field order matters to some formats.
        changes.push(format!("reordered: {} became {}", old.join(" / "), new.join(" / ")));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Body, EventShape, FieldShape, VariantShape};

    const fn f(name: &'static str, ty: &'static str) -> FieldShape {
        FieldShape { name, ty, serde: &[] }
    }

    fn withdrawn(fields: &[FieldShape], serde: &[&'static str]) -> EventShape {
        EventShape {
            name: "MoneyWithdrawn",
            version: 2,
            rust_type: "bank::MoneyWithdrawn",
            upcast_from: Some("MoneyWithdrawnV1"),
            serde: leaked(serde),
            body: Body::Struct(leaked(fields)),
        }
    }

    /// The problems of `now` against a lock written from `before`.
    fn against(before: &[&'static EventShape], now: &[&'static EventShape]) -> Vec<Problem> {
        let text = render(&entries_of(before.iter().copied()).unwrap());
        compare(&parse(&text).unwrap(), &entries_of(now.iter().copied()).unwrap())
    }

    /// A `'static` copy of `items`.
    fn leaked<T: Clone>(items: &[T]) -> &'static [T] {
        Box::leak(items.to_vec().into_boxed_slice())
    }

    fn leak(shape: EventShape) -> &'static EventShape {
        Box::leak(Box::new(shape))
    }

    #[test]
    fn each_kind_of_change_is_named() {
        let locked = leak(withdrawn(&[f("amount", "u64"), f("reason", "String")], &[]));
        let cases: [(EventShape, &[&str]); 6] = [
            (
                withdrawn(&[f("amount", "u64"), f("reason", "String"), f("by", "String")], &[]),
                &["added: field by: String"],
            ),
            (withdrawn(&[f("amount", "u64")], &[]), &["removed: field reason: String"]),
            (
                withdrawn(&[f("amount", "u64"), f("why", "String")], &[]),
                &["removed: field reason: String", "added: field why: String"],
            ),
            (
                withdrawn(&[f("amount", "u32"), f("reason", "String")], &[]),
                &["changed: field amount: u64 became field amount: u32"],
            ),
            (
                withdrawn(
                    &[f("amount", "u64"), FieldShape { name: "reason", ty: "String", serde: leaked(&["default"]) }],
                    &[],
                ),
                &["changed: field reason: String became field reason: String; serde default"],
            ),
            (
                withdrawn(&[f("amount", "u64"), f("reason", "String")], &["rename_all = \"camelCase\""]),
                &["added: serde rename_all = \"camelCase\""],
            ),
        ];
        for (now, expected) in cases {
            let problems = against(&[locked], &[leak(now)]);
            let [Problem::ShapeChanged { event, changes, .. }] = &problems[..] else {
                panic!("one changed shape expected: {problems:?}");
            };
            assert_eq!(event, "MoneyWithdrawn v2");
            assert_eq!(changes, expected);
        }
        let reordered = leak(withdrawn(&[f("reason", "String"), f("amount", "u64")], &[]));
        assert!(
            matches!(&against(&[locked], &[reordered])[..], [Problem::ShapeChanged { changes, .. }] if changes[0].starts_with("reordered: "))
        );
    }

    #[test]
    fn new_and_unread_versions_and_the_same_shape() {
        let v2 = leak(withdrawn(&[f("amount", "u64"), f("reason", "String")], &[]));
        let v1 = leak(EventShape {
            version: 1,
            upcast_from: None,
            body: Body::Struct(leaked(&[f("amount", "u64")])),
            ..*v2
        });
        assert_eq!(against(&[v1, v2], &[v1, v2]), []);
        assert_eq!(against(&[v1], &[v1, v2]), [Problem::New { event: "MoneyWithdrawn v2".into() }]);
        assert_eq!(against(&[v1, v2], &[v2]), [Problem::Unread { event: "MoneyWithdrawn v1".into() }]);
        // The Rust type and the upcast are for the reader: moving the type changes nothing.
        let moved = leak(EventShape { rust_type: "ledger::Withdrawn", upcast_from: None, ..*v2 });
        assert_eq!(against(&[v2], &[moved]), []);
    }

    #[test]
    fn the_file_reads_back_as_written_and_names_a_bad_line() {
        let variants: &'static [VariantShape] = leaked(&[
            VariantShape { name: "Opened", serde: &[], fields: leaked(&[f("owner", "String")]), tuple: false },
            VariantShape {
                name: "Moved",
                serde: &["rename = \"moved\""],
                fields: leaked(&[f("0", "u64")]),
                tuple: true,
            },
            VariantShape { name: "Closed", serde: &[], fields: &[], tuple: false },
        ]);
        let shapes = [
            leak(withdrawn(&[f("amount", "u64")], &["deny_unknown_fields"])),
            leak(EventShape {
                name: "Life",
                version: 3,
                rust_type: "a::Life",
                upcast_from: None,
                serde: &[],
                body: Body::Enum(variants),
            }),
            leak(EventShape {
                name: "Closed",
                version: 1,
                rust_type: "a::Closed",
                upcast_from: None,
                serde: &[],
                body: Body::Unit,
            }),
        ];
        let entries = entries_of(shapes.into_iter()).unwrap();
        let text = render(&entries);
        assert!(text.contains("\nLife v3 = a::Life\n    variant Opened { owner: String }\n    variant Moved(0: u64); serde rename = \"moved\"\n    variant Closed\n"), "{text}");
        assert_eq!(parse(&text).unwrap(), entries);
        assert_eq!(
            parse("Priced v1\n").unwrap_err(),
            (1, "expected `Name vN = path::Type`, found \"Priced v1\"".into())
        );
        assert_eq!(parse("    field a: u8\n").unwrap_err().0, 1);
        assert_eq!(parse("A v1 = a::A\nA v1 = b::A\n").unwrap_err(), (2, "A v1 is in the file twice".into()));
    }

    #[test]
    fn two_types_under_one_name_and_version_must_agree() {
        let one = leak(withdrawn(&[f("amount", "u64")], &[]));
        let other = leak(EventShape {
            rust_type: "other::MoneyWithdrawn",
            body: Body::Struct(leaked(&[f("cents", "u64")])),
            ..*one
        });
        let error = entries_of([one, other].into_iter()).unwrap_err();
        assert!(
            error.to_string().starts_with("MoneyWithdrawn v2 is the stored name and version of two types"),
            "{error}"
        );
        let twin = leak(EventShape { rust_type: "other::MoneyWithdrawn", ..*one });
        assert_eq!(entries_of([one, twin].into_iter()).unwrap().len(), 1);
    }

    #[test]
    fn a_report_says_what_changed_and_what_to_do() {
        let problem = Problem::ShapeChanged {
            event: "MoneyWithdrawn v2".into(),
            changes: vec!["added: field by: String".into()],
            fix: fix(&("MoneyWithdrawn".into(), 2), "bank::MoneyWithdrawn"),
        };
        let error = SchemaError::Changed {
            path: "events.lock".into(),
            problems: vec![problem, Problem::New { event: "Paid v1".into() }],
        };
        let report = format!("{error:?}");
        assert!(report.starts_with("the events of this program disagree with the schema lock events.lock:\n- MoneyWithdrawn v2 changed its stored shape under the same version:\n    added: field by: String\n"), "{report}");
        assert!(
            report.contains(
                "Keep the old shape as the type `MoneyWithdrawnV2` (with #[event(name = \"MoneyWithdrawn\", version = 2)]), \
                 give the new one #[event(name = \"MoneyWithdrawn\", version = 3, upcast_from = MoneyWithdrawnV2)]"
            ),
            "{report}"
        );
        assert!(
            report.ends_with("- Paid v1 is not in the file: if it is meant to be stored, add it with FACTUM_BLESS=1"),
            "{report}"
        );
    }

    #[test]
    fn the_file_is_written_when_blessed_and_read_back_otherwise() {
        let dir = std::env::temp_dir().join(format!("factum-schema-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.lock");
        let code = entries_of([leak(withdrawn(&[f("amount", "u64")], &[]))].into_iter()).unwrap();

        let missing = check_entries(&path, &code, false).unwrap_err();
        assert!(matches!(&missing, SchemaError::Changed { problems, .. } if problems == &[Problem::NoLock]));
        assert!(missing.to_string().ends_with("the file does not exist; write it with FACTUM_BLESS=1 and commit it"));

        check_entries(&path, &code, true).unwrap();
        check_entries(&path, &code, false).unwrap();

        // Someone edits the file by hand: the code no longer matches it.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("amount: u64", "amount: u32")).unwrap();
        let changed = check_entries(&path, &code, false).unwrap_err().to_string();
        assert!(changed.contains("changed: field amount: u32 became field amount: u64"), "{changed}");

        std::fs::write(&path, "# nothing\nMoneyWithdrawn = bank::MoneyWithdrawn\n").unwrap();
        let unreadable = check_entries(&path, &code, false).unwrap_err().to_string();
        assert!(unreadable.starts_with(&format!("the schema lock {} is not readable at line 2", path.display())));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
