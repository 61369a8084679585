//! The per-route layers, as hand-written tower services: the request metrics ([`record`]) and
//! the token check ([`require`]).
//!
//! `axum::middleware::from_fn` would do, but it clones the inner route and boxes it and the
//! request's future on every request; these call the route they wrap directly, and their futures
//! are plain structs (boxed only while a Backstage token is verified).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use super::auth::{Denied, Refusal, Role};
use super::{AppState, error};

/// Counts requests and their latency per route (a route layer: inside routing, where the route
/// is known).
pub(super) fn record(state: &AppState) -> StateLayer<Recorded> {
    StateLayer {
        state: state.clone(),
        kind: Recorded,
    }
}

/// Answers 401 or 403 unless the request's bearer token (or anonymous read) grants `need`;
/// otherwise the route gets the [`super::Caller`] in the request's extensions.
pub(super) fn require(state: &AppState, need: Role) -> StateLayer<Required> {
    StateLayer {
        state: state.clone(),
        kind: Required(need),
    }
}

/// A layer holding the state and what its service does ([`Recorded`] or [`Required`]).
#[derive(Clone)]
pub(super) struct StateLayer<K> {
    state: AppState,
    kind: K,
}

/// [`record`]'s kind.
#[derive(Clone, Copy)]
pub(super) struct Recorded;

/// [`require`]'s kind: the role needed.
#[derive(Clone, Copy)]
pub(super) struct Required(Role);

impl<K: Clone, S> Layer<S> for StateLayer<K> {
    type Service = Layered<K, S>;

    fn layer(&self, inner: S) -> Self::Service {
        Layered {
            inner,
            state: self.state.clone(),
            kind: self.kind.clone(),
        }
    }
}

/// The service of a [`StateLayer`] around the route `S`.
#[derive(Clone)]
pub(super) struct Layered<K, S> {
    inner: S,
    state: AppState,
    kind: K,
}

impl<S> Service<Request> for Layered<Recorded, S>
where
    S: Service<Request, Error = Infallible>,
    S::Response: IntoResponse,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = RecordFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let route = req.extensions().get::<MatchedPath>().cloned();
        RecordFuture {
            started: Instant::now(),
            answer: self.inner.call(req),
            route,
            state: self.state.clone(),
        }
    }
}

/// The future of [`record`]'s service.
pub(super) struct RecordFuture<F> {
    answer: F,
    route: Option<MatchedPath>,
    started: Instant,
    state: AppState,
}

impl<F, R> Future for RecordFuture<F>
where
    F: Future<Output = Result<R, Infallible>> + Unpin,
    R: IntoResponse,
{
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let resp = std::task::ready!(poll_route(&mut this.answer, cx));
        let route = this.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        this.state
            .inner
            .http_metrics
            .observe(route, resp.status(), this.started.elapsed());
        Poll::Ready(Ok(resp))
    }
}

impl<S> Service<Request> for Layered<Required, S>
where
    S: Service<Request, Error = Infallible> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Unpin + Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = AuthFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let Required(need) = self.kind;
        match self
            .state
            .inner
            .auth
            .authenticate_now(authorization(&req), need)
        {
            Some(Ok(caller)) => {
                admit(&mut req, caller);
                AuthFuture::Route(self.inner.call(req))
            }
            Some(Err(refusal)) => AuthFuture::Refused(Some(refused(&refusal, need))),
            None => {
                // A Backstage token to verify first: this request takes the route polled ready.
                let fresh = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, fresh);
                let state = self.state.clone();
                AuthFuture::Verifying(Box::pin(async move {
                    match state
                        .inner
                        .auth
                        .authenticate(authorization(&req), need)
                        .await
                    {
                        Ok(caller) => {
                            admit(&mut req, caller);
                            let Ok(resp) = inner.call(req).await;
                            resp.into_response()
                        }
                        Err(refusal) => refused(&refusal, need),
                    }
                }))
            }
        }
    }
}

/// The future of [`require`]'s service.
pub(super) enum AuthFuture<F> {
    /// Authorized at once: the route answers.
    Route(F),
    /// Refused at once (taken when polled).
    Refused(Option<Response>),
    /// A Backstage token is verified, then the route answers.
    Verifying(Pin<Box<dyn Future<Output = Response> + Send>>),
}

impl<F, R> Future for AuthFuture<F>
where
    F: Future<Output = Result<R, Infallible>> + Unpin,
    R: IntoResponse,
{
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let resp = match &mut *self {
            AuthFuture::Route(answer) => std::task::ready!(poll_route(answer, cx)),
            AuthFuture::Refused(resp) => resp
                .take()
                .expect("an AuthFuture is not polled after it is ready"),
            AuthFuture::Verifying(answer) => std::task::ready!(answer.as_mut().poll(cx)),
        };
        Poll::Ready(Ok(resp))
    }
}

/// Polls the route's answer, as a response once ready.
fn poll_route<F, R>(answer: &mut F, cx: &mut Context<'_>) -> Poll<Response>
where
    F: Future<Output = Result<R, Infallible>> + Unpin,
    R: IntoResponse,
{
    let Ok(resp) = std::task::ready!(Pin::new(answer).poll(cx));
    Poll::Ready(resp.into_response())
}

/// The request's `Authorization` header, when it is text.
fn authorization(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// Lets `req` through as `caller`'s: the route finds the caller in its extensions.
fn admit(req: &mut Request, caller: super::Caller) {
    tracing::debug!(caller = %caller.name, "authorized");
    req.extensions_mut().insert(caller);
}

/// The 401 (with its `WWW-Authenticate` challenge) or 403 of a refusal.
fn refused(refusal: &Refusal, need: Role) -> Response {
    match refusal.denied {
        Denied::Unauthenticated => {
            let (message, challenge) = match &refusal.reason {
                Some(why) => (
                    why.as_str(),
                    "Bearer realm=\"rubric\", error=\"invalid_token\"",
                ),
                None => (
                    "a bearer token is required (Authorization: Bearer ...)",
                    "Bearer realm=\"rubric\"",
                ),
            };
            let mut resp = error::body(StatusCode::UNAUTHORIZED, message);
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
            resp
        }
        Denied::Forbidden => error::body(
            StatusCode::FORBIDDEN,
            match need {
                Role::Read => "this token's role may not do this (needs read or admin)",
                Role::Upload => "this token's role may not do this (needs upload or admin)",
                Role::Admin => "this token's role may not do this (needs admin)",
            },
        ),
    }
}
