//! The Markdown table both comparison binaries print: medians with their spread, and the
//! ratio against the other side where there is one.

use crate::measure::Stats;

pub struct Row {
    pub section: &'static str,
    pub figure: String,
    pub unit: &'static str,
    pub factum: Stats,
    pub other: Option<Stats>,
    pub note: String,
}

#[derive(Default)]
pub struct Table {
    pub rows: Vec<Row>,
}

impl Table {
    /// Adds a row (and shows it on stderr at once).
    pub fn push(
        &mut self,
        section: &'static str,
        figure: impl Into<String>,
        unit: &'static str,
        factum: Stats,
    ) -> &mut Row {
        let row = Row { section, figure: figure.into(), unit, factum, other: None, note: String::new() };
        eprintln!("  {:<62} {}", row.figure, cell(&row.factum, row.unit));
        self.rows.push(row);
        self.rows.last_mut().expect("just pushed")
    }

    /// The table in Markdown, on stdout. `other` names the other side.
    pub fn print(&self, other: &str) {
        println!("| section | figure | factum | {other} | factum / {other} | notes |");
        println!("|---|---|---|---|---|---|");
        for row in &self.rows {
            let (other, ratio) = match &row.other {
                Some(other) => (cell(other, row.unit), format!("**{:.2}**", row.factum.median / other.median)),
                None => ("–".to_owned(), "–".to_owned()),
            };
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                row.section,
                row.figure,
                cell(&row.factum, row.unit),
                other,
                ratio,
                row.note
            );
        }
    }
}

impl Row {
    /// The other side of the comparison, in the same unit.
    pub fn versus(&mut self, other: Stats) -> &mut Row {
        eprintln!("  {:<62} {}", "  (other side)", cell(&other, self.unit));
        self.other = Some(other);
        self
    }

    pub fn note(&mut self, note: impl Into<String>) -> &mut Row {
        self.note = note.into();
        self
    }
}

/// `median unit (min–max)`.
pub fn cell(stats: &Stats, unit: &str) -> String {
    format!("{} {unit} ({}–{})", num(stats.median), num(stats.min), num(stats.max))
}

/// A number rounded to three or so significant digits, with thousands separators.
pub fn num(x: f64) -> String {
    let digits = if x >= 100.0 {
        0
    } else if x >= 10.0 {
        1
    } else {
        2
    };
    let text = format!("{x:.digits$}");
    let (int, frac) = text.split_once('.').map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let (sign, int) = int.strip_prefix('-').map_or(("", int), |rest| ("-", rest));
    let mut grouped = String::from(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(frac) => format!("{grouped}.{frac}"),
        None => grouped,
    }
}

/// `label latency p50 / p95 / p99: a / b / c µs`, over every sample of every round.
pub fn latency_note(label: &str, latencies_us: &[f64]) -> String {
    if latencies_us.is_empty() {
        return String::new();
    }
    let s = Stats::of(latencies_us);
    format!("{label} latency p50 / p95 / p99: {} / {} / {} µs", num(s.median), num(s.p95), num(s.p99))
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn numbers_are_grouped_and_rounded() {
        assert_eq!(num(1234567.4), "1,234,567");
        assert_eq!(num(12.345), "12.3");
        assert_eq!(num(1.2345), "1.23");
        assert_eq!(num(100.0), "100");
    }
}
