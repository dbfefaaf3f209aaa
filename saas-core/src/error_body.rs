//! The JSON error body every rejection uses: `{"error":{"code","message"}}`.

use serde::{Deserialize, Serialize};

/// The body of an error response: `{"error":{"code":"...","message":"..."}}`.
///
/// The code is a fixed snake_case word a client can switch on; the message is for people. Neither
/// ever echoes a token, a claim or another tenant's id.
///
/// ```
/// use saas_core::ErrorBody;
///
/// let body = ErrorBody::new("not_found", "no such list");
/// assert_eq!(body.to_json(), r#"{"error":{"code":"not_found","message":"no such list"}}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A fixed snake_case code: `unauthenticated`, `forbidden`, `not_found`, ...
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

impl ErrorBody {
    /// An error body with `code` and `message`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }

    /// The body as JSON text.
    pub fn to_json(&self) -> String {
        // Serializing two strings cannot fail; fall back to a fixed body rather than panic.
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"error":{"code":"internal","message":"internal error"}}"#.to_owned()
        })
    }
}
