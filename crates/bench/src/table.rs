//! The one table a run prints: a Markdown table (so it can be pasted into the README) of medians,
//! p99s and rates, and the ratios between rows of the same run.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::stats::Ratios;
use crate::{BenchError, Samples};

enum Cell {
    Timed(Samples),
    Value(String),
    NotMeasured(String),
    Ratio { median: f64, p99: f64 },
    Paired(Ratios),
    Heading,
}

struct Row {
    name: String,
    cell: Cell,
}

/// Rows in the order they were added; timed rows have a key that ratios refer to.
#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
    timed: HashMap<&'static str, usize>,
    paired: HashMap<&'static str, usize>,
    /// latchkeyd's resident memory after the request run, in KiB, for the targets.
    pub rss_kib: Option<u64>,
    /// The load test's answered gets, of how many.
    pub load: Option<(usize, usize)>,
}

/// `1.23 µs`, `456.7 µs`, `12.34 ms`, `1.234 s`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{s:.3} s")
    }
}

fn format_rate(per_second: f64) -> String {
    if per_second >= 100.0 {
        format!("{per_second:.0}/s")
    } else {
        format!("{per_second:.1}/s")
    }
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// A section heading row.
    pub fn heading(&mut self, title: impl Into<String>) {
        let title = title.into();
        eprintln!("== {title}");
        self.rows.push(Row {
            name: title,
            cell: Cell::Heading,
        });
    }

    /// A timed row, or a "not measured" row if `result` is an error. `key` names it for ratios.
    pub fn timed(
        &mut self,
        key: &'static str,
        name: impl Into<String>,
        result: Result<Samples, BenchError>,
    ) {
        let name = name.into();
        eprintln!(
            "   {name}: {}",
            if result.is_ok() {
                "done"
            } else {
                "not measured"
            }
        );
        match result {
            Ok(samples) => {
                self.timed.insert(key, self.rows.len());
                self.rows.push(Row {
                    name,
                    cell: Cell::Timed(samples),
                });
            }
            Err(e) => self.not_measured(name, e.to_string()),
        }
    }

    /// A row that holds a value rather than timings (a count, a size).
    pub fn value(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.rows.push(Row {
            name: name.into(),
            cell: Cell::Value(value.into()),
        });
    }

    /// A row that was not measured, and why.
    pub fn not_measured(&mut self, name: impl Into<String>, reason: impl Into<String>) {
        self.rows.push(Row {
            name: name.into(),
            cell: Cell::NotMeasured(reason.into()),
        });
    }

    /// The samples of the timed row `key`.
    pub fn samples(&self, key: &str) -> Option<&Samples> {
        match self.timed.get(key).map(|&i| &self.rows[i].cell) {
            Some(Cell::Timed(s)) => Some(s),
            _ => None,
        }
    }

    /// A ratio row: the time of `num` over the time of `den` (median over median, p99 over p99);
    /// below 1 means `num` is faster. Not measured if either row was not.
    pub fn ratio(&mut self, name: impl Into<String>, num: &str, den: &str) -> Option<f64> {
        let name = name.into();
        match (self.samples(num), self.samples(den)) {
            (Some(n), Some(d)) => {
                let median = n.median().as_secs_f64() / d.median().as_secs_f64();
                let p99 = n.p99().as_secs_f64() / d.p99().as_secs_f64();
                self.rows.push(Row {
                    name,
                    cell: Cell::Ratio { median, p99 },
                });
                Some(median)
            }
            _ => {
                self.not_measured(name, "a row it divides was not measured");
                None
            }
        }
    }

    /// A row of paired ratios (from [`crate::stats::measure_interleaved`]): their median and
    /// p99, and how many pairs. `key` names it for [`Table::paired`]. Not measured if `result`
    /// is an error.
    pub fn paired_ratios(
        &mut self,
        key: &'static str,
        name: impl Into<String>,
        result: Result<Ratios, BenchError>,
    ) {
        match result {
            Ok(ratios) => {
                self.paired.insert(key, self.rows.len());
                self.rows.push(Row {
                    name: name.into(),
                    cell: Cell::Paired(ratios),
                });
            }
            Err(e) => self.not_measured(name, e.to_string()),
        }
    }

    /// The paired ratios of row `key`.
    pub fn paired(&self, key: &str) -> Option<&Ratios> {
        match self.paired.get(key).map(|&i| &self.rows[i].cell) {
            Some(Cell::Paired(r)) => Some(r),
            _ => None,
        }
    }

    /// How many rows were measured (timed, valued or ratios) and how many were not.
    pub fn counts(&self) -> (usize, usize) {
        let not = self
            .rows
            .iter()
            .filter(|r| matches!(r.cell, Cell::NotMeasured(_)))
            .count();
        let headings = self
            .rows
            .iter()
            .filter(|r| matches!(r.cell, Cell::Heading))
            .count();
        (self.rows.len() - not - headings, not)
    }

    /// The reasons of every row not measured, with its name.
    pub fn not_measured_rows(&self) -> Vec<(&str, &str)> {
        self.rows
            .iter()
            .filter_map(|r| match &r.cell {
                Cell::NotMeasured(why) => Some((r.name.as_str(), why.as_str())),
                _ => None,
            })
            .collect()
    }

    /// The table as Markdown.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("| row | median | p99 | rate (at median) | n |\n");
        out.push_str("|---|---:|---:|---:|---:|\n");
        for r in &self.rows {
            let _ = match &r.cell {
                Cell::Heading => writeln!(out, "| **{}** | | | | |", r.name),
                Cell::Timed(s) => writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    r.name,
                    format_duration(s.median()),
                    format_duration(s.p99()),
                    format_rate(s.per_second()),
                    s.len()
                ),
                Cell::Value(v) => writeln!(out, "| {} | {v} | | | |", r.name),
                Cell::Ratio { median, p99 } => {
                    writeln!(out, "| {} | {median:.2}× | {p99:.2}× | | |", r.name)
                }
                Cell::Paired(ratios) => writeln!(
                    out,
                    "| {} | {:.2}× | {:.2}× | | {} |",
                    r.name,
                    ratios.median(),
                    ratios.quantile(0.99),
                    ratios.len()
                ),
                Cell::NotMeasured(why) => {
                    writeln!(out, "| {} | not measured: {why} | | | |", r.name)
                }
            };
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(ms: &[u64]) -> Samples {
        Samples::from_durations(ms.iter().map(|&m| Duration::from_micros(m)).collect()).unwrap()
    }

    #[test]
    fn renders_rows_ratios_and_reasons() {
        let mut t = Table::new();
        t.heading("1. core");
        t.timed("a", "A", Ok(samples(&[100, 100, 300])));
        t.timed("b", "B", Ok(samples(&[200, 200, 400])));
        t.timed("c", "C", Err(BenchError::setup("swtpm", "not installed")));
        t.value("commands", "1");
        assert_eq!(t.ratio("A ÷ B", "a", "b"), Some(0.5));
        assert_eq!(t.ratio("A ÷ C", "a", "c"), None);
        let s = t.render();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[2], "| **1. core** | | | | |");
        assert_eq!(lines[3], "| A | 100.0 µs | 300.0 µs | 10000/s | 3 |");
        assert_eq!(lines[5], "| C | not measured: swtpm: not installed | | | |");
        assert_eq!(lines[6], "| commands | 1 | | | |");
        assert_eq!(lines[7], "| A ÷ B | 0.50× | 0.75× | | |");
        assert_eq!(
            lines[8],
            "| A ÷ C | not measured: a row it divides was not measured | | | |"
        );
        assert_eq!(t.counts(), (4, 2));
        assert_eq!(t.not_measured_rows().len(), 2);
    }

    #[test]
    fn paired_ratios_render_median_p99_and_pairs() {
        let mut t = Table::new();
        let r = crate::stats::measure_interleaved(
            crate::Budget {
                warmup: 0,
                iterations: 3,
                max_time: Duration::from_secs(1),
                min_iterations: 3,
            },
            Box::new(|| Ok(Duration::from_micros(50))),
            Box::new(|| Ok(Duration::from_micros(100))),
        )
        .unwrap();
        t.paired_ratios("ab", "A ÷ B, paired", Ok(r.ratios));
        t.paired_ratios(
            "cd",
            "C ÷ D, paired",
            Err(BenchError::setup("peer", "failed")),
        );
        assert_eq!(t.paired("ab").map(|r| r.median()), Some(0.5));
        assert!(t.paired("cd").is_none());
        let s = t.render();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[2], "| A ÷ B, paired | 0.50× | 0.50× | | 3 |");
        assert_eq!(
            lines[3],
            "| C ÷ D, paired | not measured: peer: failed | | | |"
        );
        assert_eq!(t.counts(), (1, 1));
    }

    #[test]
    fn durations_pick_their_unit() {
        assert_eq!(format_duration(Duration::from_nanos(1_234)), "1.2 µs");
        assert_eq!(format_duration(Duration::from_micros(12_345)), "12.35 ms");
        assert_eq!(format_duration(Duration::from_millis(1_500)), "1.500 s");
    }
}
