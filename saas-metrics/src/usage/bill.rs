//! A bill, and its apportionment across tenants in whole cents that add up exactly.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use super::{Period, Resource, TenantUsage, Usage, UsageError};

/// An amount of money in cents (hundredths of the currency unit), never negative.
///
/// ```
/// use saas_metrics::usage::Money;
/// # fn main() -> Result<(), saas_metrics::usage::UsageError> {
/// let m: Money = "1234.5".parse()?;
/// assert_eq!(m.cents(), 123_450);
/// assert_eq!(m.to_string(), "1234.50");
/// assert!("12.345".parse::<Money>().is_err());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Money(u64);

impl Money {
    /// Nothing.
    pub const ZERO: Money = Money(0);
    /// The largest amount a bill line may be: 10^15 cents (ten trillion units), where cents are
    /// still exact as `f64`.
    pub const MAX: Money = Money(1_000_000_000_000_000);

    /// `cents` hundredths of the currency unit.
    pub fn from_cents(cents: u64) -> Money {
        Money(cents)
    }

    /// The amount in cents.
    pub fn cents(self) -> u64 {
        self.0
    }

    fn add(self, other: Money) -> Money {
        Money(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl FromStr for Money {
    type Err = UsageError;

    /// A non-negative decimal with at most two decimals (`1234`, `1234.5`, `1234.56`), up to
    /// [`Money::MAX`].
    fn from_str(s: &str) -> Result<Money, UsageError> {
        let bad = || UsageError::InvalidAmount(s.chars().take(64).collect());
        let (units, fraction) = s.split_once('.').unwrap_or((s, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if units.is_empty()
            || !digits(units)
            || !digits(fraction)
            || fraction.len() > 2
            || (s.contains('.') && fraction.is_empty())
        {
            return Err(bad());
        }
        let units: u64 = units.parse().map_err(|_| bad())?;
        let fraction: u64 = match fraction.len() {
            0 => 0,
            1 => fraction.parse::<u64>().map_err(|_| bad())? * 10,
            _ => fraction.parse().map_err(|_| bad())?,
        };
        units
            .checked_mul(100)
            .and_then(|c| c.checked_add(fraction))
            .filter(|c| *c <= Money::MAX.0)
            .map(Money)
            .ok_or_else(bad)
    }
}

impl Serialize for Money {
    /// As a decimal string (`"1234.56"`), so no reader rounds it through a float.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What a period cost, by resource, in one currency: the lines to apportion.
///
/// ```
/// use saas_metrics::usage::{Bill, Resource};
/// # fn main() -> Result<(), saas_metrics::usage::UsageError> {
/// let bill = Bill::parse(["compute=1200", "dynamodb-write=310.25", "shared=99.99"])?
///     .currency("EUR")?;
/// assert_eq!(bill.amount(Resource::DynamodbWrite).to_string(), "310.25");
/// assert_eq!(bill.total().to_string(), "1610.24");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Bill {
    amounts: [Money; 6],
    currency: String,
}

impl Default for Bill {
    fn default() -> Bill {
        Bill {
            amounts: [Money::ZERO; 6],
            currency: "USD".into(),
        }
    }
}

impl Bill {
    /// An empty bill in USD.
    pub fn new() -> Bill {
        Bill::default()
    }

    /// Sets the amount of `resource` (replacing an earlier one).
    pub fn line(mut self, resource: Resource, amount: Money) -> Bill {
        self.amounts[resource.index()] = amount;
        self
    }

    /// A bill from `resource=amount` lines (`compute=1200.00`); a resource named twice is an
    /// error.
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<Bill, UsageError> {
        let mut bill = Bill::new();
        let mut seen = [false; 6];
        for line in lines {
            let (resource, amount) = line
                .split_once('=')
                .ok_or_else(|| UsageError::InvalidAmount(line.chars().take(64).collect()))?;
            let resource: Resource = resource.trim().parse()?;
            if std::mem::replace(&mut seen[resource.index()], true) {
                return Err(UsageError::DuplicateLine(resource));
            }
            bill = bill.line(resource, amount.trim().parse()?);
        }
        Ok(bill)
    }

    /// The currency, an ISO 4217 code (`USD` by default); only shown, never converted.
    pub fn currency(mut self, code: &str) -> Result<Bill, UsageError> {
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(UsageError::InvalidCurrency(code.chars().take(16).collect()));
        }
        self.currency = code.to_owned();
        Ok(self)
    }

    /// The currency code.
    pub fn currency_code(&self) -> &str {
        &self.currency
    }

    /// The amount of `resource`.
    pub fn amount(&self, resource: Resource) -> Money {
        self.amounts[resource.index()]
    }

    /// The whole bill.
    pub fn total(&self) -> Money {
        self.amounts.iter().fold(Money::ZERO, |a, b| a.add(*b))
    }

    /// Splits each line across the tenants of `usage` in proportion to their share of that
    /// resource ([`Resource::Shared`]: of the other lines; of requests if there are none). In
    /// whole cents, each tenant within a cent of its exact share, and adding up to the bill
    /// exactly: a line no tenant consumed anything of is kept as unattributed, never dropped.
    pub fn apportion(&self, usage: &Usage) -> CostReport {
        let ids: Vec<&String> = usage.tenants().keys().collect();
        let mut costs = vec![[Money::ZERO; 6]; ids.len()];
        let mut unattributed = [Money::ZERO; 6];
        for resource in Resource::METERED {
            let weights: Vec<f64> = usage.tenants().values().map(|t| t.get(resource)).collect();
            split(
                self.amount(resource),
                &weights,
                resource,
                &mut costs,
                &mut unattributed,
            );
        }
        let direct: Vec<f64> = costs
            .iter()
            .map(|c| c.iter().map(|m| m.cents() as f64).sum())
            .collect();
        let weights = if direct.iter().any(|w| *w > 0.0) {
            direct
        } else {
            usage.tenants().values().map(|t| t.requests).collect()
        };
        split(
            self.amount(Resource::Shared),
            &weights,
            Resource::Shared,
            &mut costs,
            &mut unattributed,
        );

        let mut tenants: Vec<TenantCost> = ids
            .into_iter()
            .zip(usage.tenants().values())
            .zip(costs)
            .map(|((id, u), costs)| TenantCost {
                tenant: id.clone(),
                usage: u.clone(),
                costs,
            })
            .collect();
        tenants.sort_by(|a, b| b.total().cmp(&a.total()).then(a.tenant.cmp(&b.tenant)));
        CostReport {
            period: usage.period(),
            bill: self.clone(),
            tenants,
            unattributed,
        }
    }
}

/// Adds `amount` split by `weights` to `costs[i][resource]`, by cumulative rounding: tenant `i`
/// gets `round(amount * W_i / W) - round(amount * W_{i-1} / W)` where `W_i` is the running sum of
/// weights, so every share is within a cent of exact and the shares add up to `amount`.
fn split(
    amount: Money,
    weights: &[f64],
    resource: Resource,
    costs: &mut [[Money; 6]],
    unattributed: &mut [Money; 6],
) {
    let weights: Vec<f64> = weights
        .iter()
        .map(|w| if w.is_finite() && *w > 0.0 { *w } else { 0.0 })
        .collect();
    let total: f64 = weights.iter().sum();
    if amount == Money::ZERO {
        return;
    }
    if !(total > 0.0 && total.is_finite()) {
        unattributed[resource.index()] = unattributed[resource.index()].add(amount);
        return;
    }
    let cents = amount.cents() as f64;
    let mut running = 0.0;
    let mut given = 0u64;
    for (i, w) in weights.iter().enumerate() {
        running += w;
        // Summed in the same order as `total`, the last running sum is `total` itself: the
        // ratio is then exactly 1 and the cumulative share exactly `amount`.
        let cumulative = ((running / total).min(1.0) * cents).round() as u64;
        let share = cumulative.saturating_sub(given);
        given = given.max(cumulative);
        costs[i][resource.index()] = costs[i][resource.index()].add(Money(share));
    }
}

/// One tenant's line of a [`CostReport`].
#[derive(Debug, Clone, PartialEq)]
pub struct TenantCost {
    tenant: String,
    usage: TenantUsage,
    costs: [Money; 6],
}

impl TenantCost {
    /// The tenant id.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// What the tenant consumed.
    pub fn usage(&self) -> &TenantUsage {
        &self.usage
    }

    /// The tenant's part of the `resource` line.
    pub fn cost(&self, resource: Resource) -> Money {
        self.costs[resource.index()]
    }

    /// The tenant's part of the whole bill.
    pub fn total(&self) -> Money {
        self.costs.iter().fold(Money::ZERO, |a, b| a.add(*b))
    }
}

impl Serialize for TenantCost {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("TenantCost", 4)?;
        st.serialize_field("tenant", &self.tenant)?;
        st.serialize_field("usage", &self.usage)?;
        st.serialize_field("cost", &CostLines(&self.costs))?;
        st.serialize_field("total", &self.total())?;
        st.end()
    }
}

/// A bill apportioned across tenants: each tenant's usage and its part of each line, most
/// expensive first, plus what no tenant's figures account for.
#[derive(Debug, Clone, PartialEq)]
pub struct CostReport {
    period: Period,
    bill: Bill,
    tenants: Vec<TenantCost>,
    unattributed: [Money; 6],
}

impl CostReport {
    /// The period of the usage.
    pub fn period(&self) -> Period {
        self.period
    }

    /// The bill apportioned.
    pub fn bill(&self) -> &Bill {
        &self.bill
    }

    /// The tenants, most expensive first (ties by id).
    pub fn tenants(&self) -> &[TenantCost] {
        &self.tenants
    }

    /// One tenant's line.
    pub fn tenant(&self, id: &str) -> Option<&TenantCost> {
        self.tenants.iter().find(|t| t.tenant == id)
    }

    /// The part of the `resource` line that no tenant consumed anything of.
    pub fn unattributed(&self, resource: Resource) -> Money {
        self.unattributed[resource.index()]
    }

    /// The unattributed part of the whole bill.
    pub fn unattributed_total(&self) -> Money {
        self.unattributed.iter().fold(Money::ZERO, |a, b| a.add(*b))
    }

    /// The tenants' parts and the unattributed part: always [`CostReport::bill_total`].
    pub fn total(&self) -> Money {
        self.tenants
            .iter()
            .map(TenantCost::total)
            .fold(self.unattributed_total(), Money::add)
    }

    /// The bill's total.
    pub fn bill_total(&self) -> Money {
        self.bill.total()
    }

    /// `part` as a fraction of the bill (0 for an empty bill).
    pub fn share(&self, part: Money) -> f64 {
        match self.bill_total().cents() {
            0 => 0.0,
            total => part.cents() as f64 / total as f64,
        }
    }
}

impl Serialize for CostReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("CostReport", 6)?;
        st.serialize_field("period", &self.period)?;
        st.serialize_field("currency", &self.bill.currency)?;
        st.serialize_field("bill", &CostLines(&self.bill.amounts))?;
        st.serialize_field("tenants", &self.tenants)?;
        st.serialize_field("unattributed", &CostLines(&self.unattributed))?;
        st.serialize_field("total", &self.total())?;
        st.end()
    }
}

/// Six amounts as a map from resource name to amount.
struct CostLines<'a>(&'a [Money; 6]);

impl Serialize for CostLines<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(6))?;
        for resource in Resource::ALL {
            map.serialize_entry(resource.as_str(), &self.0[resource.index()])?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(figures: &[(&str, Resource, f64)]) -> Usage {
        let mut u = Usage::default();
        for (t, r, v) in figures {
            u.record(t, *r, *v, 1.0);
        }
        u
    }

    #[test]
    fn money_parses_strictly() {
        for (text, cents) in [
            ("0", 0),
            ("7", 700),
            ("7.5", 750),
            ("7.05", 705),
            ("007.10", 710),
            ("10000000000000", 1_000_000_000_000_000),
        ] {
            assert_eq!(text.parse::<Money>().unwrap().cents(), cents, "{text}");
        }
        for bad in [
            "",
            "-1",
            "1.",
            ".5",
            "1.234",
            "1e3",
            "1,5",
            " 1",
            "18446744073709551615",
            "10000000000000.01",
        ] {
            assert!(
                matches!(bad.parse::<Money>(), Err(UsageError::InvalidAmount(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn bills_refuse_unknown_and_repeated_lines() {
        assert!(matches!(
            Bill::parse(["lambda=1"]),
            Err(UsageError::UnknownResource(_))
        ));
        assert!(matches!(
            Bill::parse(["compute=1", "compute=2"]),
            Err(UsageError::DuplicateLine(Resource::Compute))
        ));
        assert!(matches!(
            Bill::parse(["compute"]),
            Err(UsageError::InvalidAmount(_))
        ));
        for bad in ["usd", "<b>", "EURO", ""] {
            assert!(matches!(
                Bill::new().currency(bad),
                Err(UsageError::InvalidCurrency(_))
            ));
        }
    }

    #[test]
    fn thirds_of_a_cent_still_add_up() {
        let u = usage(&[
            ("a", Resource::Compute, 1.0),
            ("b", Resource::Compute, 1.0),
            ("c", Resource::Compute, 1.0),
        ]);
        let report = Bill::new()
            .line(Resource::Compute, Money::from_cents(100))
            .apportion(&u);
        let mut parts: Vec<u64> = report.tenants().iter().map(|t| t.total().cents()).collect();
        parts.sort_unstable();
        assert_eq!(parts, [33, 33, 34]);
        assert_eq!(report.total(), report.bill_total());
    }

    #[test]
    fn each_line_follows_its_own_resource() {
        let u = usage(&[
            ("a", Resource::Compute, 3000.0),
            ("a", Resource::DynamodbWrite, 10.0),
            ("b", Resource::Compute, 1000.0),
            ("b", Resource::DynamodbWrite, 30.0),
        ]);
        let report = Bill::parse(["compute=40", "dynamodb-write=8"])
            .unwrap()
            .apportion(&u);
        let a = report.tenant("a").unwrap();
        let b = report.tenant("b").unwrap();
        assert_eq!(a.cost(Resource::Compute).to_string(), "30.00");
        assert_eq!(b.cost(Resource::Compute).to_string(), "10.00");
        assert_eq!(a.cost(Resource::DynamodbWrite).to_string(), "2.00");
        assert_eq!(b.cost(Resource::DynamodbWrite).to_string(), "6.00");
        assert_eq!(report.tenants()[0].tenant(), "a");
        assert_eq!(report.share(a.total()), 32.0 / 48.0);
    }

    #[test]
    fn shared_costs_follow_the_direct_ones_or_requests() {
        let u = usage(&[
            ("a", Resource::Compute, 1.0),
            ("b", Resource::Compute, 3.0),
            ("a", Resource::Requests, 3.0),
            ("b", Resource::Requests, 1.0),
        ]);
        let direct = Bill::parse(["compute=4", "shared=8"])
            .unwrap()
            .apportion(&u);
        assert_eq!(
            direct
                .tenant("b")
                .unwrap()
                .cost(Resource::Shared)
                .to_string(),
            "6.00"
        );
        let only_shared = Bill::parse(["shared=8"]).unwrap().apportion(&u);
        assert_eq!(
            only_shared
                .tenant("a")
                .unwrap()
                .cost(Resource::Shared)
                .to_string(),
            "6.00"
        );
    }

    #[test]
    fn what_nobody_consumed_stays_unattributed() {
        let u = usage(&[("a", Resource::Requests, 5.0)]);
        let report = Bill::parse(["requests=1", "storage=2.50"])
            .unwrap()
            .apportion(&u);
        assert_eq!(report.unattributed(Resource::Storage).to_string(), "2.50");
        assert_eq!(report.tenant("a").unwrap().total().to_string(), "1.00");
        assert_eq!(report.total().to_string(), "3.50");
        let empty = Bill::parse(["compute=9"])
            .unwrap()
            .apportion(&Usage::default());
        assert_eq!(empty.unattributed_total().to_string(), "9.00");
        assert_eq!(empty.total(), empty.bill_total());
    }

    #[test]
    fn tiny_and_huge_weights_still_add_up() {
        let mut figures = vec![("big", Resource::Compute, 1e15)];
        let names: Vec<String> = (0..50).map(|i| format!("t{i}")).collect();
        for n in &names {
            figures.push((n, Resource::Compute, 1e-9));
        }
        let report = Bill::new()
            .line(Resource::Compute, Money::from_cents(123_456_789))
            .apportion(&usage(&figures));
        assert_eq!(report.total(), report.bill_total());
        assert_eq!(report.tenant("big").unwrap().total().cents(), 123_456_789);
    }
}
