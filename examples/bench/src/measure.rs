//! The timing loop, as the peers' runners do it: a warm-up, then `REPS` loops of at least
//! `REP_SECONDS`, the clock read every 64 ops; a loop's figure is its µs per op.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::BenchError;

/// Ops between two reads of the clock.
const BATCH: u64 = 64;

/// The run's parameters, from the environment (the peers' defaults otherwise).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    reps: usize,
    rep_seconds: f64,
    warmup_seconds: f64,
}

impl Params {
    pub(crate) fn from_env() -> Params {
        let var = |name: &str, default: f64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
                .unwrap_or(default)
        };
        Params {
            reps: var("REPS", 5.0).max(1.0) as usize,
            rep_seconds: var("REP_SECONDS", 2.0),
            warmup_seconds: var("WARMUP_SECONDS", 1.0),
        }
    }

    pub(crate) fn to_json(self) -> Value {
        json!({
            "reps": self.reps,
            "rep_seconds": self.rep_seconds,
            "warmup_seconds": self.warmup_seconds,
        })
    }
}

/// One timed loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rep {
    pub(crate) us_per_op: f64,
    pub(crate) iterations: u64,
}

/// Runs `op` as described above; an op that returns `false` ends the run with an error.
pub(crate) fn measure(
    params: Params,
    mut op: impl FnMut() -> bool,
) -> Result<Vec<Rep>, BenchError> {
    let mut batch = |done: &mut u64| {
        for _ in 0..BATCH {
            if !op() {
                return Err(BenchError::Check(format!(
                    "an op failed after {done} good ones"
                )));
            }
        }
        *done += BATCH;
        Ok(())
    };
    let warm_up = Duration::from_secs_f64(params.warmup_seconds);
    let start = Instant::now();
    let mut done = 0;
    while start.elapsed() < warm_up {
        batch(&mut done)?;
    }
    let rep_time = Duration::from_secs_f64(params.rep_seconds);
    let mut reps = Vec::with_capacity(params.reps);
    for _ in 0..params.reps {
        let mut iterations = 0;
        let start = Instant::now();
        loop {
            batch(&mut iterations)?;
            if start.elapsed() >= rep_time {
                break;
            }
        }
        reps.push(Rep {
            us_per_op: start.elapsed().as_secs_f64() * 1e6 / iterations as f64,
            iterations,
        });
    }
    Ok(reps)
}
