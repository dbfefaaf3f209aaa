//! Roles and tiers: closed sets that parse strictly.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value that is not one of the known roles or tiers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?} (expected one of: {expected})")]
pub struct UnknownValue {
    kind: &'static str,
    value: String,
    expected: &'static str,
}

impl UnknownValue {
    /// What was being parsed: `"role"` or `"tier"`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The rejected value, cut to 64 characters.
    pub fn value(&self) -> &str {
        &self.value
    }
}

fn unknown(kind: &'static str, value: &str, expected: &'static str) -> UnknownValue {
    UnknownValue {
        kind,
        value: value.chars().take(64).collect(),
        expected,
    }
}

macro_rules! closed_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $kind:literal, $ci:expr, {
            $( $(#[$vmeta:meta])* $variant:ident => $canonical:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The canonical spelling, as the AWS SaaS reference solution writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $canonical, )+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let eq = |a: &str, b: &str| if $ci { a.eq_ignore_ascii_case(b) } else { a == b };
                $(
                    if eq(s, $canonical) $(|| eq(s, $alias))* {
                        return Ok($name::$variant);
                    }
                )+
                Err(unknown($kind, s, concat!($($canonical, " "),+)))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<str>::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

closed_enum! {
    /// The caller's role within its tenant.
    ///
    /// Parsing accepts the reference solution's spelling (`TenantAdmin`) and snake case
    /// (`tenant_admin`); anything else is an [`UnknownValue`] error, never a default grant.
    ///
    /// ```
    /// use saas_core::Role;
    ///
    /// assert_eq!("TenantAdmin".parse::<Role>()?, Role::TenantAdmin);
    /// assert_eq!("tenant_user".parse::<Role>()?, Role::TenantUser);
    /// assert!("root".parse::<Role>().is_err());
    /// # Ok::<(), saas_core::UnknownValue>(())
    /// ```
    Role, "role", false, {
        /// Operates the SaaS itself, across tenants. Granted only by the identity provider.
        SystemAdmin => "SystemAdmin" | "system_admin",
        /// Administers one tenant: its users, settings and data.
        TenantAdmin => "TenantAdmin" | "tenant_admin",
        /// Reads and writes one tenant's data.
        TenantUser => "TenantUser" | "tenant_user",
        /// Reads one tenant's data.
        TenantViewer => "TenantViewer" | "tenant_viewer",
    }
}

impl Role {
    /// Whether the role may change the tenant's data.
    pub fn can_write(self) -> bool {
        !matches!(self, Role::TenantViewer)
    }

    /// Whether the role administers the tenant (or the whole system).
    pub fn is_admin(self) -> bool {
        matches!(self, Role::SystemAdmin | Role::TenantAdmin)
    }
}

closed_enum! {
    /// The tenant's tier, which decides its limits and its data partitioning model.
    ///
    /// Parsing is ASCII case-insensitive (`Premium`, `premium`, `PREMIUM`); an unknown tier is an
    /// [`UnknownValue`] error, never a silent default.
    ///
    /// ```
    /// use saas_core::Tier;
    ///
    /// assert_eq!("premium".parse::<Tier>()?, Tier::Premium);
    /// assert!("gold".parse::<Tier>().is_err());
    /// # Ok::<(), saas_core::UnknownValue>(())
    /// ```
    Tier, "tier", true, {
        /// The entry tier.
        Basic => "Basic",
        /// The standard tier.
        Standard => "Standard",
        /// The premium tier.
        Premium => "Premium",
        /// The top tier.
        Platinum => "Platinum",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_strictly() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(*role));
        }
        assert_eq!("tenant_viewer".parse::<Role>(), Ok(Role::TenantViewer));
        for bad in [
            "",
            "tenantadmin",
            "TENANTADMIN",
            "admin",
            "TenantAdmin ",
            "Owner",
        ] {
            let err = bad.parse::<Role>().unwrap_err();
            assert_eq!(err.kind(), "role");
            assert_eq!(err.value(), bad);
        }
    }

    #[test]
    fn tiers_parse_case_insensitively() {
        assert_eq!("BASIC".parse::<Tier>(), Ok(Tier::Basic));
        assert_eq!("platinum".parse::<Tier>(), Ok(Tier::Platinum));
        let err = "Gold".parse::<Tier>().unwrap_err();
        assert!(err.to_string().contains("unknown tier \"Gold\""), "{err}");
    }

    #[test]
    fn unknown_value_is_truncated() {
        let long = "x".repeat(1000);
        assert_eq!(long.parse::<Tier>().unwrap_err().value().len(), 64);
    }

    #[test]
    fn serde_round_trip() {
        assert_eq!(
            serde_json::to_string(&Role::TenantAdmin).unwrap(),
            "\"TenantAdmin\""
        );
        assert_eq!(
            serde_json::from_str::<Tier>("\"premium\"").unwrap(),
            Tier::Premium
        );
        assert!(serde_json::from_str::<Role>("\"root\"").is_err());
    }
}
