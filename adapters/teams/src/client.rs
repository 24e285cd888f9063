//! The Bot Framework connector REST client: sends replies and typing indicators to a conversation at
//! the service URL of a verified activity, with the bot's bearer token (refreshed once on a 401).

use crate::activity::OutgoingActivity;
use crate::error::{Result, TeamsError};
use crate::token::TokenClient;
use secrecy::ExposeSecret;
use std::sync::Arc;
use url::Url;

/// Talks to `{serviceUrl}/v3/conversations/…`. Cheap to clone (clones share the token cache).
#[derive(Clone)]
pub struct ConnectorClient {
    http: reqwest::Client,
    tokens: Arc<TokenClient>,
}

impl ConnectorClient {
    pub fn new(http: reqwest::Client, tokens: TokenClient) -> Self {
        ConnectorClient {
            http,
            tokens: Arc::new(tokens),
        }
    }

    /// Posts `activity` into `conversation_id`, as a reply to `reply_to_id` when given
    /// (`…/activities/{reply_to_id}`), else as a new activity (`…/activities`).
    ///
    /// `service_url` must come from a verified activity: it is where the bot's token is sent.
    pub async fn send(
        &self,
        service_url: &Url,
        conversation_id: &str,
        reply_to_id: Option<&str>,
        activity: &OutgoingActivity,
    ) -> Result<()> {
        let url = activities_url(service_url, conversation_id, reply_to_id)?;
        let mut is_retry = false;
        loop {
            let token = self.tokens.token().await?;
            let response = self
                .http
                .post(url.clone())
                .bearer_auth(token.expose_secret())
                .json(activity)
                .send()
                .await?;
            let status = response.status();
            if status.is_success() {
                return Ok(());
            }
            if status == reqwest::StatusCode::UNAUTHORIZED && !is_retry {
                // The token may have been revoked or rotated early: get a new one and try once more.
                self.tokens.invalidate().await;
                is_retry = true;
                continue;
            }
            return Err(TeamsError::Connector(format!(
                "{} answered {status}",
                url.path()
            )));
        }
    }

    /// The token client (for the doctor's credentials check).
    pub fn tokens(&self) -> &TokenClient {
        &self.tokens
    }
}

/// `{service_url}/v3/conversations/{conversation}/activities[/{activity}]`, with the ids
/// percent-encoded as path segments (Teams ids carry `:`, `@` and `;`) and no `//` whether or not
/// the service URL ends with `/`.
pub fn activities_url(
    service_url: &Url,
    conversation_id: &str,
    activity_id: Option<&str>,
) -> Result<Url> {
    let mut url = service_url.clone();
    url.set_query(None);
    url.set_fragment(None);
    {
        let mut segments = url
            .path_segments_mut()
            .map_err(|()| TeamsError::Url(format!("{service_url} cannot be a base URL")))?;
        segments
            .pop_if_empty()
            .extend(["v3", "conversations", conversation_id, "activities"]);
        if let Some(id) = activity_id {
            segments.push(id);
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_urls_join_the_service_url_without_double_slashes_and_encode_ids() {
        let with_slash = Url::parse("https://smba.trafficmanager.net/emea/").unwrap();
        let without = Url::parse("https://smba.trafficmanager.net/emea").unwrap();
        for base in [&with_slash, &without] {
            let url = activities_url(base, "a:1Xy", Some("1690000000000")).unwrap();
            assert_eq!(
                url.as_str(),
                "https://smba.trafficmanager.net/emea/v3/conversations/a:1Xy/activities/1690000000000"
            );
        }
        let channel =
            activities_url(&with_slash, "19:abc@thread.tacv2;messageid=1/2?x#y", None).unwrap();
        assert_eq!(
            channel.as_str(),
            "https://smba.trafficmanager.net/emea/v3/conversations/19:abc@thread.tacv2;messageid=1%2F2%3Fx%23y/activities"
        );
    }
}
