//! Shared helpers of the integration tests.

pub mod events;
pub mod notify;
pub mod prometheus;
pub mod victoria;
