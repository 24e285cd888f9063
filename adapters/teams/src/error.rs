//! The crate's error type: why an inbound request was refused, or why talking to the Bot Framework failed.

/// Everything that can go wrong in the Teams connector. Messages never contain secrets or tokens.
#[derive(Debug, thiserror::Error)]
pub enum TeamsError {
    /// The inbound request's token was refused; the request gets a 401.
    #[error("unauthorized: {0}")]
    Unauthorized(#[from] crate::auth::AuthError),
    /// The token endpoint refused the app's credentials or answered something unreadable.
    #[error("token request failed: {0}")]
    Token(String),
    /// The Bot Framework connector refused or failed a send.
    #[error("connector request failed: {0}")]
    Connector(String),
    /// The service URL is not in TEAMS_ALLOWED_SERVICE_URLS: nothing was sent (shows the origin only).
    #[error("{0} is not an allowed service URL (TEAMS_ALLOWED_SERVICE_URLS)")]
    ServiceUrlNotAllowed(String),
    /// A URL could not be built (a service URL that cannot be a base, for instance).
    #[error("bad URL: {0}")]
    Url(String),
    /// The network or the HTTP client failed.
    #[error("HTTP error: {0}")]
    Http(#[from] reqwest::Error),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, TeamsError>;
