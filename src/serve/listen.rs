//! Accepting connections with a request timeout, so that a slow client cannot hold a
//! connection (and its task and buffers) for ever.
//!
//! Why our own accept loop rather than `axum::serve`: axum's server sets no timer, so
//! hyper's header read timeout is off and a client that sends its request head one byte
//! at a time (slowloris) keeps its connection open indefinitely. Here each connection is
//! served by hyper-util's HTTP/1 + HTTP/2 builder (the one `axum::serve` uses) with tokio's
//! timer and `header_read_timeout(--request-timeout)`: a head not complete within the
//! timeout closes the connection (an idle keep-alive connection is closed after the same
//! time; browsers reconnect). The body has the same budget, counted from the end of the
//! head: [`body_deadline`] wraps it so that a body still incomplete then fails the read,
//! and the handler answers 408 (`api::Body`). Responses (event streams) are not limited.
//!
//! Shutdown mirrors axum's: stop accepting, ask every connection to finish its
//! in-flight request (`graceful_shutdown`), wait for them.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::stream::{self, StreamExt};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use super::Shared;

/// Default `--request-timeout`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The error a body read gets when the body did not arrive within the request timeout.
#[derive(Debug)]
pub struct BodyTimedOut(pub Duration);

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body did not arrive within {} (--request-timeout)",
            humantime::format_duration(self.0)
        )
    }
}

impl std::error::Error for BodyTimedOut {}

/// Whether `e` (or an error it wraps) is [`BodyTimedOut`].
pub fn timed_out<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a BodyTimedOut> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<BodyTimedOut>() {
            return Some(t);
        }
        cur = err.source();
    }
    None
}

/// Middleware: the request body must be complete within `--request-timeout` of the head.
pub async fn body_deadline(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let limit = app.args.request_timeout;
    let deadline = tokio::time::Instant::now() + limit;
    let (parts, body) = req.into_parts();
    let frames = body.into_data_stream();
    let timed = stream::unfold(Some(frames), move |frames| async move {
        let mut frames = frames?;
        match tokio::time::timeout_at(deadline, frames.next()).await {
            Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(frames))),
            Ok(Some(Err(e))) => Some((Err(axum::Error::new(e)), None)),
            Ok(None) => None,
            Err(_) => Some((Err(axum::Error::new(BodyTimedOut(limit))), None)),
        }
    });
    next.run(Request::from_parts(parts, Body::from_stream(timed)))
        .await
}

/// Serve `router` on `listener` until `stop` is cancelled, then finish in-flight requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    request_timeout: Duration,
    stop: CancellationToken,
) -> Result<(), String> {
    let mut conns = JoinSet::new();
    loop {
        let (stream, _peer): (_, SocketAddr) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Typically EMFILE: back off instead of spinning; keep serving.
                    if !matches!(e.kind(), std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::Interrupted) {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    continue;
                }
            },
        };
        // Reap finished connections so the set holds only live ones.
        while conns.try_join_next().is_some() {}
        let service = TowerToHyperService::new(
            router
                .clone()
                .map_request(|req: Request<Incoming>| req.map(Body::new)),
        );
        let stop = stop.clone();
        conns.spawn(async move {
            let mut builder = Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(request_timeout);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                // A connection error (reset, timeout, malformed) ends only this one.
                _ = conn.as_mut() => return,
                () = stop.cancelled() => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
    Ok(())
}
