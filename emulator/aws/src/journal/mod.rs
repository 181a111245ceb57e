//! The request journal: one [`JournalEntry`] per request with its verdict and everything
//! needed to explain it, never a secret.
//!
//! The journal is a bounded ring (default 100 000 entries). Each entry gets a sequence
//! number; [`Journal::wait_for_seq`] lets callers wait for new entries without sleeping.
//! The JSON form is what `GET /_iamconform/journal` returns.
//! The ring holds entries packed ([`packed`]) and hands out [`JournalEntry`] values.

mod packed;

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::Serialize;
use tokio::sync::Notify;

/// Default ring capacity.
pub const DEFAULT_JOURNAL_CAPACITY: usize = 100_000;

/// Which endpoint served a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JournalService {
    /// STS.
    Sts,
    /// IAM.
    Iam,
    /// The ECS container-credentials endpoint.
    Ecs,
    /// Routing could not tell.
    Unknown,
}

/// Where the request carried its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthLocation {
    /// The `Authorization` header.
    Header,
    /// Presigned query parameters.
    Query,
}

/// The outcome of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Verdict {
    /// Answered with success.
    Accepted,
    /// Answered with an error.
    Rejected {
        /// HTTP status sent.
        status: u16,
        /// AWS error code (or the ECS JSON `code`).
        code: String,
        /// The message sent.
        message: String,
        /// Which check failed, e.g. `signature`, `skew`, `session_token`, `authorization`.
        check: String,
    },
}

/// The credential scope of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalScope {
    /// `yyyymmdd`.
    pub date: String,
    /// The region.
    pub region: String,
    /// The service.
    pub service: String,
}

/// The `X-Consul-IAM-ServerID` header as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerIdHeader {
    /// Its value (not a secret: it names the Consul server).
    pub value: String,
    /// Whether it is listed in SignedHeaders.
    pub signed: bool,
}

/// One request. Optional fields are `null` when the request did not get far enough.
#[derive(Debug, Clone, Serialize)]
pub struct JournalEntry {
    /// Sequence number, from 1, never reused.
    pub seq: u64,
    /// Emulator time (RFC 3339) when the request was answered.
    pub time: String,
    /// The request id sent in `x-amzn-RequestId`.
    pub request_id: String,
    /// Accepted, or the error sent and the check that failed.
    pub verdict: Verdict,
    /// The routed service.
    pub service: JournalService,
    /// The `Action` parameter.
    pub action: Option<String>,
    /// The HTTP method.
    pub method: String,
    /// The raw path as received.
    pub path: String,
    /// Names of the query parameters (values may hold a session token, so they are left out).
    pub query_params: Vec<String>,
    /// The `Host` header as received.
    pub host: Option<String>,
    /// The access key id (never the secret).
    pub access_key_id: Option<String>,
    /// The credential scope.
    pub scope: Option<JournalScope>,
    /// The SignedHeaders list.
    pub signed_headers: Vec<String>,
    /// Header or presigned query.
    pub auth_location: Option<AuthLocation>,
    /// Whether a session token was present and covered by the signature.
    pub session_token_signed: Option<bool>,
    /// The caller's ARN as GetCallerIdentity reports it.
    pub caller_arn: Option<String>,
    /// Every header name, in arrival order. The HTTP stack (hyper) lowercases names, so the
    /// original spelling is not available.
    pub header_names: Vec<String>,
    /// `X-Consul-IAM-ServerID`, if present.
    pub server_id: Option<ServerIdHeader>,
    /// Names of the `X-Consul-IAM-GetEntity-*` headers present.
    pub get_entity_headers: Vec<String>,
    /// The `X-Consul-IAM-GetEntity-Body` value (an IAM query body; it holds no secret).
    pub get_entity_body: Option<String>,
    /// On signature mismatch: the canonical request the server computed (token redacted).
    pub canonical_request: Option<String>,
    /// On signature mismatch: the string-to-sign the server computed.
    pub string_to_sign: Option<String>,
    /// Advice for a likely client mistake, e.g. a doubled endpoint prefix.
    pub hint: Option<String>,
    /// The injected fault that answered or delayed the request.
    pub fault: Option<String>,
}

impl JournalEntry {
    /// An entry with only the request line filled in.
    pub fn new(request_id: String, method: &str, path: &str) -> Self {
        Self {
            seq: 0,
            time: String::new(),
            request_id,
            verdict: Verdict::Accepted,
            service: JournalService::Unknown,
            action: None,
            method: method.to_owned(),
            path: path.to_owned(),
            query_params: Vec::new(),
            host: None,
            access_key_id: None,
            scope: None,
            signed_headers: Vec::new(),
            auth_location: None,
            session_token_signed: None,
            caller_arn: None,
            header_names: Vec::new(),
            server_id: None,
            get_entity_headers: Vec::new(),
            get_entity_body: None,
            canonical_request: None,
            string_to_sign: None,
            hint: None,
            fault: None,
        }
    }
}

/// A snapshot of the journal, as served by the admin endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct JournalSnapshot {
    /// Entries, oldest first.
    pub entries: Vec<JournalEntry>,
    /// Entries dropped because the ring was full.
    pub dropped: u64,
    /// The ring capacity.
    pub capacity: usize,
    /// The sequence number of the newest entry (0 when empty).
    pub last_seq: u64,
}

#[derive(Debug)]
struct Ring {
    /// Oldest first; sequence numbers increase along it.
    entries: VecDeque<packed::Packed>,
    last_seq: u64,
    dropped: u64,
}

impl Ring {
    /// Entries with a sequence number greater than `seq`, oldest first.
    fn since(&self, seq: u64) -> impl Iterator<Item = &packed::Packed> {
        let first = self.entries.partition_point(|e| e.seq <= seq);
        self.entries.range(first..)
    }
}

/// The bounded request journal.
#[derive(Debug)]
pub struct Journal {
    ring: Mutex<Ring>,
    capacity: usize,
    /// The newest sequence number, readable without the lock.
    newest: AtomicU64,
    /// Tasks in [`Journal::wait_for_seq`]: `record` only wakes anyone when there are some,
    /// since waking (a lock per call) cost ≈ 2 % of a request when done unconditionally.
    waiters: AtomicUsize,
    arrived: Notify,
}

impl Default for Journal {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_JOURNAL_CAPACITY)
    }
}

impl Journal {
    /// A journal keeping at most `capacity` entries (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            ring: Mutex::new(Ring {
                entries: VecDeque::with_capacity(capacity.min(1024)),
                last_seq: 0,
                dropped: 0,
            }),
            capacity,
            newest: AtomicU64::new(0),
            waiters: AtomicUsize::new(0),
            arrived: Notify::new(),
        }
    }

    /// Appends an entry, assigning its sequence number; returns the number.
    pub fn record(&self, entry: JournalEntry) -> u64 {
        // Packed before taking the lock; only the sequence number is set under it.
        let mut packed = packed::pack(&entry);
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.last_seq += 1;
        let seq = ring.last_seq;
        packed.seq = seq;
        let oldest = if ring.entries.len() >= self.capacity {
            ring.dropped += 1;
            ring.entries.pop_front()
        } else {
            None
        };
        ring.entries.push_back(packed);
        drop(ring);
        // The oldest entry is freed outside the lock.
        drop(oldest);
        // `fetch_max`: records finishing out of order must not move `newest` back. SeqCst
        // pairs with `wait_for_seq`: either the waiter sees this number, or this sees it.
        self.newest.fetch_max(seq, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.arrived.notify_waiters();
        }
        seq
    }

    /// Every entry held, oldest first.
    pub fn entries(&self) -> Vec<JournalEntry> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.entries.iter().map(packed::Packed::unpack).collect()
    }

    /// Entries with a sequence number greater than `seq`, oldest first.
    pub fn entries_since(&self, seq: u64) -> Vec<JournalEntry> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.since(seq).map(packed::Packed::unpack).collect()
    }

    /// The newest entry.
    pub fn last(&self) -> Option<JournalEntry> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.entries.back().map(packed::Packed::unpack)
    }

    /// The sequence number of the newest entry (0 when none was recorded).
    pub fn last_seq(&self) -> u64 {
        self.newest.load(Ordering::SeqCst)
    }

    /// Entries dropped because the ring was full.
    pub fn dropped(&self) -> u64 {
        self.ring.lock().unwrap_or_else(|e| e.into_inner()).dropped
    }

    /// The ring capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Everything, for the admin endpoint.
    pub fn snapshot(&self, since: u64) -> JournalSnapshot {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        JournalSnapshot {
            entries: ring.since(since).map(packed::Packed::unpack).collect(),
            dropped: ring.dropped,
            capacity: self.capacity,
            last_seq: ring.last_seq,
        }
    }

    /// Forgets every entry (sequence numbers keep counting).
    pub fn clear(&self) {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.entries.clear();
    }

    /// Waits until an entry with sequence number `>= seq` exists; returns the newest number.
    pub async fn wait_for_seq(&self, seq: u64) -> u64 {
        let _waiting = Waiting::register(&self.waiters);
        loop {
            let notified = self.arrived.notified();
            tokio::pin!(notified);
            // Enabled before the check: a record landing between the check and the await
            // still wakes this task.
            notified.as_mut().enable();
            let newest = self.newest.load(Ordering::SeqCst);
            if newest >= seq {
                return newest;
            }
            notified.await;
        }
    }
}

/// One task counted in [`Journal::waiters`] for as long as it lives (also when the waiting
/// future is dropped unfinished).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn register(waiters: &'a AtomicUsize) -> Self {
        waiters.fetch_add(1, Ordering::SeqCst);
        Self(waiters)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn ring_drops_oldest_and_counts() {
        let j = Journal::with_capacity(2);
        for i in 0..3 {
            j.record(JournalEntry::new(format!("r{i}"), "GET", "/"));
        }
        let e = j.entries();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].seq, 2);
        assert_eq!(j.dropped(), 1);
        assert_eq!(j.entries_since(2).len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_records_are_all_kept() {
        let j = Arc::new(Journal::with_capacity(10_000));
        let mut tasks = Vec::new();
        for t in 0..8 {
            let j = j.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..500 {
                    j.record(JournalEntry::new(format!("{t}-{i}"), "POST", "/"));
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(j.wait_for_seq(4000).await, 4000);
        let e = j.entries();
        assert_eq!(e.len(), 4000);
        assert!(e.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
        assert_eq!(j.dropped(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiter_is_woken_by_later_records() {
        let j = Arc::new(Journal::with_capacity(10));
        let waiter = tokio::spawn({
            let j = j.clone();
            async move { j.wait_for_seq(3).await }
        });
        // Records from another task, whether the waiter is already parked or not yet.
        for i in 0..3 {
            j.record(JournalEntry::new(format!("r{i}"), "GET", "/"));
        }
        assert_eq!(waiter.await.unwrap(), 3);
        assert_eq!(j.waiters.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn an_abandoned_wait_stops_counting_as_a_waiter() {
        let j = Journal::with_capacity(10);
        {
            let wait = std::pin::pin!(j.wait_for_seq(1));
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(wait.poll(&mut cx).is_pending());
            assert_eq!(j.waiters.load(Ordering::SeqCst), 1);
        }
        assert_eq!(j.waiters.load(Ordering::SeqCst), 0);
        j.record(JournalEntry::new("r".into(), "GET", "/"));
        assert_eq!(j.last_seq(), 1);
    }
}
