//! Federation between regions' servers without a hub (spec/federation.md): the federation
//! chains this server publishes for its outbound regions ([`outbound`]).
//!
//! Importing peers' chains (one task per `[[federation.peers]]`) is the next step; it will
//! insert verified keys with their origin, and a key arriving again from the same origin with
//! a new report type will be handed to one function (the revision hook) instead of being
//! skipped as already stored.

pub mod outbound;
