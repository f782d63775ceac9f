//! A deadline for reading a request body. actix-web times out the request head
//! (`client_request_timeout`) but not the body: a client sending one byte every few
//! seconds would hold a connection and a worker's attention forever. The body is wrapped
//! in a stream that fails once the deadline passes; the response is then 408 and the
//! connection is closed.

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_core::Stream;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// Time allowed for the request head (headers).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for the whole body after the head; bodies are at most 64 KiB.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

struct TimedPayload {
    inner: Payload,
    deadline: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
}

impl Stream for TimedPayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.expired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "request body not received in time",
            )))));
        }
        Poll::Pending
    }
}

/// Replaces the payload by one that fails after `BODY_TIMEOUT`; the flag tells whether
/// it did.
pub fn limit(payload: Payload) -> (Payload, Arc<AtomicBool>) {
    let expired = Arc::new(AtomicBool::new(false));
    let timed = TimedPayload {
        inner: payload,
        deadline: Box::pin(tokio::time::sleep(BODY_TIMEOUT)),
        expired: expired.clone(),
    };
    (
        Payload::Stream {
            payload: Box::pin(timed),
        },
        expired,
    )
}
