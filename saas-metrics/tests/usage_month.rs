//! `saas-usage` on a generated month of EMF lines for 20 tenants: the lines come from the crate's
//! own producer (`Metrics` → EMF), re-stamped across November 2026, mixed with the other lines a
//! Lambda log holds; the command's figures match what was recorded, and the shares add up to the
//! bill, line by line and in all.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use saas_core::{TenantContext, Tier};
use saas_metrics::{MemorySink, Metrics, OnEmpty};
use serde_json::Value;

const NOV_1: i64 = 1_793_491_200_000; // 2026-11-01T00:00:00Z
const DAY_MS: i64 = 86_400_000;
const TENANTS: usize = 20;

#[derive(Debug, Default, Clone)]
struct Truth {
    requests: f64,
    compute_ms: f64,
    read_units: f64,
    write_units: f64,
    storage_sum: f64,
    storage_samples: f64,
}

/// Replaces the `_aws.Timestamp` of an EMF line the producer wrote.
fn restamp(line: &str, ms: i64) -> String {
    let key = "\"Timestamp\":";
    let start = line.find(key).expect("a timestamp") + key.len();
    let end = start
        + line[start..]
            .find(|c: char| !c.is_ascii_digit())
            .expect("digits end");
    format!("{}{ms}{}", &line[..start], &line[end..])
}

/// A month of one function's log: per tenant and day a varying number of invocations, each
/// flushing its consumption (and an application metric), plus storage samples, Lambda's own
/// lines, JSON log lines, and consumption outside the month, of another namespace, or without a
/// valid tenant.
async fn generate(dir: &Path) -> (std::path::PathBuf, BTreeMap<String, Truth>) {
    let sink = MemorySink::new();
    let metrics = Metrics::builder("TodoApp")
        .unwrap()
        .service("todo")
        .unwrap()
        .sink(sink.clone())
        .on_empty(OnEmpty::Skip)
        .build();
    let other = Metrics::builder("OtherApp")
        .unwrap()
        .service("todo")
        .unwrap()
        .sink(sink.clone())
        .build();
    let mut truth: BTreeMap<String, Truth> = BTreeMap::new();
    let mut lines = Vec::new();
    let flush = async |m: &saas_metrics::TenantMetrics, at: i64, lines: &mut Vec<String>| {
        m.flush().await.unwrap();
        for line in sink.emf_lines().unwrap() {
            lines.push(restamp(&line, at));
        }
        sink.clear();
    };
    for day in 0..30i64 {
        for t in 0..TENANTS {
            let id = format!("tenant-{t:02}");
            let tier = if t < 3 { Tier::Premium } else { Tier::Basic };
            let ctx = TenantContext::builder(id.as_str()).tier(tier).build();
            let truth = truth.entry(id.clone()).or_default();
            // Tenant t is busier than t-1; days vary.
            let invocations = 1 + (t as i64 * 3 + day * 7) % 11 + t as i64 / 4;
            for i in 0..invocations {
                let at = NOV_1 + day * DAY_MS + i * 60_000 + t as i64 * 1000;
                lines.push(format!("START RequestId: {day}-{t}-{i} Version: $LATEST"));
                let m = metrics.for_tenant(&ctx);
                let compute =
                    Duration::from_micros(1500 + (t as u64 * 997 + i as u64 * 31) % 90_000);
                let read = 0.5 * ((t + i as usize) % 7) as f64;
                let write = ((t * 2 + day as usize) % 5) as f64;
                m.record_request().unwrap();
                m.record_compute(compute).unwrap();
                m.record_capacity(read, write).unwrap();
                m.count("TodosCreated", 1.0).unwrap();
                truth.requests += 1.0;
                truth.compute_ms += compute.as_secs_f64() * 1e3;
                truth.read_units += read;
                truth.write_units += write;
                flush(&m, at, &mut lines).await;
                lines.push(format!(
                    r#"{{"timestamp":"2026-11-{:02}T00:00:00Z","level":"INFO","message":"todo created {{ok}}","tenant_id":"{id}"}}"#,
                    day + 1
                ));
                lines.push(format!("END RequestId: {day}-{t}-{i}"));
                lines.push(format!(
                    "REPORT RequestId: {day}-{t}-{i}\tDuration: 2.00 ms\tBilled Duration: 3 ms"
                ));
            }
            // A daily storage job: two samples a day.
            let m = metrics.for_tenant(&ctx);
            for sample in 0..2u64 {
                let bytes = 1_000_000 * (t as u64 + 1) + day as u64 * 10_000 + sample * 5_000;
                m.record_storage(bytes).unwrap();
                truth.storage_sum += bytes as f64;
                truth.storage_samples += 1.0;
            }
            flush(&m, NOV_1 + day * DAY_MS + 23 * 3_600_000, &mut lines).await;
        }
    }
    // What must not count: October and December, another namespace, a forged tenant id.
    let ctx = TenantContext::builder("tenant-00").build();
    for at in [NOV_1 - 1, NOV_1 + 30 * DAY_MS] {
        let m = metrics.for_tenant(&ctx);
        m.record_capacity(1000.0, 1000.0).unwrap();
        flush(&m, at, &mut lines).await;
    }
    let m = other.for_tenant(&ctx);
    m.record_compute(Duration::from_secs(3600)).unwrap();
    flush(&m, NOV_1 + DAY_MS, &mut lines).await;
    let m = metrics.for_tenant(&ctx);
    m.record_request().unwrap();
    m.flush().await.unwrap();
    let forged = sink.emf_lines().unwrap()[0].replace("\"tenant-00\"", "\"../tenant-01\"");
    lines.push(restamp(&forged, NOV_1 + DAY_MS));
    sink.clear();
    // A CloudWatch Logs export puts a timestamp before each message.
    let exported: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i % 2 == 0 {
                format!("2026-11-02T00:00:00.000Z\t{l}")
            } else {
                l.clone()
            }
        })
        .collect();
    let path = dir.join("november.log");
    std::fs::write(&path, exported.join("\n") + "\n").unwrap();
    (path, truth)
}

fn saas_usage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_saas-usage"))
        .args(args)
        .output()
        .expect("saas-usage runs")
}

fn cents(v: &Value) -> u64 {
    let s = v.as_str().expect("an amount string");
    let (units, frac) = s.split_once('.').expect("two decimals");
    assert_eq!(frac.len(), 2, "{s}");
    units.parse::<u64>().unwrap() * 100 + frac.parse::<u64>().unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

const BILL: [&str; 6] = [
    "--bill=requests=35.20",
    "--bill=compute=1234.56",
    "--bill=dynamodb-read=80.01",
    "--bill=dynamodb-write=310.99",
    "--bill=storage=12.34",
    "--bill=shared=150",
];

#[tokio::test]
async fn a_month_of_twenty_tenants_adds_up_to_the_bill() {
    let dir = tempfile::tempdir().unwrap();
    let (log, truth) = generate(dir.path()).await;
    let log = log.to_str().unwrap();
    let chart = dir.path().join("cost.svg");

    let mut args = vec!["--emf", log, "--namespace", "TodoApp", "--month", "2026-11"];
    args.extend(BILL);
    args.extend(["--format", "json", "--chart", chart.to_str().unwrap()]);
    let out = saas_usage(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();

    assert_eq!(report["period"]["from"], "2026-11-01T00:00:00Z");
    assert_eq!(report["period"]["to"], "2026-12-01T00:00:00Z");
    let tenants = report["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), TENANTS);

    // The figures are what was recorded, nothing from outside the month, namespace or tenants.
    for t in tenants {
        let id = t["tenant"].as_str().unwrap();
        let want = &truth[id];
        let u = &t["usage"];
        assert_eq!(u["requests"].as_f64().unwrap(), want.requests, "{id}");
        assert!(
            close(u["compute_ms"].as_f64().unwrap(), want.compute_ms),
            "{id}"
        );
        assert!(
            close(u["read_units"].as_f64().unwrap(), want.read_units),
            "{id}"
        );
        assert!(
            close(u["write_units"].as_f64().unwrap(), want.write_units),
            "{id}"
        );
        let mean = want.storage_sum / want.storage_samples;
        assert!(close(u["storage_bytes"].as_f64().unwrap(), mean), "{id}");
    }

    // Each line of the bill is split exactly, each tenant within a cent of its exact share.
    let resources = [
        ("requests", "requests"),
        ("compute", "compute_ms"),
        ("dynamodb-read", "read_units"),
        ("dynamodb-write", "write_units"),
        ("storage", "storage_bytes"),
    ];
    for (resource, figure) in resources {
        let line = cents(&report["bill"][resource]);
        let parts: u64 = tenants.iter().map(|t| cents(&t["cost"][resource])).sum();
        assert_eq!(parts, line, "{resource}");
        let total: f64 = tenants
            .iter()
            .map(|t| t["usage"][figure].as_f64().unwrap())
            .sum();
        for t in tenants {
            let exact = line as f64 * t["usage"][figure].as_f64().unwrap() / total;
            let got = cents(&t["cost"][resource]) as f64;
            assert!(
                (got - exact).abs() <= 1.0,
                "{resource} {}: {got} vs {exact}",
                t["tenant"]
            );
        }
    }
    let shared: u64 = tenants.iter().map(|t| cents(&t["cost"]["shared"])).sum();
    assert_eq!(shared, 15_000);
    let totals: u64 = tenants.iter().map(|t| cents(&t["total"])).sum();
    let bill = 3520 + 123_456 + 8001 + 31_099 + 1234 + 15_000;
    assert_eq!(totals, bill);
    assert_eq!(cents(&report["total"]), bill);
    assert!(
        report["unattributed"]
            .as_object()
            .unwrap()
            .values()
            .all(|v| v == "0.00")
    );
    // Most expensive first.
    let order: Vec<u64> = tenants.iter().map(|t| cents(&t["total"])).collect();
    assert!(order.windows(2).all(|w| w[0] >= w[1]), "{order:?}");

    // The chart: well-formed SVG, one bar per tenant, segments that add up to each total.
    let svg = std::fs::read_to_string(&chart).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let bars: Vec<_> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("bar"))
        .collect();
    assert_eq!(bars.len(), TENANTS);
    for (bar, t) in bars.iter().zip(tenants) {
        let label = bar.children().find(|n| n.has_tag_name("text")).unwrap();
        assert_eq!(label.text(), t["tenant"].as_str());
        let segments: u64 = bar
            .children()
            .filter(|n| n.has_tag_name("rect"))
            .map(|n| n.attribute("data-cents").unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(segments, cents(&t["total"]));
    }
}

#[tokio::test]
async fn the_table_and_csv_say_what_was_skipped_and_agree_with_json() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = generate(dir.path()).await;
    let log = log.to_str().unwrap();
    let csv_path = dir.path().join("cost.csv");

    let mut args = vec!["--emf", log, "--namespace", "TodoApp", "--month", "2026-11"];
    args.extend(BILL);
    let table = saas_usage(&args);
    assert!(table.status.success());
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains("(USD, bill 1823.10)"), "{table}");
    assert!(table.contains("2 outside the period"), "{table}");
    assert!(
        table.contains("1 of other namespaces or services"),
        "{table}"
    );
    assert!(table.contains("1 without a tenant"), "{table}");
    assert!(table.contains("0 malformed"), "{table}");
    let total_line = table.lines().find(|l| l.starts_with("total")).unwrap();
    assert!(
        total_line.contains("1823.10") && total_line.contains("100.0%"),
        "{table}"
    );

    args.extend(["--format", "csv", "--output", csv_path.to_str().unwrap()]);
    let out = saas_usage(&args);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 1 + TENANTS);
    let total_col = rows[0].iter().position(|h| *h == "cost_total").unwrap();
    let sum: f64 = rows[1..]
        .iter()
        .map(|r| r[total_col].parse::<f64>().unwrap())
        .sum();
    assert!((sum - 1823.10).abs() < 1e-6, "{sum}");
    let share_col = rows[0].iter().position(|h| *h == "share").unwrap();
    let shares: f64 = rows[1..]
        .iter()
        .map(|r| r[share_col].parse::<f64>().unwrap())
        .sum();
    assert!((shares - 1.0).abs() < 1e-4, "{shares}");
}

#[test]
fn mistakes_are_named_with_their_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("empty.log");
    std::fs::write(&log, "").unwrap();
    let log = log.to_str().unwrap();
    let cases: [(&[&str], i32, &str); 7] = [
        (&["--emf", log, "--bill", "lambda=5"], 2, "unknown resource"),
        (&["--emf", log, "--bill", "compute=-5"], 2, "invalid amount"),
        (
            &["--emf", log, "--bill", "compute=1", "--bill", "compute=2"],
            2,
            "twice",
        ),
        (&["--emf", log, "--month", "2026-13"], 2, "invalid period"),
        (
            &["--emf", log, "--currency", "dollars"],
            2,
            "invalid currency",
        ),
        (&["--emf", "/nonexistent/x.log"], 1, "/nonexistent/x.log"),
        (&["--bill", "compute=1"], 2, "--emf"),
    ];
    for (args, code, message) in cases {
        let out = saas_usage(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    // An empty bill has nothing to chart, and nothing is written.
    let chart = dir.path().join("c.svg");
    let out = saas_usage(&["--emf", log, "--chart", chart.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!chart.exists());
}
