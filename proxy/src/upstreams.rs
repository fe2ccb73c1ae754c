//! `upstreams:`: named pools of backends, how one is picked, how they are probed, and how
//! Vigie connects to them.
//!
//! Owns [`UpstreamSpec`] (the validated section) and [`Pool`] (the live pool: balancer,
//! health state, connection options). Does not own which requests go to a pool (`routing`).

mod discovery;
pub mod gate;
pub mod health;
mod pool;
mod spec;

pub use gate::{ConcurrencySpec, Gate, Permit};
pub use pool::Pool;
pub use spec::{HashKey, HealthCheckSpec, UpstreamSpec, UpstreamTls};
