//! The closed-loop load driver: `concurrency` connections, each sending the next pre-built
//! request as soon as the previous answer is in, bounded by a deadline and a request count.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::wire::{Conn, RawRequest};

/// What to run at one concurrency level.
#[derive(Clone)]
pub(crate) struct Level {
    pub(crate) addr: SocketAddr,
    pub(crate) requests: Arc<Vec<RawRequest>>,
    /// The status every answer must have to count as a success.
    pub(crate) expect_status: u16,
    pub(crate) concurrency: usize,
    pub(crate) duration: Duration,
    pub(crate) max_requests: u64,
}

/// The result of one level.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LevelResult {
    pub(crate) concurrency: usize,
    /// Answers with the expected status.
    pub(crate) ok: u64,
    /// Transport errors and answers with another status.
    pub(crate) errors: u64,
    /// The first error, for the report.
    pub(crate) first_error: Option<String>,
    pub(crate) elapsed_s: f64,
    /// Successful requests per second.
    pub(crate) rps: f64,
    pub(crate) p50_us: u32,
    pub(crate) p99_us: u32,
    pub(crate) max_us: u32,
}

/// Runs `level` to its deadline or count, whichever comes first.
pub(crate) async fn run(level: Level) -> LevelResult {
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + level.duration;
    let mut tasks = Vec::with_capacity(level.concurrency);
    for worker in 0..level.concurrency {
        let level = level.clone();
        let issued = issued.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(level.addr);
            let mut lat = Vec::with_capacity(4096);
            let mut errors = 0u64;
            let mut first_error = None;
            let pool = level.requests.len().max(1);
            let mut i = worker;
            loop {
                if Instant::now() >= deadline
                    || issued.fetch_add(1, Ordering::Relaxed) >= level.max_requests
                {
                    break;
                }
                let Some(req) = level.requests.get(i % pool) else {
                    break;
                };
                i = i.wrapping_add(level.concurrency);
                let t0 = Instant::now();
                match conn.send(req, false).await {
                    Ok(r) if r.status == level.expect_status => {
                        lat.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
                    }
                    Ok(r) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("status {}", r.status));
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                        conn = Conn::new(level.addr);
                    }
                }
            }
            (lat, errors, first_error)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for t in tasks {
        match t.await {
            Ok((lat, e, fe)) => {
                all.extend(lat);
                errors += e;
                if first_error.is_none() {
                    first_error = fe;
                }
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("worker failed: {e}"));
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let ok = all.len() as u64;
    LevelResult {
        concurrency: level.concurrency,
        ok,
        errors,
        first_error,
        elapsed_s: elapsed,
        rps: if elapsed > 0.0 {
            ok as f64 / elapsed
        } else {
            0.0
        },
        p50_us: percentile(&all, 50.0),
        p99_us: percentile(&all, 99.0),
        max_us: all.last().copied().unwrap_or(0),
    }
}

/// The nearest-rank percentile of sorted `v` (0 when empty).
pub(crate) fn percentile(v: &[u32], p: f64) -> u32 {
    if v.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v.get(rank.saturating_sub(1).min(v.len() - 1))
        .copied()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }
}
