//! Cost per tenant as an SVG bar chart: one bar per tenant, stacked by resource.

use std::fmt::Write as _;

use super::render::UNATTRIBUTED;
use super::{CostReport, Money, Resource, UsageError};

/// The most tenants drawn one bar each; the rest share one bar.
const MAX_BARS: usize = 40;

const WIDTH: u32 = 960;
const LABEL_WIDTH: u32 = 170;
const VALUE_WIDTH: u32 = 110;
const BAR_HEIGHT: u32 = 18;
const ROW_HEIGHT: u32 = 24;
const TOP: u32 = 78;
const BOTTOM: u32 = 40;

/// One colour per resource, in [`Resource::ALL`]'s order (Okabe-Ito: told apart with colour
/// vision deficiencies).
const COLOURS: [&str; 6] = [
    "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#999999",
];

struct Bar {
    label: String,
    parts: [Money; 6],
    total: Money,
}

impl CostReport {
    /// The cost per tenant as a horizontal bar chart in SVG, most expensive first, each bar split
    /// by resource, with a legend and an axis in the bill's currency. Tenants beyond the 40 most
    /// expensive share one bar, and the unattributed part has its own.
    ///
    /// Fails with [`UsageError::NothingToChart`] when the bill is empty.
    pub fn chart_svg(&self) -> Result<String, UsageError> {
        if self.bill_total() == Money::ZERO {
            return Err(UsageError::NothingToChart("the bill is empty"));
        }
        let mut bars: Vec<Bar> = self
            .tenants()
            .iter()
            .take(MAX_BARS)
            .map(|t| Bar {
                label: t.tenant().to_owned(),
                parts: Resource::ALL.map(|r| t.cost(r)),
                total: t.total(),
            })
            .collect();
        let rest = &self.tenants()[bars.len()..];
        if !rest.is_empty() {
            let mut parts = [Money::ZERO; 6];
            for t in rest {
                for (p, r) in parts.iter_mut().zip(Resource::ALL) {
                    *p = Money::from_cents(p.cents().saturating_add(t.cost(r).cents()));
                }
            }
            bars.push(Bar {
                label: format!("({} others)", rest.len()),
                total: Money::from_cents(
                    parts.iter().fold(0u64, |a, p| a.saturating_add(p.cents())),
                ),
                parts,
            });
        }
        if self.unattributed_total() != Money::ZERO {
            bars.push(Bar {
                label: UNATTRIBUTED.to_owned(),
                parts: Resource::ALL.map(|r| self.unattributed(r)),
                total: self.unattributed_total(),
            });
        }

        let max = bars
            .iter()
            .map(|b| b.total.cents())
            .max()
            .unwrap_or(1)
            .max(1);
        let step = tick_step(max);
        let axis_max = max.div_ceil(step).saturating_mul(step);
        let plot = f64::from(WIDTH - LABEL_WIDTH - VALUE_WIDTH);
        let x = |cents: u64| f64::from(LABEL_WIDTH) + plot * cents as f64 / axis_max as f64;
        let height = TOP + ROW_HEIGHT * bars.len() as u32 + BOTTOM;
        let currency = self.bill().currency_code();

        let mut svg = String::with_capacity(4096 + 600 * bars.len());
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
        );
        let _ = write!(
            svg,
            r#"<title>Cost per tenant, {}</title><rect width="100%" height="100%" fill="white"/>"#,
            escape(&self.period().to_string())
        );
        let _ = write!(
            svg,
            r#"<text x="12" y="22" font-size="15" font-weight="bold">Cost per tenant, {} ({currency} {} in all)</text>"#,
            escape(&self.period().to_string()),
            self.bill_total()
        );
        // Legend: only the resources the bill has.
        let mut lx = 12.0;
        for (r, colour) in Resource::ALL.into_iter().zip(COLOURS) {
            if self.bill().amount(r) == Money::ZERO {
                continue;
            }
            let _ = write!(
                svg,
                r#"<rect x="{lx}" y="36" width="12" height="12" fill="{colour}"/><text x="{}" y="46">{}</text>"#,
                lx + 16.0,
                r.as_str()
            );
            lx += 24.0 + 7.5 * r.as_str().len() as f64;
        }
        // Axis: gridlines and labels.
        let axis_y = TOP + ROW_HEIGHT * bars.len() as u32;
        let mut tick = 0;
        while tick <= axis_max {
            let tx = x(tick);
            let _ = write!(
                svg,
                r##"<line x1="{tx:.1}" y1="{}" x2="{tx:.1}" y2="{axis_y}" stroke="#ddd"/><text x="{tx:.1}" y="{}" text-anchor="middle" fill="#555">{}</text>"##,
                TOP - 6,
                axis_y + 16,
                Money::from_cents(tick)
            );
            match tick.checked_add(step) {
                Some(next) => tick = next,
                None => break,
            }
        }
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#555">{currency}</text>"##,
            f64::from(LABEL_WIDTH) + plot / 2.0,
            axis_y + 32
        );
        for (i, bar) in bars.iter().enumerate() {
            let y = TOP + ROW_HEIGHT * i as u32;
            let _ = write!(
                svg,
                r#"<g class="bar"><text x="{}" y="{}" text-anchor="end">{}</text>"#,
                LABEL_WIDTH - 8,
                y + BAR_HEIGHT - 5,
                escape(&bar.label)
            );
            let mut start = 0u64;
            for ((part, r), colour) in bar.parts.iter().zip(Resource::ALL).zip(COLOURS) {
                if *part == Money::ZERO {
                    continue;
                }
                let end = start.saturating_add(part.cents());
                let (x0, x1) = (x(start), x(end));
                let _ = write!(
                    svg,
                    r#"<rect x="{x0:.2}" y="{y}" width="{:.2}" height="{BAR_HEIGHT}" fill="{colour}" data-resource="{}" data-cents="{}"><title>{}: {} {currency} {}</title></rect>"#,
                    (x1 - x0).max(0.5),
                    r.as_str(),
                    part.cents(),
                    escape(&bar.label),
                    r.as_str(),
                    part
                );
                start = end;
            }
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{}" data-cents="{}">{} ({:.1}%)</text></g>"#,
                x(bar.total.cents()) + 6.0,
                y + BAR_HEIGHT - 5,
                bar.total.cents(),
                bar.total,
                100.0 * self.share(bar.total)
            );
        }
        svg.push_str("</svg>\n");
        Ok(svg)
    }
}

/// A round step (1, 2 or 5 times a power of ten, in cents) that divides `max` into at most 6.
fn tick_step(max: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            let s = step.saturating_mul(m);
            if max.div_ceil(s) <= 6 {
                return s;
            }
        }
        step = step.saturating_mul(10);
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Bill, Usage};
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        assert_eq!(tick_step(1), 1);
        assert_eq!(tick_step(600), 100);
        assert_eq!(tick_step(601), 200);
        assert_eq!(tick_step(123_456), 50_000);
        assert_eq!(tick_step(u64::MAX), 5_000_000_000_000_000_000);
    }

    #[test]
    fn an_empty_bill_has_no_chart() {
        let report = Bill::new().apportion(&Usage::default());
        assert!(matches!(
            report.chart_svg(),
            Err(UsageError::NothingToChart(_))
        ));
    }

    #[test]
    fn tenants_past_forty_share_one_bar() {
        let mut usage = Usage::default();
        for i in 0..45 {
            usage.record(
                &format!("t{i:02}"),
                Resource::Compute,
                f64::from(i + 1),
                1.0,
            );
        }
        let svg = Bill::parse(["compute=100"])
            .unwrap()
            .apportion(&usage)
            .chart_svg()
            .unwrap();
        assert_eq!(svg.matches(r#"<g class="bar">"#).count(), 41);
        assert!(svg.contains("(5 others)"));
        assert!(svg.contains(">t44<"));
        assert!(!svg.contains(">t00<"));
    }
}
