//! The crate's error type: why a call to Slack failed, or why the connector could not start.

/// Everything that can go wrong in the Slack connector. Messages never contain tokens or secrets.
#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    /// The HTTP client could not be built (no TLS root certificates, for instance).
    #[error("Slack client setup failed: {0}")]
    Setup(String),
    /// A Web API method failed; `code` is Slack's error code (`invalid_auth`, `channel_not_found`,
    /// `ratelimited`, ...) or `http_<status>` / `transport` when no Slack answer was read.
    #[error("Slack {method} failed: {code}")]
    Api { method: &'static str, code: String },
}

impl SlackError {
    /// Slack's error code, for [`SlackError::Api`].
    pub fn code(&self) -> Option<&str> {
        match self {
            SlackError::Api { code, .. } => Some(code),
            SlackError::Setup(_) => None,
        }
    }

    /// Whether the error means the token was refused.
    pub fn is_auth(&self) -> bool {
        matches!(
            self.code(),
            Some(
                "invalid_auth"
                    | "not_authed"
                    | "account_inactive"
                    | "token_revoked"
                    | "token_expired"
                    | "not_allowed_token_type"
            )
        )
    }
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, SlackError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_tokens_are_told_apart_from_other_failures() {
        let api = |code: &str| SlackError::Api {
            method: "auth.test",
            code: code.to_string(),
        };
        assert!(api("invalid_auth").is_auth());
        assert!(api("not_allowed_token_type").is_auth());
        assert!(!api("channel_not_found").is_auth());
        assert!(!api("transport").is_auth());
        assert!(!SlackError::Setup("no roots".into()).is_auth());
    }
}
