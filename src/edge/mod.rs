//! The edges: everything that talks to the world — load files (`source`),
//! the Prometheus API (`prometheus`), HTTP credentials and TLS (`http`),
//! the Kubernetes API (`cluster`), Alertmanager and the Pushgateway
//! (`notify`), the model store (`store`), atomic writes (`atomic`), the
//! process' memory budget (`budget`) and the crash tests' fault points
//! (`fault`). Each edge owns its connection settings. Imports `core` only.

pub mod atomic;
pub mod budget;
pub mod cluster;
pub mod fault;
pub mod http;
pub mod notify;
pub mod prometheus;
pub mod source;
pub mod store;
