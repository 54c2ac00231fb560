//! The gateway: what happens to a request before and after the attempt engine.
//!
//! A request flows one way: a host hands it to [`Runtime::handle`] ([`handle`]): preflight,
//! auth, the endpoint by path ([`paths`]) → the endpoint's handler ([`endpoints`]) decodes it
//! in its protocol, resolves its `model` to routes ([`runtime`]) and hands an
//! [`Exchange`](crate::attempt::exchange::Exchange) to the attempt engine
//! ([`crate::attempt`]) → the engine calls upstreams through their kinds
//! ([`crate::upstream`]) → the exchange turns the answer into the client's protocol → on the
//! way out every answer gets its protocol's error shape ([`protocols`]), CORS headers and the
//! log line.
//!
//! | module | holds |
//! |---|---|
//! | [`runtime`] | [`Runtime`]: per-isolate state, and what a `model` resolves to |
//! | [`handle`] | the request path: auth, dispatch by endpoint, what every answer gets |
//! | [`paths`] | every endpoint, by method and path |
//! | [`endpoints`] | one handler per endpoint family, each with its exchange |
//! | [`protocols`] | the inbound protocols' error shapes, stream error events, keepalives |
//! | [`auth`] | gateway keys, constant-time comparison |
//! | [`cors`] | preflight answer and the headers on every response |

pub mod auth;
pub mod cors;
pub mod endpoints;
pub mod handle;
pub mod paths;
pub mod protocols;
pub mod runtime;

pub use runtime::Runtime;
