//! The application: the YAML config and its validation (`config`), the
//! command flows that sequence the edges around the core (`run`), and
//! stopping on signals (`stop`). Imports `core`, `edge` and `report`.

pub mod config;
pub mod run;
pub mod stop;
