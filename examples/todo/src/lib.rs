//! The multi-tenant todo service (`../shared/todo-api.md`): each todo list is a tenant, built only
//! on the public APIs of `saas-core` (verified callers, per-request tenants authorised by
//! membership), `saas-data` (the list's data in its own key space) and `saas-metrics`.
//!
//! ```no_run
//! # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
//! let config = todo::Config::from_env()?;
//! let server = todo::Server::start(config, "127.0.0.1:3000").await?;
//! println!("listening on {}", server.url());
//! server.wait().await?;
//! # Ok(()) }
//! ```

mod app;
pub mod authorizer;
mod body;
mod config;
mod emf_file;
mod error;
pub mod events;
mod metering;
mod model;
mod pages;
pub mod pre_token;
mod quota;
mod routes;
mod secret;
mod server;
#[cfg(feature = "local")]
mod web;

pub use app::{
    App, AppState, DevIssuer, LOCAL_TABLE, SILO_TIERS, Shared, StartError, build, open_store,
    verifier,
};
pub use config::{Config, ConfigError, IdentityConfig, SiloConfig, StoreConfig};
pub use error::ApiError;
pub use server::Server;
