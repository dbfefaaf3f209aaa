//! The service's settings, from the environment (`../shared/todo-api.md`, "Running it").

use std::path::PathBuf;

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// The embedded file store in this directory (`TODO_DATA_DIR`, default `./.todo-data`).
    Embedded,
    /// DynamoDB (`TODO_STORE=dynamodb`), this table (`TODO_TABLE`), configured the standard way
    /// (`AWS_REGION`, `AWS_ENDPOINT_URL`, ...).
    Dynamodb {
        /// The pool table.
        table: String,
    },
}

/// Whom the service trusts to sign its callers' tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityConfig {
    /// The service is its own development issuer (`/dev/token`): no `TODO_ISSUER`.
    Development,
    /// Tokens of `issuer` only, checked against `jwks_url`, for one of `audiences`.
    Issuer {
        /// `iss`.
        issuer: String,
        /// The JWKS (default `{issuer}/.well-known/jwks.json`).
        jwks_url: String,
        /// `aud` of ID tokens or `client_id` of access tokens.
        audiences: Vec<String>,
    },
}

/// Lists of the premium and platinum tiers in tables of their own (`TODO_REGISTRY_TABLE`): the
/// mixed model, with the registry of where each list lives in the control table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiloConfig {
    /// The control table: the registry and the system items (`TODO_REGISTRY_TABLE`).
    pub registry_table: String,
    /// A silo table is this prefix plus the list id (`TODO_SILO_PREFIX`, default the pool
    /// table's name plus `-list-`).
    pub prefix: String,
}

/// The service's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data directory: the embedded store, the development key, the cursor secret.
    pub data_dir: PathBuf,
    /// Where the data lives.
    pub store: StoreConfig,
    /// Whom to trust.
    pub identity: IdentityConfig,
    /// Requests per second allowed per list (`TODO_LIST_RPS`); `None` is no quota.
    pub list_rps: Option<u32>,
    /// The secret that signs pagination cursors (`TODO_CURSOR_KEY`, at least 32 bytes); without
    /// it, a secret kept in the data directory.
    pub cursor_key: Option<String>,
    /// The EventBridge bus events go to (`TODO_EVENT_BUS`); without it, the in-process bus.
    pub event_bus: Option<String>,
    /// Store each request's usage before answering it (on Lambda, where a frozen sandbox runs no
    /// background task), rather than once a second.
    pub flush_usage_each_request: bool,
    /// The built web client served at `/` (`TODO_WEB_DIR`, default the example's
    /// `examples/todo-web/dist` when built with the `local` feature); `None` serves none (on
    /// Lambda, S3 and CloudFront serve it).
    pub web_dir: Option<PathBuf>,
    /// Silo tables for the lists of premium owners; `None` keeps every list in the pool.
    pub silo: Option<SiloConfig>,
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {reason}")]
pub struct ConfigError {
    name: &'static str,
    reason: String,
}

impl Config {
    /// The local defaults in `data_dir`: embedded store, development issuer, no quota.
    pub fn local(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            store: StoreConfig::Embedded,
            identity: IdentityConfig::Development,
            list_rps: None,
            cursor_key: None,
            event_bus: None,
            flush_usage_each_request: false,
            web_dir: None,
            silo: None,
        }
    }

    /// From `TODO_DATA_DIR`, `TODO_STORE`, `TODO_TABLE`, `TODO_REGISTRY_TABLE`,
    /// `TODO_SILO_PREFIX`, `TODO_ISSUER`, `TODO_JWKS_URL`, `TODO_AUDIENCE`, `TODO_LIST_RPS`,
    /// `TODO_CURSOR_KEY`, `TODO_EVENT_BUS` and `TODO_WEB_DIR`.
    pub fn from_env() -> Result<Config, ConfigError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut config = Config::local(var("TODO_DATA_DIR").unwrap_or_else(|| ".todo-data".into()));
        config.store = match var("TODO_STORE").as_deref() {
            None | Some("embedded") => StoreConfig::Embedded,
            Some("dynamodb") => StoreConfig::Dynamodb {
                table: var("TODO_TABLE").ok_or(ConfigError {
                    name: "TODO_TABLE",
                    reason: "needed with TODO_STORE=dynamodb".into(),
                })?,
            },
            Some(other) => {
                return Err(ConfigError {
                    name: "TODO_STORE",
                    reason: format!("{other:?} is neither embedded nor dynamodb"),
                });
            }
        };
        if let Some(issuer) = var("TODO_ISSUER") {
            let issuer = issuer.trim_end_matches('/').to_owned();
            let audiences: Vec<String> = var("TODO_AUDIENCE")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect();
            if audiences.is_empty() {
                return Err(ConfigError {
                    name: "TODO_AUDIENCE",
                    reason: "needed with TODO_ISSUER (the app client ids, comma-separated)".into(),
                });
            }
            config.identity = IdentityConfig::Issuer {
                jwks_url: var("TODO_JWKS_URL")
                    .unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json")),
                issuer,
                audiences,
            };
        }
        if let Some(registry_table) = var("TODO_REGISTRY_TABLE") {
            let pool = match &config.store {
                StoreConfig::Embedded => crate::app::LOCAL_TABLE,
                StoreConfig::Dynamodb { table } => table.as_str(),
            };
            let prefix = var("TODO_SILO_PREFIX").unwrap_or_else(|| format!("{pool}-list-"));
            if saas_data::TableNames::prefix(&prefix).is_err() {
                return Err(ConfigError {
                    name: "TODO_SILO_PREFIX",
                    reason: "2 to 64 of [A-Za-z0-9_.-]".into(),
                });
            }
            if registry_table == pool {
                return Err(ConfigError {
                    name: "TODO_REGISTRY_TABLE",
                    reason: "must not be the pool table".into(),
                });
            }
            config.silo = Some(SiloConfig {
                registry_table,
                prefix,
            });
        }
        config.event_bus = var("TODO_EVENT_BUS");
        config.web_dir = var("TODO_WEB_DIR").map(PathBuf::from);
        #[cfg(feature = "local")]
        if config.web_dir.is_none() {
            config.web_dir = Some(PathBuf::from(crate::web::BUILT_CLIENT));
        }
        if let Some(key) = var("TODO_CURSOR_KEY") {
            if key.len() < 32 {
                return Err(ConfigError {
                    name: "TODO_CURSOR_KEY",
                    reason: "must be at least 32 bytes".into(),
                });
            }
            config.cursor_key = Some(key);
        }
        if let Some(rps) = var("TODO_LIST_RPS") {
            config.list_rps = Some(rps.parse().ok().filter(|r| *r > 0).ok_or(ConfigError {
                name: "TODO_LIST_RPS",
                reason: format!("{rps:?} is not a positive whole number"),
            })?);
        }
        Ok(config)
    }

    /// Whether this configuration may run on Lambda: it must trust a real issuer (the
    /// development issuer would let anyone sign in as anyone) and keep its data in DynamoDB (a
    /// sandbox's files vanish with it). Sets usage to be stored with each request.
    pub fn for_lambda(mut self) -> Result<Config, ConfigError> {
        if self.identity == IdentityConfig::Development {
            return Err(ConfigError {
                name: "TODO_ISSUER",
                reason:
                    "must be set on Lambda: the development issuer lets anyone sign in as anyone"
                        .into(),
            });
        }
        if self.store == StoreConfig::Embedded {
            return Err(ConfigError {
                name: "TODO_STORE",
                reason: "must be dynamodb on Lambda: a sandbox's files vanish with it".into(),
            });
        }
        if self.cursor_key.is_none() {
            return Err(ConfigError {
                name: "TODO_CURSOR_KEY",
                reason: "must be set on Lambda, the same in every sandbox, or cursors break".into(),
            });
        }
        self.flush_usage_each_request = true;
        self.web_dir = None;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_refuses_the_development_issuer_and_the_embedded_store() {
        let local = Config::local("/tmp/x");
        assert!(
            local
                .clone()
                .for_lambda()
                .unwrap_err()
                .to_string()
                .starts_with("TODO_ISSUER")
        );
        let mut issuer = local;
        issuer.identity = IdentityConfig::Issuer {
            issuer: "https://issuer".into(),
            jwks_url: "https://issuer/jwks".into(),
            audiences: vec!["app".into()],
        };
        assert!(
            issuer
                .clone()
                .for_lambda()
                .unwrap_err()
                .to_string()
                .starts_with("TODO_STORE")
        );
        issuer.store = StoreConfig::Dynamodb {
            table: "todo".into(),
        };
        let err = issuer.clone().for_lambda().unwrap_err().to_string();
        assert!(err.starts_with("TODO_CURSOR_KEY"), "{err}");
        issuer.cursor_key = Some("k".repeat(32));
        assert!(issuer.for_lambda().unwrap().flush_usage_each_request);
    }
}
