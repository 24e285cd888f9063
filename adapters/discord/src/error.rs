//! The crate's error type, and how serenity's errors become the contract's [`ConnectorError`].

use whisperengine_contract::{ConnectorError, Platform};

/// Everything that can go wrong in the Discord connector. Messages never contain the token.
#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    /// Discord answered 401: the token is wrong or was reset.
    #[error("Discord refused the token (401 Unauthorized); copy the bot token again from the developer portal")]
    BadToken,
    /// The Message Content intent is not enabled for the bot (gateway close 4014).
    #[error("Discord refused the gateway intents: enable the Message Content intent in the developer portal (Bot → Privileged Gateway Intents)")]
    IntentNotEnabled,
    /// A setting cannot be used (an id that is not a number, an empty shard range).
    #[error("{setting}: {reason}")]
    Setting {
        setting: &'static str,
        reason: String,
    },
    /// Discord (or the network) failed a request or the gateway connection.
    #[error("{0}")]
    Serenity(String),
}

impl From<serenity::Error> for DiscordError {
    fn from(error: serenity::Error) -> Self {
        if is_unauthorized(&error) {
            DiscordError::BadToken
        } else if matches!(
            error,
            serenity::Error::Gateway(serenity::gateway::GatewayError::DisallowedGatewayIntents)
        ) {
            DiscordError::IntentNotEnabled
        } else {
            DiscordError::Serenity(error.to_string())
        }
    }
}

/// Whether Discord refused the token: a 401 from REST, or the gateway's "authentication failed".
pub fn is_unauthorized(error: &serenity::Error) -> bool {
    match error {
        serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(response)) => {
            response.status_code.as_u16() == 401
        }
        serenity::Error::Gateway(
            serenity::gateway::GatewayError::InvalidAuthentication
            | serenity::gateway::GatewayError::NoAuthentication,
        ) => true,
        _ => false,
    }
}

impl From<DiscordError> for ConnectorError {
    fn from(error: DiscordError) -> Self {
        match error {
            DiscordError::BadToken => ConnectorError::BadCredentials {
                platform: Platform::Discord,
                setting: "DISCORD_TOKEN",
                reason: "401 Unauthorized: the token is wrong or was reset in the developer portal"
                    .into(),
            },
            DiscordError::IntentNotEnabled => ConnectorError::Failed {
                platform: Platform::Discord,
                reason: DiscordError::IntentNotEnabled.to_string(),
            },
            DiscordError::Setting { setting, reason } => ConnectorError::Failed {
                platform: Platform::Discord,
                reason: format!("{setting}: {reason}"),
            },
            DiscordError::Serenity(reason) => ConnectorError::Failed {
                platform: Platform::Discord,
                reason,
            },
        }
    }
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, DiscordError>;
