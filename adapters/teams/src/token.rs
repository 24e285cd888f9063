//! Outbound authentication: the OAuth2 client-credentials token the bot presents to the Bot
//! Framework connector, cached until shortly before it expires.

use crate::error::{Result, TeamsError};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use url::Url;

/// The scope of tokens for the Bot Framework connector.
pub const BOT_FRAMEWORK_SCOPE: &str = "https://api.botframework.com/.default";
/// A cached token is replaced this long before it expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

struct CachedToken {
    value: SecretString,
    refresh_at: Instant,
}

/// Gets and caches the bot's access token. Concurrent callers share one request.
pub struct TokenClient {
    http: reqwest::Client,
    token_url: Url,
    app_id: String,
    app_password: SecretString,
    cached: Mutex<Option<CachedToken>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenClient {
    pub fn new(
        http: reqwest::Client,
        token_url: Url,
        app_id: String,
        app_password: SecretString,
    ) -> Self {
        TokenClient {
            http,
            token_url,
            app_id,
            app_password,
            cached: Mutex::new(None),
        }
    }

    /// A valid token: the cached one, or a new one from the token endpoint.
    pub async fn token(&self) -> Result<SecretString> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref() {
            if Instant::now() < token.refresh_at {
                return Ok(token.value.clone());
            }
        }
        let fresh = self.request().await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    /// Forgets the cached token (the connector answered 401 with it).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn request(&self) -> Result<CachedToken> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.app_id.as_str()),
            ("client_secret", self.app_password.expose_secret()),
            ("scope", BOT_FRAMEWORK_SCOPE),
        ];
        let response = self
            .http
            .post(self.token_url.clone())
            .form(&form)
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            // The body may say why (e.g. AADSTS7000215: invalid client secret); it never echoes the secret.
            let detail: String = response
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            return Err(TeamsError::Token(format!(
                "{} answered {status}: {detail}",
                self.token_url
            )));
        }
        let body: TokenResponse = response
            .json()
            .await
            .map_err(|error| TeamsError::Token(format!("unreadable token response: {error}")))?;
        let lifetime = Duration::from_secs(body.expires_in.unwrap_or(3600));
        let usable = if lifetime > REFRESH_MARGIN * 2 {
            lifetime - REFRESH_MARGIN
        } else {
            lifetime / 2
        };
        Ok(CachedToken {
            value: body.access_token,
            refresh_at: Instant::now() + usable,
        })
    }
}
