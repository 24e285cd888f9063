//! The Slack Web API as the connector uses it: slack-morphism's hyper client on SLACK_API_URL, with
//! the bot token, rate limiting (429 + Retry-After is waited out and retried) and every failure
//! reduced to Slack's error code, logged and counted, never a panic.
//!
//! Why the 429 retries live here and not in slack-morphism's rate control: that control also
//! throttles ahead of time, and it keys `chat.postMessage` to one call per second for the whole app
//! (Slack's own limit is about one per second per channel, with bursts). Under load that capped the
//! host at one Slack reply per second; `whisperengine bench --load` showed it. Slack says when it
//! wants us to slow down (429 + Retry-After), and that is what is obeyed.

use crate::error::{Result, SlackError};
use crate::{SlackConfig, API_ERRORS_METRIC};
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::{
    SlackApiAppsConnectionOpenRequest, SlackApiAuthTestResponse, SlackApiChatAppendStreamRequest,
    SlackApiChatDeleteRequest, SlackApiChatPostEphemeralRequest, SlackApiChatPostMessageRequest,
    SlackApiChatStartStreamRequest, SlackApiChatStopStreamRequest, SlackApiChatUpdateRequest,
    SlackApiConversationsHistoryRequest, SlackApiConversationsHistoryResponse,
    SlackApiPostWebhookMessageRequest, SlackApiToken, SlackApiTokenValue, SlackApiUsersInfoRequest,
    SlackBlock, SlackChannelId, SlackClientHyperConnector, SlackHistoryMessage, SlackHyperClient,
    SlackMessageContent, SlackMessageMetadata, SlackTeamId, SlackTs, SlackUser, SlackUserId,
};
use slack_morphism::SlackClient;
use std::sync::Arc;
use url::Url;

/// Slack's Web API base URL.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// The metadata event type every reply carries (Slack message metadata).
pub const REPLY_EVENT_TYPE: &str = "whisperengine_reply";
/// Most messages one look for earlier replies reads (one request).
const REPLY_LOOKUP_LIMIT: u16 = 200;

/// Which reply a posted message is: part `part` of the answer to the message whose event id is
/// `key`. Sent as message metadata, so a process that takes a turn over can see what was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyMark {
    pub key: String,
    pub part: usize,
}

impl ReplyMark {
    fn metadata(&self) -> SlackMessageMetadata {
        SlackMessageMetadata::new(REPLY_EVENT_TYPE.to_string()).with_event_payload(
            [
                ("reply_to".to_string(), self.key.clone()),
                ("part".to_string(), self.part.to_string()),
            ]
            .into_iter()
            .collect(),
        )
    }

    /// The mark a message's metadata carries, if it is one of ours.
    fn of(metadata: Option<&SlackMessageMetadata>) -> Option<ReplyMark> {
        let metadata = metadata.filter(|m| m.event_type == REPLY_EVENT_TYPE)?;
        let payload = metadata.event_payload.as_ref()?;
        Some(ReplyMark {
            key: payload.get("reply_to")?.clone(),
            part: payload.get("part")?.parse().ok()?,
        })
    }
}

/// A message to post: mrkdwn text, optionally with Block Kit blocks (the text is then the
/// notification fallback), and which reply it is.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    pub text: String,
    pub blocks: Option<Vec<SlackBlock>>,
    pub mark: Option<ReplyMark>,
}

impl Outgoing {
    /// A plain mrkdwn message.
    pub fn text(text: impl Into<String>) -> Self {
        Outgoing {
            text: text.into(),
            blocks: None,
            mark: None,
        }
    }

    /// This message marked as part `part` of the reply to `key` (no mark without a key).
    pub fn marked(mut self, key: Option<&str>, part: usize) -> Self {
        self.mark = key.map(|key| ReplyMark {
            key: key.to_string(),
            part,
        });
        self
    }

    fn content(&self) -> SlackMessageContent {
        SlackMessageContent::new()
            .with_text(self.text.clone())
            .opt_blocks(self.blocks.clone())
            .opt_metadata(self.mark.as_ref().map(ReplyMark::metadata))
    }
}

/// A reply already in the conversation: which part it is, its `ts` and its text (mrkdwn).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedPart {
    pub part: usize,
    pub ts: String,
    pub text: Option<String>,
}

/// The bot's Web API client. Cheap to clone.
#[derive(Clone)]
pub struct SlackApi {
    client: Arc<SlackHyperClient>,
    token: SlackApiToken,
    /// Retries of a call Slack answered with 429.
    max_retries: usize,
}

impl SlackApi {
    /// A client for `config.api_url` (Slack's when unset) with the bot token.
    pub fn new(config: &SlackConfig) -> Result<Self> {
        Ok(SlackApi {
            client: hyper_client(config)?,
            token: api_token(&config.bot_token),
            max_retries: config.max_retries,
        })
    }

    /// The underlying slack-morphism client (Socket Mode runs on it).
    pub fn client(&self) -> Arc<SlackHyperClient> {
        self.client.clone()
    }

    /// `chat.postMessage`, in `thread_ts`'s thread when given; the posted message's `ts`.
    pub async fn post_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        message: &Outgoing,
    ) -> Result<String> {
        let request = SlackApiChatPostMessageRequest::new(
            SlackChannelId::new(channel.to_string()),
            message.content(),
        )
        .opt_thread_ts(thread_ts.map(|ts| SlackTs::new(ts.to_string())));
        let session = self.client.open_session(&self.token);
        self.retrying(|| session.chat_post_message(&request))
            .await
            .map(|response| response.ts.0)
            .map_err(|error| api_error("chat.postMessage", &error))
    }

    /// `chat.update` of the bot's message `ts`. With `retry`, a 429 is waited out and retried;
    /// without, it is reported at once (a preview step skipped is replaced by the next).
    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        message: &Outgoing,
        retry: bool,
    ) -> Result<()> {
        let request = SlackApiChatUpdateRequest::new(
            SlackChannelId::new(channel.to_string()),
            message.content(),
            SlackTs::new(ts.to_string()),
        );
        let session = self.client.open_session(&self.token);
        let answer = if retry {
            self.retrying(|| session.chat_update(&request)).await
        } else {
            session.chat_update(&request).await
        };
        answer
            .map(|_| ())
            .map_err(|error| api_error("chat.update", &error))
    }

    /// `chat.delete` of the bot's message `ts`.
    pub async fn delete_message(&self, channel: &str, ts: &str) -> Result<()> {
        let request = SlackApiChatDeleteRequest::new(
            SlackChannelId::new(channel.to_string()),
            SlackTs::new(ts.to_string()),
        );
        let session = self.client.open_session(&self.token);
        self.retrying(|| session.chat_delete(&request))
            .await
            .map(|_| ())
            .map_err(|error| api_error("chat.delete", &error))
    }

    /// `chat.startStream` in `thread_ts`'s thread with the first `markdown`; the stream's `ts`.
    /// `recipient` (user, team) is who the streamed text is for: Slack needs it outside DMs.
    pub async fn start_stream(
        &self,
        channel: &str,
        thread_ts: &str,
        recipient: Option<(&str, &str)>,
        markdown: &str,
    ) -> Result<String> {
        let request = SlackApiChatStartStreamRequest::new(SlackChannelId::new(channel.to_string()))
            .with_thread_ts(SlackTs::new(thread_ts.to_string()))
            .opt_recipient_user_id(recipient.map(|(user, _)| SlackUserId::new(user.to_string())))
            .opt_recipient_team_id(recipient.map(|(_, team)| SlackTeamId::new(team.to_string())))
            .with_markdown_text(markdown.to_string());
        let session = self.client.open_session(&self.token);
        session
            .chat_start_stream(&request)
            .await
            .map(|response| response.ts.0)
            .map_err(|error| api_error("chat.startStream", &error))
    }

    /// `chat.appendStream`: `markdown` added to the stream `ts`. A 429 is reported, not retried.
    pub async fn append_stream(&self, channel: &str, ts: &str, markdown: &str) -> Result<()> {
        let request = SlackApiChatAppendStreamRequest::new(
            SlackChannelId::new(channel.to_string()),
            SlackTs::new(ts.to_string()),
        )
        .with_markdown_text(markdown.to_string());
        let session = self.client.open_session(&self.token);
        session
            .chat_append_stream(&request)
            .await
            .map(|_| ())
            .map_err(|error| api_error("chat.appendStream", &error))
    }

    /// `chat.stopStream`: the stream `ts` ends, with `markdown` as its last words when given, and
    /// `mark` as its metadata.
    pub async fn stop_stream(
        &self,
        channel: &str,
        ts: &str,
        markdown: Option<&str>,
        mark: Option<&ReplyMark>,
    ) -> Result<()> {
        let request = SlackApiChatStopStreamRequest::new(
            SlackChannelId::new(channel.to_string()),
            SlackTs::new(ts.to_string()),
            SlackMessageContent::new()
                .opt_markdown_text(markdown.map(str::to_string))
                .opt_metadata(mark.map(ReplyMark::metadata)),
        );
        let session = self.client.open_session(&self.token);
        self.retrying(|| session.chat_stop_stream(&request))
            .await
            .map(|_| ())
            .map_err(|error| api_error("chat.stopStream", &error))
    }

    /// `chat.postEphemeral`: only `user` sees it.
    pub async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        thread_ts: Option<&str>,
        message: &Outgoing,
    ) -> Result<()> {
        let request = SlackApiChatPostEphemeralRequest::new(
            SlackChannelId::new(channel.to_string()),
            SlackUserId::new(user.to_string()),
            message.content(),
        )
        .opt_thread_ts(thread_ts.map(|ts| SlackTs::new(ts.to_string())));
        let session = self.client.open_session(&self.token);
        self.retrying(|| session.chat_post_ephemeral(&request))
            .await
            .map(|_| ())
            .map_err(|error| api_error("chat.postEphemeral", &error))
    }

    /// Answers a slash command through its `response_url` (ephemeral by default).
    pub async fn respond(&self, response_url: &Url, message: &Outgoing) -> Result<()> {
        let request = SlackApiPostWebhookMessageRequest::new(message.content());
        self.retrying(|| self.client.post_webhook_message(response_url, &request))
            .await
            .map(|_| ())
            .map_err(|error| api_error("response_url", &error))
    }

    /// The parts of the reply to `key` already posted in `channel` after the message `after`: in
    /// the thread `thread_ts` (`conversations.replies`) or at the top level
    /// (`conversations.history`), read with their metadata. One request of at most
    /// [`REPLY_LOOKUP_LIMIT`] messages.
    pub async fn posted_parts(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        after: &str,
        key: &str,
    ) -> Result<Vec<PostedPart>> {
        let limit = REPLY_LOOKUP_LIMIT.to_string();
        let (method, mut params) = match thread_ts {
            Some(thread) => ("conversations.replies", vec![("ts", thread)]),
            None => ("conversations.history", Vec::new()),
        };
        params.extend([
            ("channel", channel),
            ("oldest", after),
            // The answered message itself may share its second with a reply; the metadata
            // decides what is a reply.
            ("inclusive", "true"),
            ("limit", limit.as_str()),
            // slack-morphism's `conversations_replies` has no way to ask for metadata.
            ("include_all_metadata", "true"),
        ]);
        let params: Vec<(&str, Option<&str>)> = params
            .into_iter()
            .map(|(name, value)| (name, Some(value)))
            .collect();
        let session = self.client.open_session(&self.token);
        let history: SlackApiConversationsHistoryResponse = self
            .retrying(|| session.http_session_api.http_get(method, &params, None))
            .await
            .map_err(|error| api_error(method, &error))?;
        Ok(history
            .messages
            .iter()
            .filter_map(|message| {
                let mark = ReplyMark::of(message.content.metadata.as_ref())?;
                (mark.key == key).then(|| PostedPart {
                    part: mark.part,
                    ts: message.origin.ts.0.clone(),
                    text: message.content.text.clone(),
                })
            })
            .collect())
    }

    /// `conversations.history` of `channel` since `oldest` (at most `limit` messages, newest first),
    /// with metadata.
    pub async fn history_since(
        &self,
        channel: &str,
        oldest: &str,
        limit: u16,
    ) -> Result<Vec<SlackHistoryMessage>> {
        let request = SlackApiConversationsHistoryRequest::new()
            .with_channel(SlackChannelId::new(channel.to_string()))
            .with_oldest(SlackTs::new(oldest.to_string()))
            .with_limit(limit)
            .with_include_all_metadata(true);
        let session = self.client.open_session(&self.token);
        self.retrying(|| session.conversations_history(&request))
            .await
            .map(|response| response.messages)
            .map_err(|error| api_error("conversations.history", &error))
    }

    /// `users.info`.
    pub async fn user_info(&self, user: &str) -> Result<SlackUser> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiUsersInfoRequest::new(SlackUserId::new(user.to_string()));
        self.retrying(|| session.users_info(&request))
            .await
            .map(|response| response.user)
            .map_err(|error| api_error("users.info", &error))
    }

    /// `apps.connections.open` with the app-level token: proves it can open Socket Mode connections
    /// (the URL it returns is not used; Slack lets it expire).
    pub async fn check_app_token(&self, app_token: &SecretString) -> Result<()> {
        let token = api_token(app_token);
        let session = self.client.open_session(&token);
        session
            .apps_connections_open(&SlackApiAppsConnectionOpenRequest::new())
            .await
            .map(|_| ())
            .map_err(|error| api_error("apps.connections.open", &error))
    }

    /// `auth.test`: proves the bot token and names the bot user and workspace.
    pub async fn auth_test(&self) -> Result<SlackApiAuthTestResponse> {
        let session = self.client.open_session(&self.token);
        self.retrying(|| session.auth_test())
            .await
            .map_err(|error| api_error("auth.test", &error))
    }
}

impl SlackApi {
    /// Runs `call`, and again after Slack's Retry-After (1 s when it names none) each time it is
    /// answered 429, at most `max_retries` more times.
    async fn retrying<T, Call, Answer>(
        &self,
        mut call: Call,
    ) -> std::result::Result<T, SlackClientError>
    where
        Call: FnMut() -> Answer,
        Answer: std::future::Future<Output = std::result::Result<T, SlackClientError>>,
    {
        let mut retried = 0;
        loop {
            match call().await {
                Err(SlackClientError::RateLimitError(limited)) if retried < self.max_retries => {
                    retried += 1;
                    let pause = limited
                        .retry_after
                        .unwrap_or(std::time::Duration::from_secs(1));
                    tracing::debug!(?pause, retried, "Slack rate limited a call; retrying");
                    tokio::time::sleep(pause).await;
                }
                answer => return answer,
            }
        }
    }
}

/// A slack-morphism token from a secret (only ever handed to the client).
pub fn api_token(secret: &SecretString) -> SlackApiToken {
    SlackApiToken::new(SlackApiTokenValue::new(secret.expose_secret().to_string()))
}

/// The hyper client on the configured base URL: HTTPS only against Slack, plain HTTP allowed only
/// when SLACK_API_URL itself is `http://` (a local fake in tests).
fn hyper_client(config: &SlackConfig) -> Result<Arc<SlackHyperClient>> {
    let api_url = config.api_url();
    let roots = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|error| SlackError::Setup(format!("no TLS root certificates: {error}")))?;
    let schemes = if api_url.scheme() == "http" {
        roots.https_or_http()
    } else {
        roots.https_only()
    };
    let https = schemes.enable_http1().enable_http2().build();
    let connector = SlackClientHyperConnector::with_connector(https)
        .with_slack_api_url(api_url.as_str().trim_end_matches('/'));
    Ok(Arc::new(SlackClient::new(connector)))
}

/// Reduces a client error to Slack's code, logs it (without tokens or bodies) and counts it.
pub(crate) fn api_error(method: &'static str, error: &SlackClientError) -> SlackError {
    let code = error_code(error);
    metrics::counter!(API_ERRORS_METRIC, "method" => method, "code" => code.clone()).increment(1);
    tracing::warn!(method, code = %code, "Slack Web API call failed");
    SlackError::Api { method, code }
}

/// Slack's error code, or what went wrong below it.
pub fn error_code(error: &SlackClientError) -> String {
    match error {
        SlackClientError::ApiError(error) => error.code.clone(),
        SlackClientError::RateLimitError(_) => "ratelimited".to_string(),
        SlackClientError::HttpError(error) => format!("http_{}", error.status_code.as_u16()),
        SlackClientError::ProtocolError(_) => "unreadable_response".to_string(),
        _ => "transport".to_string(),
    }
}
