//! The admin listener's endpoints (operators only): `GET /metrics`.

use bytes::Bytes;

use super::Resp;
use crate::state::AppState;

/// Prometheus text format.
pub fn metrics(state: &AppState) -> Resp {
    super::respond(
        hyper::StatusCode::OK,
        "text/plain; version=0.0.4",
        Bytes::from(state.metrics.render()),
    )
}
