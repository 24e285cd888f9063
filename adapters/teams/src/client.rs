//! The Bot Framework connector REST client: sends replies and typing indicators to a conversation at
//! the service URL of a verified activity, with the bot's bearer token (refreshed once on a 401),
//! and never to a service URL outside the allow-list.

use crate::activity::OutgoingActivity;
use crate::error::{Result, TeamsError};
use crate::service_url::AllowedServiceUrls;
use crate::token::TokenClient;
use crate::OUTBOUND_REFUSED_METRIC;
use secrecy::ExposeSecret;
use std::sync::Arc;
use url::Url;

/// Talks to `{serviceUrl}/v3/conversations/…`. Cheap to clone (clones share the token cache).
#[derive(Clone)]
pub struct ConnectorClient {
    http: reqwest::Client,
    tokens: Arc<TokenClient>,
    allowed: Arc<AllowedServiceUrls>,
}

impl ConnectorClient {
    /// A client that sends to service URLs under `allowed` only.
    pub fn new(http: reqwest::Client, tokens: TokenClient, allowed: AllowedServiceUrls) -> Self {
        ConnectorClient {
            http,
            tokens: Arc::new(tokens),
            allowed: Arc::new(allowed),
        }
    }

    /// Posts `activity` into `conversation_id`, as a reply to `reply_to_id` when given
    /// (`…/activities/{reply_to_id}`), else as a new activity (`…/activities`). Returns the id of
    /// the created activity when the service names one (`{"id": …}`; for a streaming update, the
    /// stream's id).
    ///
    /// `service_url` must come from a verified activity: it is where the bot's token is sent. One
    /// outside the allow-list is refused before the token is even requested.
    pub async fn send(
        &self,
        service_url: &Url,
        conversation_id: &str,
        reply_to_id: Option<&str>,
        activity: &OutgoingActivity,
    ) -> Result<Option<String>> {
        if !self.allowed.allows(service_url) {
            metrics::counter!(OUTBOUND_REFUSED_METRIC, "reason" => "service_url_not_allowed")
                .increment(1);
            return Err(TeamsError::ServiceUrlNotAllowed(
                service_url.origin().ascii_serialization(),
            ));
        }
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
                // The body is small JSON; an unreadable one still means the activity was taken.
                let id = response
                    .json::<CreatedActivity>()
                    .await
                    .ok()
                    .and_then(|created| created.id)
                    .filter(|id| !id.is_empty());
                return Ok(id);
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

/// The body of a connector answer: `{"id": …}` (the created activity, or the stream).
#[derive(serde::Deserialize)]
struct CreatedActivity {
    #[serde(default)]
    id: Option<String>,
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

    #[tokio::test]
    async fn a_service_url_outside_the_allow_list_gets_no_request_and_no_token_is_asked_for() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = connections.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(socket);
            }
        });
        let here = |path: &str| Url::parse(&format!("http://{address}{path}")).unwrap();
        let tokens = TokenClient::new(
            reqwest::Client::new(),
            here("/token"),
            "app".into(),
            secrecy::SecretString::from("secret"),
        );
        let client = ConnectorClient::new(
            reqwest::Client::new(),
            tokens,
            AllowedServiceUrls::new(vec![Url::parse("https://smba.example/amer/").unwrap()]),
        );
        let activity = OutgoingActivity {
            kind: "typing",
            text: None,
            text_format: None,
            attachments: Vec::new(),
            entities: Vec::new(),
            from: None,
            recipient: None,
            conversation: Default::default(),
            reply_to_id: None,
        };
        for foreign in [
            here("/"),
            Url::parse("https://smba.example.evil.com/amer/").unwrap(),
        ] {
            let error = client
                .send(&foreign, "a:1", None, &activity)
                .await
                .unwrap_err();
            assert!(
                matches!(error, TeamsError::ServiceUrlNotAllowed(_)),
                "{error}"
            );
        }
        assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 0);
    }
}
