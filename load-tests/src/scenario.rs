//! Peak days replayed on one machine: the scenario runner behind `bin/scenario.rs`.
//!
//! A [`Stack`] is a demo upstream and the development FranceConnect in this process, and
//! the `vigie` binary as a child with a config written for the run. A scenario drives it with
//! an open-loop load (arrivals follow a rate over time, whatever the answers take) and
//! records every answer's latency and status by class, then reports percentiles and what
//! the identity provider saw.
//!
//! - [`rentree`]: rentrée morning. Parents already logged in browse (90% of arrivals) while
//!   newcomers log in (10%); the arrival rate ramps tenfold in a minute and holds, so logins
//!   run ten times over the provider's admission rate and newcomers queue in the waiting room.
//! - [`spray`]: token spray. Session holders browse while clients spray random invalid bearer
//!   tokens with random key ids at an API route.

pub mod load;
pub mod rentree;
pub mod spray;
mod stack;

pub use stack::{Stack, StackSettings, client_address};
