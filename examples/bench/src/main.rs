//! The workspace's cases for the peer benchmark (`../shared/peers/run.sh`), speaking its
//! protocol: `saas-bench CASE FIXTURE_DIR OUT_JSON`, with `REPS`, `REP_SECONDS` and
//! `WARMUP_SECONDS` in the environment. Each case checks itself first (the fixture's tenant comes
//! back; a token with one signature byte changed is refused), warms up, then runs `REPS` timed
//! loops of at least `REP_SECONDS`, 64 ops between clock reads, and writes one JSON object.
//!
//! | case | one op |
//! |---|---|
//! | `saas-core-verify` | a `TenantContext` from the fixture token, verifier caches off: RS256 check, claim checks, context |
//! | `saas-core-verify-repeat` | the same with the verified-token cache on (the default): the token seen before |
//! | `saas-core-authorizer-claims` | a `TenantContext` from an HTTP API event whose JWT authorizer passed the fixture's claims |
//! | `saas-metrics-emf` | one invocation's `TenantMetrics`: 10 counters, the tenant property, one EMF document to `io::sink()` |
//!
//! ```sh
//! cargo build --release -p saas-bench
//! PROJECT_BENCH="$PWD/target/release/saas-bench" \
//! PROJECT_CASES="saas-core-verify saas-core-verify-repeat saas-core-authorizer-claims saas-metrics-emf" \
//!   ../shared/peers/run.sh --no-install
//! ```

mod cases;
mod measure;

use std::path::Path;
use std::process::ExitCode;

/// Why a case could not run or failed its checks.
#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("usage: saas-bench CASE FIXTURE_DIR OUT_JSON")]
    Usage,
    #[error("unknown case {0:?}")]
    UnknownCase(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("fixture: {0}")]
    Fixture(&'static str),
    #[error("the case's set-up failed: {0}")]
    Setup(String),
    #[error("check failed: {0}")]
    Check(String),
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("saas-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), BenchError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [case, dir, out] = args.as_slice() else {
        return Err(BenchError::Usage);
    };
    let fixture = cases::Fixture::read(Path::new(dir))?;
    let result = cases::run(case, &fixture)?;
    let text = serde_json::to_string(&result.to_json(case)).map_err(|source| BenchError::Json {
        what: "result",
        source,
    })?;
    std::fs::write(out, text).map_err(|source| BenchError::Io {
        path: out.clone(),
        source,
    })
}
