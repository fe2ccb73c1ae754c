//! Servers that stand in for what Vigie protects, for the demo, the tests and load runs.
//!
//! [`upstream`] is a small HTTP/1.1 and HTTP/2 server playing a teleservice or an ENT.

pub mod browser;
pub mod devpage;
pub mod educonnect;
pub mod franceconnect;
pub mod html;
pub mod idp;
pub mod keys;
pub mod redis;
pub mod saml;
pub mod scenario;
pub mod serve;
pub mod upstream;
