//! Vigie: the authentication edge of the French national education portals, on Pingora.
//!
//! One module per section of the YAML file (`listeners`, `limits`, `upstreams`, `routing`,
//! `forwarded` for `trusted_proxies`, `admin`, `logging`, `server`), plus the request pipeline
//! (`proxy`), the failure pages (`pages`), the metrics and the reload machinery.

pub mod admin;
pub mod auth;
pub mod check;
pub mod cli;
pub mod config;
pub mod forwarded;
pub mod limits;
pub mod listeners;
pub mod logging;
pub mod login;
pub mod metrics;
pub mod pages;
pub mod plugins;
pub mod proxy;
pub mod ratelimit;
pub mod reload;
pub mod request_id;
pub mod routing;
pub mod saml;
pub mod server;
pub mod sessions;
pub mod upstreams;
pub mod waiting;
