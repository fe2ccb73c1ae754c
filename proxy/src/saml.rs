//! ÉduConnect logins: the SAML protocol itself is the `vigie-saml` crate (re-exported here);
//! this module holds what ties it to the proxy: the validated config (`spec`), the live
//! provider with its metadata (`provider`) and the attribute mapping to an identity
//! (`attributes`).

pub use vigie_saml::{c14n, decrypt, dsig, messages, metadata, ns, redirect, response, time, xml};

pub mod attributes;
pub mod provider;
pub mod spec;
