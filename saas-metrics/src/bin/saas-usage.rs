//! `saas-usage`: what each tenant cost over a period.
//!
//! Reads the period's consumption per tenant (from files of EMF lines, or from CloudWatch
//! GetMetricData), apportions a bill across tenants by their share of each resource, and prints a
//! table, CSV or JSON, optionally with an SVG bar chart:
//!
//! ```text
//! saas-usage --emf export.log --namespace TodoApp --month 2026-11 \
//!     --bill compute=1200 --bill dynamodb-read=80 --bill dynamodb-write=310 --bill shared=150 \
//!     --chart cost.svg
//! saas-usage --cloudwatch --namespace TodoApp --service todo --from 2026-11-01 --to 2026-12-01 \
//!     --bill compute=1200 --format csv --output cost.csv
//! ```
//!
//! CloudWatch is reached the standard way (`AWS_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL`, ...).
//! Exit status: 0 on success, 1 when reading or writing fails, 2 for a usage mistake.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgGroup, Parser, ValueEnum};
use saas_metrics::usage::{Bill, EmfReader, Format, Period, Usage, UsageError, read_cloudwatch};

/// What each tenant cost: a bill apportioned across tenants by their share of each resource.
#[derive(Debug, Parser)]
#[command(name = "saas-usage", version)]
#[command(group(ArgGroup::new("source").required(true).args(["emf", "cloudwatch"])))]
#[command(group(ArgGroup::new("range").args(["month", "from"])))]
struct Args {
    /// Files of EMF lines (a CloudWatch Logs export, a local run's stdout); `-` is stdin.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    emf: Vec<PathBuf>,
    /// Read the figures from CloudWatch GetMetricData instead (needs --namespace and a period).
    #[arg(long, requires = "namespace")]
    cloudwatch: bool,
    /// The CloudWatch namespace of the metrics (required when the files hold several).
    #[arg(long)]
    namespace: Option<String>,
    /// Only this service's figures (the `service` dimension).
    #[arg(long)]
    service: Option<String>,
    /// A calendar month, UTC: 2026-11.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    month: Option<String>,
    /// Start of the period, inclusive: 2026-11-01 or 2026-11-01T00:00:00Z.
    #[arg(long)]
    from: Option<String>,
    /// End of the period, exclusive.
    #[arg(long)]
    to: Option<String>,
    /// A line of the bill, RESOURCE=AMOUNT; RESOURCE is requests, compute, dynamodb-read,
    /// dynamodb-write, storage or shared (split like the other lines). Repeat for each line.
    #[arg(long, value_name = "RESOURCE=AMOUNT")]
    bill: Vec<String>,
    /// The bill's currency (ISO 4217), shown only.
    #[arg(long, default_value = "USD")]
    currency: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    /// Write the report here instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also write an SVG bar chart of cost per tenant here.
    #[arg(long, value_name = "FILE.svg")]
    chart: Option<PathBuf>,
    /// Fail on a line that looks like an EMF document but is not a valid one.
    #[arg(long)]
    strict: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OutputFormat {
    Table,
    Csv,
    Json,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let usage_mistake = matches!(
                e,
                UsageError::UnknownResource(_)
                    | UsageError::InvalidAmount(_)
                    | UsageError::InvalidCurrency(_)
                    | UsageError::DuplicateLine(_)
                    | UsageError::InvalidPeriod(_)
                    | UsageError::AmbiguousNamespace(_)
            );
            // The one place this program talks to its user.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("saas-usage: {e}");
            }
            ExitCode::from(if usage_mistake { 2 } else { 1 })
        }
    }
}

fn run(args: &Args) -> Result<(), UsageError> {
    let period = match &args.month {
        Some(month) => Period::month(month)?,
        None => Period::parse(args.from.as_deref(), args.to.as_deref())?,
    };
    let bill = Bill::parse(args.bill.iter().map(String::as_str))?.currency(&args.currency)?;
    let usage = if args.cloudwatch {
        read_from_cloudwatch(args, period)?
    } else {
        read_from_files(args, period)?
    };
    let report = bill.apportion(&usage);

    let format = match args.format {
        OutputFormat::Table => Format::Table,
        OutputFormat::Csv => Format::Csv,
        OutputFormat::Json => Format::Json,
    };
    let mut text = report.render(format);
    if !args.cloudwatch && matches!(format, Format::Table) {
        let s = usage.stats();
        text.push_str(&format!(
            "\n{} lines: {} consumption documents counted; skipped {} other lines, {} other \
             metrics, {} of other namespaces or services, {} outside the period, {} without a \
             tenant, {} malformed\n",
            s.lines,
            s.documents,
            s.skipped,
            s.other_metrics,
            s.filtered,
            s.out_of_period,
            s.no_tenant,
            s.malformed
        ));
    }
    let chart = args
        .chart
        .as_ref()
        .map(|_| report.chart_svg())
        .transpose()?;
    match &args.output {
        Some(path) => write_file(path, text.as_bytes())?,
        None => {
            let mut out = io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    if let (Some(path), Some(svg)) = (&args.chart, chart) {
        write_file(path, svg.as_bytes())?;
    }
    Ok(())
}

fn read_from_files(args: &Args, period: Period) -> Result<Usage, UsageError> {
    let mut reader = EmfReader::new().period(period).strict(args.strict);
    if let Some(ns) = &args.namespace {
        reader = reader.namespace(ns);
    }
    if let Some(service) = &args.service {
        reader = reader.service(service);
    }
    if args.emf.iter().filter(|p| *p == Path::new("-")).count() > 1 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "stdin (-) given twice").into());
    }
    let mut inputs: Vec<Box<dyn BufRead>> = Vec::with_capacity(args.emf.len());
    for path in &args.emf {
        if path == Path::new("-") {
            inputs.push(Box::new(io::stdin().lock()));
        } else {
            let file = File::open(path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            inputs.push(Box::new(BufReader::with_capacity(1 << 16, file)));
        }
    }
    reader.read_all(inputs)
}

fn read_from_cloudwatch(args: &Args, period: Period) -> Result<Usage, UsageError> {
    let namespace = args.namespace.as_deref().unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let client = aws_sdk_cloudwatch::Client::new(&config);
        read_cloudwatch(&client, namespace, args.service.as_deref(), period).await
    })
}

/// Writes `bytes` to `path` whole or not at all: a temporary file beside it, renamed into place.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), UsageError> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        named(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file name",
        ))
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(named).map_err(UsageError::from)
}
