//! A request body with a deadline for the whole body, so a client that trickles bytes
//! cannot hold a handler (and its connection) forever.
//!
//! A per-frame idle timeout (tower-http's `RequestBodyTimeoutLayer`) is not enough: a client
//! sending one byte just inside every interval would never trip it. The deadline here starts
//! when the request head has arrived and covers every frame after it.

use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The error a [`DeadlineBody`] yields once its deadline has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTimeout;

impl fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request body not received before the body read deadline")
    }
}

impl StdError for BodyTimeout {}

/// Whether a request's body ran out of time; shared between the body and the code that
/// answers for the connection, which turns the handler's reply into a `408`.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimedOut(Arc<AtomicBool>);

impl TimedOut {
    pub(crate) fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// `inner` until `deadline`, then one [`BodyTimeout`] error and nothing more.
///
/// The timer is only armed when the body first has to wait: most bodies arrive with their
/// head, and registering a timer per request (and removing it again) cost ≈ 2 % of a
/// request's CPU. Until then each frame is checked against the clock instead.
pub(crate) struct DeadlineBody<B> {
    inner: B,
    deadline: Instant,
    // Boxed so the body stays `Unpin` without a pin projection.
    timer: Option<Pin<Box<Sleep>>>,
    timed_out: TimedOut,
    done: bool,
}

impl<B> DeadlineBody<B> {
    pub(crate) fn new(inner: B, timeout: Duration, timed_out: TimedOut) -> Self {
        // A timeout too large for the clock means "no deadline" in practice.
        let now = Instant::now();
        let deadline = now
            .checked_add(timeout)
            .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365));
        Self {
            inner,
            deadline,
            timer: None,
            timed_out,
            done: false,
        }
    }

    /// Ends the body with its one [`BodyTimeout`].
    fn expire(&mut self) -> Box<dyn StdError + Send + Sync> {
        self.done = true;
        self.timed_out.set();
        Box::new(BodyTimeout)
    }
}

impl<B> Body for DeadlineBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn StdError + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        // The deadline is checked first: a client that keeps bytes flowing must still finish
        // in time, so data being ready is no excuse.
        let expired = match this.timer.as_mut() {
            Some(timer) => timer.as_mut().poll(cx).is_ready(),
            None => Instant::now() >= this.deadline,
        };
        if expired {
            return Poll::Ready(Some(Err(this.expire())));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(frame)) => Poll::Ready(Some(frame.map_err(Into::into))),
            Poll::Pending => {
                if this.timer.is_some() {
                    return Poll::Pending;
                }
                // The first wait: from now on the timer wakes this task at the deadline.
                let timer = this
                    .timer
                    .insert(Box::pin(tokio::time::sleep_until(this.deadline)));
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(this.expire())));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::{BodyExt, Full};

    use super::*;

    /// A body that never ends: a client that went silent (never a frame) or one flooding
    /// bytes (a frame always ready).
    enum Endless {
        Silent,
        Flood,
    }

    impl Body for Endless {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            match *self {
                Endless::Silent => Poll::Pending,
                Endless::Flood => Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"x"))))),
            }
        }
    }

    #[tokio::test]
    async fn a_body_that_arrives_in_time_is_passed_through() {
        let flag = TimedOut::default();
        let body = DeadlineBody::new(
            Full::new(Bytes::from_static(b"abc")),
            Duration::from_secs(60),
            flag.clone(),
        );
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(bytes, Bytes::from_static(b"abc"));
        assert!(!flag.get());
    }

    #[tokio::test]
    async fn a_body_that_never_ends_fails_at_the_deadline() {
        let flag = TimedOut::default();
        let body = DeadlineBody::new(Endless::Silent, Duration::from_millis(50), flag.clone());
        let err = body.collect().await.err().unwrap();
        assert!(err.downcast_ref::<BodyTimeout>().is_some());
        assert!(flag.get());
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_never_waits_still_fails_at_the_deadline() {
        let flag = TimedOut::default();
        let mut body = DeadlineBody::new(Endless::Flood, Duration::from_secs(60), flag.clone());
        assert!(body.frame().await.unwrap().is_ok());
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(body.frame().await.unwrap().is_ok());
        assert!(body.timer.is_none(), "no wait so far, so no timer");
        tokio::time::advance(Duration::from_secs(1)).await;
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(err.downcast_ref::<BodyTimeout>().is_some());
        assert!(flag.get());
        assert!(body.frame().await.is_none(), "nothing after the timeout");
    }
}
