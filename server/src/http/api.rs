//! The API entry point: reads the body, authenticates, checks the AWS JSON 1.1 envelope
//! (method, content type, `X-Amz-Target`), builds the handler context and dispatches; and
//! the JSON 404 and 405 for every other path and method.
//!
//! Body reading and authentication are steps of this one function rather than router
//! middleware: each `from_fn` layer cost a boxed future, a clone of the inner service and
//! a type-map entry to pass its result on (a few percent of DescribeServices in
//! `server/benches/in_process.rs`), and plain calls say in what order things happen. That
//! order, and so which error a bad request gets first, is what it was: body limits, then
//! the signature, then the envelope.
//!
//! The request time limit is one deadline, set when the request reaches this entry and
//! shared by reading the body and running the handler: a slow body leaves the handler
//! only what remains, so no request takes longer than the limit (it used to be applied to
//! each step, so a request could take twice it).

use crate::app::AppState;
use crate::context::Ctx;
use crate::dispatch::{self, dispatch};
use crate::error::ApiError;
use crate::http::request_id::{self, RequestId, RequestSummary};
use crate::http::{auth, body};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use kubecs_api_models::{ErrorCode, Operation, TARGET_PREFIX};
use std::future::Future;
use std::sync::Arc;
use tokio::time::Instant;

/// Media types accepted on requests: the AWS JSON types (1.1 is what every ECS client
/// sends; 1.0 and plain JSON carry the same body) — anything else is refused.
const ACCEPTED_CONTENT_TYPES: &[&str] = &[
    "application/x-amz-json-1.1",
    "application/x-amz-json-1.0",
    "application/json",
];

pub async fn entry(State(state): State<Arc<AppState>>, request: Request) -> Response {
    serve_api(&state, request, |operation, ctx, body| async move {
        dispatch(operation, ctx, &body).await
    })
    .await
}

/// [`entry`] with the dispatcher as a parameter, so that tests can give it a slow one.
/// The response carries a [`RequestSummary`] for metrics and the access log.
pub async fn serve_api<D, F>(state: &AppState, request: Request, dispatcher: D) -> Response
where
    D: FnOnce(Operation, Ctx, Bytes) -> F,
    F: Future<Output = Result<Response, ApiError>>,
{
    let deadline = Instant::now() + state.request_timeout;
    let (parts, body) = request.into_parts();
    // Named from the target alone, so that a request refused before the envelope check
    // (its signature, say) still counts under the operation it asked for.
    let mut summary = RequestSummary {
        operation: operation(&parts).ok(),
        resources: None,
    };
    let mut response = match handle(state, parts, body, deadline, &mut summary, dispatcher).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    };
    response.extensions_mut().insert(summary);
    response
}

async fn handle<D, F>(
    state: &AppState,
    parts: Parts,
    body: axum::body::Body,
    deadline: Instant,
    summary: &mut RequestSummary,
    dispatcher: D,
) -> Result<Response, ApiError>
where
    D: FnOnce(Operation, Ctx, Bytes) -> F,
    F: Future<Output = Result<Response, ApiError>>,
{
    let timed_out = |what: String| {
        ApiError::new(
            ErrorCode::RequestTimeoutException,
            format!(
                "{what} within the time limit of {} seconds.",
                state.request_timeout.as_secs_f64()
            ),
        )
    };
    let body = tokio::time::timeout_at(deadline, body::read(state, &parts.headers, body))
        .await
        .map_err(|_| timed_out("The request body was not received".to_owned()))??;
    let caller = auth::authenticate(state, &parts, &body)?;
    if parts.method != Method::POST {
        return Err(ApiError::new(
            ErrorCode::MethodNotAllowedException,
            format!(
                "The ECS API accepts only POST requests on / (AWS JSON 1.1 protocol), not {}.",
                parts.method
            ),
        ));
    }
    check_content_type(&parts)?;
    let operation = operation(&parts)?;
    // Only what the access log will show is worth a second look at the body.
    if tracing::enabled!(target: request_id::TARGET, tracing::Level::INFO) {
        summary.resources = dispatch::resources(&body);
    }
    let Some(RequestId(request_id)) = parts.extensions.get::<RequestId>().cloned() else {
        // `request_id::tag_and_log` wraps every route; reaching here is a wiring bug.
        return Err(ApiError::internal(&"request id missing"));
    };
    let region: Arc<str> = Arc::from(caller.region.as_str());
    let ctx = Ctx {
        store: state.store.region(&region),
        arns: Arc::new(kubecs_api_models::ArnBuilder::new(
            &region,
            &state.account_id,
        )),
        region,
        caller,
        request_id,
        now: state.clock.now(),
        caches: state.caches.clone(),
        nodes: state.nodes.clone(),
    };
    match tokio::time::timeout_at(deadline, dispatcher(operation, ctx, body)).await {
        Ok(result) => result,
        Err(_) => Err(timed_out(format!("{operation} did not complete"))),
    }
}

fn check_content_type(parts: &Parts) -> Result<(), ApiError> {
    let Some(value) = parts.headers.get(header::CONTENT_TYPE) else {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaTypeException,
            "Missing Content-Type header: the ECS API expects application/x-amz-json-1.1.",
        ));
    };
    let media_type = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if ACCEPTED_CONTENT_TYPES.contains(&media_type.as_str()) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::UnsupportedMediaTypeException,
            format!(
                "Unsupported Content-Type {:?}: the ECS API expects application/x-amz-json-1.1.",
                String::from_utf8_lossy(value.as_bytes())
            ),
        ))
    }
}

fn operation(parts: &Parts) -> Result<Operation, ApiError> {
    let Some(target) = parts.headers.get("x-amz-target") else {
        return Err(ApiError::new(
            ErrorCode::UnknownOperationException,
            format!("Missing X-Amz-Target header: expected {TARGET_PREFIX}.<Operation>."),
        ));
    };
    let target = String::from_utf8_lossy(target.as_bytes());
    target
        .strip_prefix(TARGET_PREFIX)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(Operation::from_name)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownOperationException,
                format!("{target} is not an operation of {TARGET_PREFIX}."),
            )
        })
}

/// Any path other than the API, health and readiness.
pub async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    ApiError::new(
        ErrorCode::NotFoundException,
        format!(
            "No resource at {method} {}: the ECS API is served at POST /.",
            uri.path()
        ),
    )
    .into_response()
}

/// A method other than GET on the health, readiness and metrics paths.
pub async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> Response {
    let mut response = ApiError::new(
        ErrorCode::MethodNotAllowedException,
        format!("{} accepts only GET, not {method}.", uri.path()),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET,HEAD"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AuthMode, Config};
    use crate::error::Refused;
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{ready, Context, Poll};
    use std::time::Duration;

    /// A body that arrives in chunks, each after its delay (on tokio's clock, paused in
    /// these tests, so the minutes below pass at once).
    struct SlowBody {
        chunks: VecDeque<(Duration, &'static [u8])>,
        waiting: Option<Pin<Box<tokio::time::Sleep>>>,
    }

    impl http_body::Body for SlowBody {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            let Some(&(delay, chunk)) = self.chunks.front() else {
                return Poll::Ready(None);
            };
            let sleep = self
                .waiting
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
            ready!(sleep.as_mut().poll(cx));
            self.waiting = None;
            self.chunks.pop_front();
            Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from_static(chunk)))))
        }
    }

    fn state(dir: &tempfile::TempDir) -> AppState {
        let mut config = Config::for_data_dir(dir.path().to_path_buf());
        config.auth = AuthMode::Off;
        config.request_timeout_secs = 30;
        crate::startup::build_state(&config).unwrap()
    }

    /// ListClusters whose body `{}` arrives in two halves, `first` and `second` apart.
    fn request(first: Duration, second: Duration) -> Request {
        let body = SlowBody {
            chunks: VecDeque::from([(first, &b"{"[..]), (second, &b"}"[..])]),
            waiting: None,
        };
        let mut request = Request::builder()
            .method("POST")
            .uri("/")
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "x-amz-target",
                "AmazonEC2ContainerServiceV20141113.ListClusters",
            )
            .body(axum::body::Body::new(body))
            .unwrap();
        request
            .extensions_mut()
            .insert(RequestId(Arc::from("test-request")));
        request
    }

    fn refusal(response: &Response) -> &Refused {
        response.extensions().get::<Refused>().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_body_and_then_a_slow_handler_are_cut_at_the_time_limit_not_twice_it() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir);
        let started = Instant::now();
        // The body takes 20 of the 30 seconds; the handler would take an hour.
        let handler_started = std::sync::Mutex::new(None);
        let response = serve_api(
            &state,
            request(Duration::from_secs(5), Duration::from_secs(15)),
            |_, _, _| async {
                *handler_started.lock().unwrap() = Some(started.elapsed());
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok("never".into_response())
            },
        )
        .await;
        assert_eq!(
            *handler_started.lock().unwrap(),
            Some(Duration::from_secs(20))
        );
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        assert_eq!(response.status().as_u16(), 408);
        let refused = refusal(&response);
        assert_eq!(refused.code, ErrorCode::RequestTimeoutException);
        assert_eq!(
            refused.message,
            "ListClusters did not complete within the time limit of 30 seconds."
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_slower_than_the_limit_is_cut_at_the_limit_and_no_handler_runs() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir);
        let started = Instant::now();
        let response = serve_api(
            &state,
            request(Duration::from_secs(10), Duration::from_secs(50)),
            |_, _, _| async { panic!("the handler ran without its body") },
        )
        .await;
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        let refused = refusal(&response);
        assert_eq!(refused.code, ErrorCode::RequestTimeoutException);
        assert!(
            refused.message.contains("body was not received"),
            "{refused:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_within_the_limit_is_served_and_summarised() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir);
        let response = serve_api(
            &state,
            request(Duration::from_secs(1), Duration::from_secs(1)),
            |op, ctx, body| async move { dispatch(op, ctx, &body).await },
        )
        .await;
        assert_eq!(response.status().as_u16(), 200);
        let summary = response.extensions().get::<RequestSummary>().unwrap();
        assert_eq!(summary.operation, Some(Operation::ListClusters));
    }
}
