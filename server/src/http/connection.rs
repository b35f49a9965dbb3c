//! One client connection: hyper's HTTP/1 connection, the timeouts kubecs puts on it, and
//! the AWS-form answer to requests hyper refuses before the router sees them.
//!
//! Timeouts. hyper's own `header_read_timeout` starts when the previous response ends, so
//! it would also cut idle keep-alive connections at the header timeout. Instead each
//! connection records its [`Phase`] and when it began, and one timer per connection checks
//! it:
//! - `New` (accepted, nothing received) and `Head` (part of a request head received): the
//!   head must be complete within the header-read timeout of the connection's opening, or
//!   of its first byte after an idle spell. Half-sent connections (slowloris) are closed
//!   after it; one that sent part of a head first gets `RequestTimeoutException` (408).
//! - `Busy` (the router has the request): the request's own time limit applies there
//!   (`http::api`); the connection only gives up on a response its client does not take
//!   for the request time limit plus the idle timeout.
//! - `Idle` (between requests on a kept-alive connection): closed after the idle timeout.
//!
//! The phase is updated where things happen — bytes read ([`ConnIo`]), the router called
//! ([`ConnService`]), the response body finished ([`TrackedBody`]) — all on the
//! connection's own task, with relaxed atomics. The timer never has to be moved earlier
//! when the phase changes: it wakes at most every [`ConnectionLimits::tick`] and re-checks,
//! so every deadline is met on time (see [`ConnState::next_wake`]).
//!
//! Refusals. When hyper cannot parse a request (a control character in a header, too many
//! or too large headers, a malformed request line) it writes a bare `400`/`431`/`414` and
//! closes. [`ConnIo`] recognises that answer as it is written — a response while no request
//! was handed to the router, without the `x-amzn-RequestId` every router answer carries —
//! and writes the same refusal in AWS form instead (`__type`, `x-amzn-ErrorType`,
//! `x-amzn-RequestId`), logged and counted like any other request.

use crate::error::{ApiError, AMZ_JSON_1_1};
use crate::http::request_id;
use crate::metrics::{CloseReason, Metrics};
use axum::body::Body;
use axum::Router;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use kubecs_api_models::{error_body, ErrorCode};
use std::convert::Infallible;
use std::future::Future;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The most headers a request may have (hyper's default, kept explicit for the refusal
/// message; raising it would move hyper's header array from the stack to the heap).
pub const MAX_HEADERS: usize = 100;
/// The largest request head, request line included. SDK requests carry about 1 KiB.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The time limits of a connection (flags `--header-read-timeout-secs`,
/// `--idle-timeout-secs`, `--request-timeout-secs`) and the cap on open connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
}

impl ConnectionLimits {
    /// The longest a connection's timer sleeps before re-checking its phase. It is no
    /// longer than any phase's limit, so a phase change never brings a deadline before
    /// the timer's next wake (see [`ConnState::next_wake`]).
    fn tick(&self) -> Duration {
        self.header_read_timeout
            .min(self.idle_timeout)
            .min(self.busy_limit())
            .max(Duration::from_millis(1))
    }

    fn busy_limit(&self) -> Duration {
        self.request_timeout.saturating_add(self.idle_timeout)
    }
}

/// Where a connection is between requests (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    New = 0,
    Head = 1,
    Busy = 2,
    Idle = 3,
}

impl Phase {
    fn from_u8(value: u8) -> Phase {
        match value {
            0 => Phase::New,
            1 => Phase::Head,
            2 => Phase::Busy,
            _ => Phase::Idle,
        }
    }
}

/// A connection's phase and when it began, shared by the pieces that change it.
#[derive(Debug)]
pub struct ConnState {
    phase: AtomicU8,
    /// When the phase began, in nanoseconds since `opened`.
    since_ns: AtomicU64,
    opened: Instant,
}

impl ConnState {
    fn new() -> Self {
        ConnState {
            phase: AtomicU8::new(Phase::New as u8),
            since_ns: AtomicU64::new(0),
            opened: Instant::now(),
        }
    }

    pub fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Relaxed))
    }

    fn enter(&self, phase: Phase) {
        let ns = u64::try_from(self.opened.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.since_ns.store(ns, Relaxed);
        self.phase.store(phase as u8, Relaxed);
    }

    /// Bytes arrived: the start of a request head, unless one is already under way. A
    /// new connection's head is timed from the connection's opening, so a client cannot
    /// reset the clock by waiting before its first byte.
    fn bytes_arrived(&self) {
        match self.phase() {
            Phase::New => self.phase.store(Phase::Head as u8, Relaxed),
            Phase::Idle => self.enter(Phase::Head),
            Phase::Head | Phase::Busy => {}
        }
    }

    fn deadline(&self, limits: &ConnectionLimits) -> (Phase, Instant) {
        let phase = self.phase();
        let since = self.opened + Duration::from_nanos(self.since_ns.load(Relaxed));
        let limit = match phase {
            Phase::New | Phase::Head => limits.header_read_timeout,
            Phase::Busy => limits.busy_limit(),
            Phase::Idle => limits.idle_timeout,
        };
        (phase, since + limit)
    }

    /// `Ok(next wake)` or `Err(the phase that ran out of time)`. Waking at most a tick
    /// ahead keeps every deadline on time without moving the timer on each phase change:
    /// a phase entered at `t` has its deadline at or after `t + tick`, and the timer was
    /// armed before `t` for no later than `t + tick`.
    fn next_wake(&self, limits: &ConnectionLimits, now: Instant) -> Result<Instant, Phase> {
        let (phase, deadline) = self.deadline(limits);
        if now >= deadline {
            Err(phase)
        } else {
            Ok(deadline.min(now + limits.tick()))
        }
    }
}

/// The socket as hyper sees it: notes arriving bytes, and replaces hyper's bare refusals
/// with AWS-form ones.
pub struct ConnIo {
    stream: TcpStream,
    state: Arc<ConnState>,
    metrics: Arc<Metrics>,
    /// Our answer in place of hyper's refusal, and how much of it is written.
    answer: Option<(Vec<u8>, usize)>,
}

impl ConnIo {
    /// If `head` is hyper's own refusal of an unparsable request, our answer instead.
    fn intercept(&mut self, head: &[u8]) {
        if self.answer.is_some() || self.state.phase() != Phase::Head {
            return;
        }
        let Some(status) = hyper_refusal(head) else {
            return;
        };
        let error = match status {
            431 => ApiError::new(
                ErrorCode::RequestEntityTooLargeException,
                format!(
                    "The request's headers are larger than kubecs accepts: at most {MAX_HEADERS} headers and {MAX_HEAD_BYTES} bytes."
                ),
            ),
            414 => ApiError::new(
                ErrorCode::RequestEntityTooLargeException,
                "The request's URI is longer than kubecs accepts.",
            ),
            _ => ApiError::new(
                ErrorCode::SerializationException,
                "The request is not valid HTTP/1.1: its request line or a header is malformed (for example, a header value holds a control character).",
            ),
        };
        let date = header_line(head, b"date");
        self.answer = Some((refusal_bytes(&error, date, &self.metrics), 0));
    }

    /// Writes our answer; reports `claimed` bytes (hyper's refusal) as written once done.
    fn poll_answer(
        &mut self,
        cx: &mut Context<'_>,
        claimed: usize,
    ) -> Poll<std::io::Result<usize>> {
        if let Some((bytes, written)) = &mut self.answer {
            while *written < bytes.len() {
                let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &bytes[*written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                *written += n;
            }
        }
        Poll::Ready(Ok(claimed))
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.state.bytes_arrived();
        }
        result
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.intercept(buf);
        if this.answer.is_some() {
            return this.poll_answer(cx, buf.len());
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        // hyper writes a response head as one buffer, so a refusal is all in the first.
        if let Some(first) = bufs.first() {
            this.intercept(first);
        }
        if this.answer.is_some() {
            let claimed = bufs.iter().map(|b| b.len()).sum();
            return this.poll_answer(cx, claimed);
        }
        Pin::new(&mut this.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The status of hyper's automatic answer to a request it could not parse, if `head` is
/// one: `400`, `431` or `414`, and not an answer of the router (those always carry
/// `x-amzn-requestid`).
fn hyper_refusal(head: &[u8]) -> Option<u16> {
    let status = match head.strip_prefix(b"HTTP/1.1 ")?.get(..3)? {
        b"400" => 400,
        b"431" => 431,
        b"414" => 414,
        _ => return None,
    };
    let end = find(head, b"\r\n\r\n").unwrap_or(head.len());
    let is_ours = head[..end]
        .windows(b"x-amzn-requestid".len())
        .any(|w| w.eq_ignore_ascii_case(b"x-amzn-requestid"));
    (!is_ours).then_some(status)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The whole `name: value` line of a header in a response head, if present.
fn header_line<'a>(head: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    head.split(|&b| b == b'\n').find(|line| {
        line.len() > name.len()
            && line[..name.len()].eq_ignore_ascii_case(name)
            && line[name.len()] == b':'
    })
}

/// A complete HTTP/1.1 response carrying `error` in AWS form, for a connection that is
/// then closed; logged as an access-log line and counted like a request.
fn refusal_bytes(error: &ApiError, date: Option<&[u8]>, metrics: &Metrics) -> Vec<u8> {
    let id = uuid::Uuid::new_v4().to_string();
    let body = error_body(error.code, &error.message);
    let status = error.code.http_status();
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {AMZ_JSON_1_1}\r\nx-amzn-requestid: {id}\r\nx-amzn-errortype: {code}\r\ncontent-length: {len}\r\nconnection: close\r\n",
        code = error.code.wire_name(),
        len = body.len(),
    )
    .into_bytes();
    if let Some(date) = date {
        out.extend_from_slice(date.trim_ascii_end());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.as_bytes());
    metrics.observe_refusal(error.code);
    request_id::log_refusal(&id, status, error);
    out
}

/// The router as hyper's service for one connection: marks the connection busy while it
/// has a request, and idle again when the response body is done.
#[derive(Clone)]
pub struct ConnService {
    router: Router,
    state: Arc<ConnState>,
}

impl hyper::service::Service<http::Request<Incoming>> for ConnService {
    type Response = http::Response<TrackedBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: http::Request<Incoming>) -> Self::Future {
        self.state.enter(Phase::Busy);
        let state = Arc::clone(&self.state);
        let response = tower::ServiceExt::oneshot(self.router.clone(), request.map(Body::new));
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|inner| TrackedBody { inner, state }))
        })
    }
}

/// A response body that marks its connection idle when hyper is done with it.
pub struct TrackedBody {
    inner: Body,
    state: Arc<ConnState>,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for TrackedBody {
    fn drop(&mut self) {
        self.state.enter(Phase::Idle);
    }
}

/// What the accept loop tells its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Serving,
    /// Finish the request in flight, then close; close idle connections now.
    Draining,
}

/// Everything a connection needs from the server, shared by all of them.
pub struct Shared {
    pub router: Router,
    pub metrics: Arc<Metrics>,
    pub limits: ConnectionLimits,
    http: http1::Builder,
}

impl Shared {
    pub fn new(router: Router, metrics: Arc<Metrics>, limits: ConnectionLimits) -> Self {
        let mut http = http1::Builder::new();
        http.max_header_size(MAX_HEAD_BYTES)
            // Ours are the timeouts described above; hyper's would also cut idle
            // keep-alive connections at the header timeout.
            .header_read_timeout(None);
        Shared {
            router,
            metrics,
            limits,
            http,
        }
    }

    /// Serves one accepted connection until it ends, times out, or the server stops
    /// (the sender of `stop` dropped: close at once).
    pub async fn serve(
        self: Arc<Self>,
        stream: TcpStream,
        mut stop: tokio::sync::watch::Receiver<Stop>,
    ) {
        self.metrics.connection_opened();
        let _open = scopeguard(Arc::clone(&self.metrics));
        let state = Arc::new(ConnState::new());
        let io = ConnIo {
            stream,
            state: Arc::clone(&state),
            metrics: Arc::clone(&self.metrics),
            answer: None,
        };
        let service = ConnService {
            router: self.router.clone(),
            state: Arc::clone(&state),
        };
        let mut conn = self.http.serve_connection(TokioIo::new(io), service);
        let limits = self.limits;
        let timer = tokio::time::sleep(limits.tick());
        tokio::pin!(timer);
        let mut draining = false;
        loop {
            tokio::select! {
                result = &mut conn => {
                    if let Err(err) = result {
                        tracing::debug!(%err, "connection ended with an error");
                    }
                    return;
                }
                () = &mut timer => {
                    let now = Instant::now();
                    match state.next_wake(&limits, now) {
                        Ok(next) => timer.as_mut().reset(next),
                        Err(phase) => return self.timed_out(conn, phase).await,
                    }
                }
                changed = stop.changed(), if !draining => {
                    if changed.is_err() {
                        return; // the server has stopped waiting for us
                    }
                    if *stop.borrow() == Stop::Draining {
                        draining = true;
                        if state.phase() == Phase::New {
                            return; // nothing asked of us yet
                        }
                        Pin::new(&mut conn).graceful_shutdown();
                    }
                }
            }
        }
    }

    async fn timed_out(&self, conn: http1::Connection<TokioIo<ConnIo>, ConnService>, phase: Phase) {
        let limits = &self.limits;
        let reason = match phase {
            Phase::New | Phase::Head => CloseReason::HeaderTimeout,
            Phase::Busy => CloseReason::ResponseTimeout,
            Phase::Idle => CloseReason::IdleTimeout,
        };
        self.metrics.connection_closed(reason);
        tracing::debug!(reason = reason.as_str(), "closing a connection");
        if phase != Phase::Head {
            return; // nothing to answer: no request, or one already answered
        }
        // Part of a request arrived: say why it will not be served. hyper has not
        // written anything for it, so the socket is ours to answer on.
        let mut stream = conn.into_parts().io.into_inner().stream;
        let error = ApiError::new(
            ErrorCode::RequestTimeoutException,
            format!(
                "The request head was not received within {} seconds.",
                limits.header_read_timeout.as_secs_f64()
            ),
        );
        let answer = refusal_bytes(&error, None, &self.metrics);
        // A client that does not read gets no more of our time than this.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            stream.write_all(&answer).await?;
            stream.shutdown().await
        })
        .await;
    }
}

/// Counts the connection as closed however its task ends (return, or a panic unwinding).
fn scopeguard(metrics: Arc<Metrics>) -> impl Drop {
    struct Open(Arc<Metrics>);
    impl Drop for Open {
        fn drop(&mut self) {
            self.0.connection_ended();
        }
    }
    Open(metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            max_connections: 16,
        }
    }

    #[test]
    fn hyper_refusals_are_recognised_and_router_answers_are_not() {
        let hyper = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Sun, 07 Dec 2025 00:00:00 GMT\r\n\r\n";
        assert_eq!(hyper_refusal(hyper), Some(431));
        assert_eq!(
            header_line(hyper, b"date"),
            Some(&b"date: Sun, 07 Dec 2025 00:00:00 GMT\r"[..])
        );
        assert_eq!(
            hyper_refusal(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
            Some(400)
        );
        let ours = b"HTTP/1.1 400 Bad Request\r\nx-amzn-requestid: 1\r\n\r\n{}";
        assert_eq!(hyper_refusal(ours), None);
        assert_eq!(hyper_refusal(b"HTTP/1.1 200 OK\r\n\r\n"), None);
        assert_eq!(hyper_refusal(b"{\"__type\""), None);
    }

    #[test]
    fn each_phase_has_its_own_deadline() {
        let limits = limits();
        let state = ConnState::new();
        let opened = state.opened;
        assert_eq!(
            state.deadline(&limits),
            (Phase::New, opened + limits.header_read_timeout)
        );
        state.bytes_arrived();
        // The first head is timed from the opening, not from its first byte.
        assert_eq!(
            state.deadline(&limits),
            (Phase::Head, opened + limits.header_read_timeout)
        );
        state.enter(Phase::Busy);
        assert_eq!(state.deadline(&limits).0, Phase::Busy);
        assert!(state.deadline(&limits).1 >= opened + Duration::from_secs(90));
        state.enter(Phase::Idle);
        let (phase, idle_deadline) = state.deadline(&limits);
        assert_eq!(phase, Phase::Idle);
        assert!(idle_deadline >= opened + limits.idle_timeout);
        state.bytes_arrived();
        assert_eq!(state.phase(), Phase::Head);
        state.bytes_arrived(); // more of the same head: no change
        assert_eq!(state.phase(), Phase::Head);
    }

    #[test]
    fn the_timer_never_sleeps_past_a_deadline_or_a_tick() {
        let limits = limits();
        let state = ConnState::new();
        let now = state.opened;
        assert_eq!(state.next_wake(&limits, now), Ok(now + limits.tick()));
        state.enter(Phase::Idle);
        let later = now + Duration::from_secs(5);
        assert_eq!(
            state.next_wake(&limits, later),
            Ok(later + Duration::from_secs(10))
        );
        assert_eq!(
            state.next_wake(&limits, now + Duration::from_secs(61)),
            Err(Phase::Idle)
        );
        assert_eq!(limits.tick(), Duration::from_secs(10));
    }
}
