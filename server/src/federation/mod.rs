//! Federation between regions' servers without a hub (spec/federation.md): the federation
//! chains this server publishes for its outbound regions ([`outbound`]), and the import of
//! its peers' chains for this region ([`import`], over [`fetch`]).

pub mod admin;
pub mod fetch;
pub mod import;
pub mod outbound;
