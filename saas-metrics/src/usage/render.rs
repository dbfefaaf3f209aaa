//! A cost report as a table for people, CSV for spreadsheets, JSON for programs.

use std::fmt::Write as _;

use super::{CostReport, Money, Resource, TenantUsage};

/// How [`CostReport::render`] writes a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Aligned columns with a total line.
    #[default]
    Table,
    /// One header line, then one line per tenant (and `(unattributed)` when any), no total line.
    Csv,
    /// One JSON object: period, currency, bill, tenants (usage, cost by resource, total),
    /// unattributed, total; amounts as decimal strings.
    Json,
}

/// The row label of the part no tenant accounts for.
pub(super) const UNATTRIBUTED: &str = "(unattributed)";

const MIB: f64 = 1024.0 * 1024.0;

impl CostReport {
    /// The report in `format`, ending with a newline.
    ///
    /// ```
    /// use saas_metrics::usage::{Bill, Format, Resource, Usage, Period};
    /// # fn main() -> Result<(), saas_metrics::usage::UsageError> {
    /// let mut usage = Usage::new(Period::month("2026-11")?);
    /// usage.record("tenant-a", Resource::Requests, 300.0, 300.0);
    /// usage.record("tenant-b", Resource::Requests, 100.0, 100.0);
    /// let report = Bill::parse(["requests=10"])?.apportion(&usage);
    /// let csv = report.render(Format::Csv);
    /// assert!(csv.lines().nth(1).is_some_and(|l| l.starts_with("tenant-a,300,")));
    /// assert!(report.render(Format::Table).contains("7.50"));
    /// # Ok(()) }
    /// ```
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.table(),
            Format::Csv => self.csv(),
            // Serializing plain maps, strings and numbers cannot fail.
            Format::Json => serde_json::to_string_pretty(self).unwrap_or_default() + "\n",
        }
    }

    fn table(&self) -> String {
        let headers = [
            "tenant",
            "requests",
            "compute (s)",
            "read units",
            "write units",
            "storage (MiB)",
            "cost",
            "share",
        ];
        let mut rows: Vec<[String; 8]> = Vec::with_capacity(self.tenants().len() + 2);
        for t in self.tenants() {
            rows.push(self.row(t.tenant(), Some(t.usage()), t.total()));
        }
        if self.unattributed_total() != Money::ZERO {
            rows.push(self.row(UNATTRIBUTED, None, self.unattributed_total()));
        }
        let mut totals = TenantUsage::default();
        for t in self.tenants() {
            let u = t.usage();
            totals.requests += u.requests;
            totals.compute_ms += u.compute_ms;
            totals.read_units += u.read_units;
            totals.write_units += u.write_units;
            totals.storage_bytes += u.storage_bytes;
        }
        let total_row = self.row("total", Some(&totals), self.total());

        let mut widths = headers.map(str::len);
        for row in rows.iter().chain(std::iter::once(&total_row)) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Cost per tenant, {} ({}, bill {})",
            self.period(),
            self.bill().currency_code(),
            self.bill_total()
        );
        let line = |out: &mut String, cells: &[String]| {
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                if i == 0 {
                    let _ = write!(out, "{cell:<w$}");
                } else {
                    let _ = write!(out, "  {cell:>w$}");
                }
            }
            out.push('\n');
        };
        line(&mut out, &headers.map(String::from));
        for row in &rows {
            line(&mut out, row);
        }
        let rule: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
        out.push_str(&"-".repeat(rule));
        out.push('\n');
        line(&mut out, &total_row);
        out
    }

    fn row(&self, label: &str, usage: Option<&TenantUsage>, cost: Money) -> [String; 8] {
        let figure = |f: &dyn Fn(&TenantUsage) -> String| usage.map(f).unwrap_or_default();
        [
            label.to_owned(),
            figure(&|u| format!("{:.0}", u.requests)),
            figure(&|u| format!("{:.1}", u.compute_ms / 1000.0)),
            figure(&|u| format!("{:.1}", u.read_units)),
            figure(&|u| format!("{:.1}", u.write_units)),
            figure(&|u| format!("{:.1}", u.storage_bytes / MIB)),
            cost.to_string(),
            format!("{:.1}%", 100.0 * self.share(cost)),
        ]
    }

    fn csv(&self) -> String {
        // Tenant ids are `[A-Za-z0-9_-]` and the rest are numbers: nothing needs quoting.
        let mut out =
            String::from("tenant,requests,compute_ms,read_units,write_units,storage_bytes");
        for r in Resource::ALL {
            let _ = write!(out, ",cost_{}", r.as_str().replace('-', "_"));
        }
        out.push_str(",cost_total,share\n");
        let mut line =
            |label: &str, usage: &TenantUsage, cost: &dyn Fn(Resource) -> Money, total: Money| {
                let _ = write!(
                    out,
                    "{label},{},{},{},{},{}",
                    usage.requests,
                    usage.compute_ms,
                    usage.read_units,
                    usage.write_units,
                    usage.storage_bytes
                );
                for r in Resource::ALL {
                    let _ = write!(out, ",{}", cost(r));
                }
                let _ = writeln!(out, ",{total},{:.6}", self.share(total));
            };
        for t in self.tenants() {
            line(t.tenant(), t.usage(), &|r| t.cost(r), t.total());
        }
        if self.unattributed_total() != Money::ZERO {
            line(
                UNATTRIBUTED,
                &TenantUsage::default(),
                &|r| self.unattributed(r),
                self.unattributed_total(),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Bill, Usage};
    use super::*;

    fn report() -> CostReport {
        let mut u = Usage::default();
        u.record("a", Resource::Compute, 3000.0, 1.0);
        u.record("b", Resource::Compute, 1000.0, 1.0);
        u.record("b", Resource::Storage, 2.0 * MIB, 1.0);
        Bill::parse(["compute=40", "requests=1.5"])
            .unwrap()
            .apportion(&u)
    }

    #[test]
    fn the_table_ends_with_the_bill_total() {
        let table = report().render(Format::Table);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("Cost per tenant, all time (USD, bill 41.50)"));
        assert!(lines[1].starts_with("tenant "));
        assert!(
            lines[2].starts_with("a ") && lines[2].contains("30.00"),
            "{table}"
        );
        assert!(
            lines[4].starts_with(UNATTRIBUTED) && lines[4].contains("1.50"),
            "{table}"
        );
        assert!(
            lines[6].starts_with("total") && lines[6].contains("41.50"),
            "{table}"
        );
        assert!(lines[6].contains("100.0%"), "{table}");
        // Aligned: every line but the title is as wide as the rule.
        let width = lines[5].len();
        assert!(lines[1..].iter().all(|l| l.len() == width), "{table}");
    }

    #[test]
    fn csv_columns_match_the_header() {
        let csv = report().render(Format::Csv);
        let lines: Vec<&str> = csv.lines().collect();
        let columns = lines[0].split(',').count();
        assert_eq!(columns, 14);
        assert!(lines.iter().all(|l| l.split(',').count() == columns));
        assert_eq!(
            lines[1],
            "a,0,3000,0,0,0,0.00,30.00,0.00,0.00,0.00,0.00,30.00,0.722892"
        );
        assert!(lines[3].starts_with("(unattributed),0,0,0,0,0,1.50,"));
    }

    #[test]
    fn json_amounts_are_exact_strings_and_add_up() {
        let json: serde_json::Value = serde_json::from_str(&report().render(Format::Json)).unwrap();
        assert_eq!(json["total"], "41.50");
        assert_eq!(json["bill"]["compute"], "40.00");
        assert_eq!(json["tenants"][1]["tenant"], "b");
        assert_eq!(json["tenants"][1]["usage"]["storage_bytes"], 2.0 * MIB);
        assert_eq!(json["unattributed"]["requests"], "1.50");
        assert_eq!(json["period"]["from"], serde_json::Value::Null);
    }
}
