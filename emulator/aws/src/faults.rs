//! Injected faults: the next N matching requests get an error status or a delay.
//!
//! The harness's `fault` step pushes a [`Fault`]; the request handler calls
//! [`Faults::take`] once the target service is known. Faults are consumed in push order.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Service;

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultService {
    /// STS requests.
    Sts,
    /// IAM requests.
    Iam,
    /// Both.
    Any,
}

impl FaultService {
    fn matches(self, service: Service) -> bool {
        match self {
            Self::Any => true,
            Self::Sts => service == Service::Sts,
            Self::Iam => service == Service::Iam,
        }
    }
}

/// What a faulted request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultResponse {
    /// An AWS-shaped error with this HTTP status (503 `ServiceUnavailable`, 500
    /// `InternalFailure`, 429 `Throttling`, …), sent without verifying the request.
    Status(u16),
    /// The request waits this long, then is processed normally.
    Delay(Duration),
}

/// One fault rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// Which requests match.
    pub service: FaultService,
    /// What they get.
    pub response: FaultResponse,
    /// How many matching requests it applies to.
    pub count: u32,
}

/// The queue of pending faults.
#[derive(Debug, Default)]
pub struct Faults {
    queue: Mutex<VecDeque<Fault>>,
    // Lets the hot path skip the lock when no fault is pending.
    pending: AtomicUsize,
}

impl Faults {
    /// Adds a fault after those already pending. A fault with `count == 0` is ignored.
    pub fn push(&self, fault: Fault) {
        if fault.count == 0 {
            return;
        }
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.push_back(fault);
        self.pending.store(q.len(), Ordering::Release);
    }

    /// Consumes one use of the first pending fault matching `service`.
    pub fn take(&self, service: Service) -> Option<FaultResponse> {
        if self.pending.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let idx = q.iter().position(|f| f.service.matches(service))?;
        let fault = q.get_mut(idx)?;
        let response = fault.response;
        fault.count = fault.count.saturating_sub(1);
        if fault.count == 0 {
            q.remove(idx);
        }
        self.pending.store(q.len(), Ordering::Release);
        Some(response)
    }

    /// The faults still pending.
    pub fn pending(&self) -> Vec<Fault> {
        let q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.iter().copied().collect()
    }

    /// Drops every pending fault.
    pub fn clear(&self) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.clear();
        self.pending.store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_apply_count_times_to_matching_service() {
        let f = Faults::default();
        f.push(Fault {
            service: FaultService::Iam,
            response: FaultResponse::Status(503),
            count: 2,
        });
        assert_eq!(f.take(Service::Sts), None);
        assert_eq!(f.take(Service::Iam), Some(FaultResponse::Status(503)));
        assert_eq!(f.take(Service::Iam), Some(FaultResponse::Status(503)));
        assert_eq!(f.take(Service::Iam), None);
        assert!(f.pending().is_empty());
    }
}
