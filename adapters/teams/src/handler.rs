//! `POST /api/messages`: verify the token (503 when the signing keys cannot be had, so the Bot
//! Framework retries) → parse the activity → check it: the `msteams` channel, the token's service
//! URL and endorsement, a service URL in the allow-list → hand it to the host's bounded inbox and
//! answer 200 (503 when the inbox refuses) → (on the host's workers) map it to a contract event, call the
//! core with a typing indicator running, and send the rendered reply to the Bot Framework connector
//! (in a 1:1 chat shown while it is written, see [`crate::stream`]).

use crate::activity::{Activity, OutgoingActivity};
use crate::auth::{AuthError, Verifier};
use crate::client::ConnectorClient;
use crate::mapping::{self, Skip};
pub use crate::reply::split_for_teams;
use crate::reply::{send_reply, AbortOnDrop};
use crate::{
    TeamsConfig, AUTH_REJECTED_METRIC, CAPABILITIES, OUTBOUND_REFUSED_METRIC, TEAMS_CHANNEL_ID,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use url::Url;
use whisperengine_contract::{
    EventHandler, HandlerOutcome, Inbox, InboxEntry, InboxJob, Platform, PlatformAccount, Replayer,
};

/// How often the typing indicator is repeated while the core works (Teams shows it ~3 s).
const TYPING_EVERY: Duration = Duration::from_secs(3);
/// Welcome activity ids remembered to drop retried `conversationUpdate`s.
const RECENT_WELCOMES: usize = 1024;

/// Shared by every request of the route.
pub struct TeamsState {
    pub(crate) config: TeamsConfig,
    pub(crate) verifier: Verifier,
    pub(crate) client: ConnectorClient,
    pub(crate) handler: Arc<dyn EventHandler>,
    /// Takes acknowledged activities; a refusal is answered with 503.
    inbox: Arc<dyn Inbox>,
    welcomed: Mutex<RecentIds>,
}

impl TeamsState {
    pub(crate) fn new(
        config: TeamsConfig,
        verifier: Verifier,
        client: ConnectorClient,
        handler: Arc<dyn EventHandler>,
        inbox: Arc<dyn Inbox>,
    ) -> Self {
        TeamsState {
            config,
            verifier,
            client,
            handler,
            inbox,
            welcomed: Mutex::new(RecentIds::default()),
        }
    }
}

/// The route handler. Every refusal is a status code; nothing here panics on input.
pub async fn messages(
    State(state): State<Arc<TeamsState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let token = match state.verifier.verify(authorization).await {
        Ok(token) => token,
        Err(error) => return reject(&error),
    };
    let activity: Activity = match serde_json::from_slice(&body) {
        Ok(activity) => activity,
        Err(error) => {
            tracing::debug!(%error, "unreadable Teams activity");
            return StatusCode::BAD_REQUEST;
        }
    };
    if activity.channel_id.as_deref() != Some(TEAMS_CHANNEL_ID) {
        return reject(&AuthError::Channel);
    }
    if let Err(error) = token.check_activity(&activity.service_url, activity.channel_id.as_deref())
    {
        return reject(&error);
    }
    let Ok(service_url) = Url::parse(&activity.service_url) else {
        return StatusCode::BAD_REQUEST;
    };
    if !state.config.allowed_service_urls.allows(&service_url) {
        tracing::warn!(
            service_url = %service_url.origin().ascii_serialization(),
            "Teams activity names a service URL outside TEAMS_ALLOWED_SERVICE_URLS"
        );
        return reject(&AuthError::ServiceUrlNotAllowed);
    }
    let inbox = state.inbox.clone();
    // Verified and parsed above, so it is UTF-8 JSON; stored as received.
    let payload = String::from_utf8_lossy(&body).into_owned();
    let job: InboxJob =
        Box::new(move |entry| Box::pin(process(state, activity, service_url, entry)));
    match inbox.submit_durable(INBOX_KIND, payload, job).await {
        Ok(()) => StatusCode::OK,
        Err(refusal) => {
            // Counted by the host (whisperengine_intake_refused_total).
            tracing::warn!(%refusal, "Teams activity not acknowledged; the Bot Framework will retry");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

/// Counts and logs a refusal; its status: 503 when the keys to check the token cannot be had (the
/// Bot Framework retries, a genuine activity is not lost), 403 for an authentic activity this bot
/// does not take (another channel, a service URL outside the allow-list), else 401.
fn reject(error: &AuthError) -> StatusCode {
    metrics::counter!(AUTH_REJECTED_METRIC, "reason" => error.reason()).increment(1);
    tracing::warn!(reason = error.reason(), %error, "Teams request refused");
    match error {
        AuthError::KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        AuthError::Channel | AuthError::ServiceUrlNotAllowed => StatusCode::FORBIDDEN,
        _ => StatusCode::UNAUTHORIZED,
    }
}

/// The kind Teams activities are stored under in the host's inbox.
pub(crate) const INBOX_KIND: &str = "teams";

/// Runs a stored activity again (in a process that took it over from one that stopped). It was
/// verified against its token when it arrived; the token is not stored.
pub(crate) struct TeamsReplayer(pub(crate) std::sync::Weak<TeamsState>);

impl Replayer for TeamsReplayer {
    fn replay(&self, payload: &str) -> Option<InboxJob> {
        let state = self.0.upgrade()?;
        let activity: Activity = serde_json::from_str(payload).ok()?;
        let service_url = Url::parse(&activity.service_url).ok()?;
        Some(Box::new(move |entry| {
            Box::pin(process(state, activity, service_url, entry))
        }))
    }

    fn author(&self, payload: &str) -> Option<PlatformAccount> {
        let activity: Activity = serde_json::from_str(payload).ok()?;
        let user = activity
            .from
            .aad_object_id
            .as_deref()
            .filter(|id| !id.is_empty())?;
        let tenant = activity.tenant_id().unwrap_or_default();
        Some(PlatformAccount::new(Platform::Teams, tenant, user))
    }
}

/// Handles one verified activity after the HTTP answer went out, or taken back from the inbox;
/// `inbox` is the host's stored copy, handed on with the message.
#[tracing::instrument(skip_all, fields(platform = "teams", kind = %activity.kind))]
async fn process(
    state: Arc<TeamsState>,
    activity: Activity,
    service_url: Url,
    inbox: Option<InboxEntry>,
) {
    // Checked on arrival too; checked again here for activities taken back from the inbox, which
    // may have been stored under another allow-list (or before there was one).
    if !state.config.allowed_service_urls.allows(&service_url) {
        metrics::counter!(OUTBOUND_REFUSED_METRIC, "reason" => "service_url_not_allowed")
            .increment(1);
        tracing::warn!(
            service_url = %service_url.origin().ascii_serialization(),
            "Teams activity not handled: its service URL is outside TEAMS_ALLOWED_SERVICE_URLS"
        );
        return;
    }
    match activity.kind.as_str() {
        "message" => handle_message(&state, &activity, &service_url, inbox).await,
        "conversationUpdate" => welcome_if_added(&state, &activity, &service_url).await,
        "messageReaction" => record_reaction(&state, &activity).await,
        other => tracing::debug!(kind = other, "activity ignored"),
    }
}

/// A 👍/❤️ or 😢/😠 on one of the companion's messages is recorded as `feedback`; nothing is
/// posted in answer.
async fn record_reaction(state: &TeamsState, activity: &Activity) {
    let Some(invocation) = mapping::feedback_from_reaction(activity) else {
        tracing::debug!("reaction without a score or a person; not recorded");
        return;
    };
    let event = whisperengine_contract::InboundEvent::Command(invocation);
    match state.handler.handle(event, CAPABILITIES).await {
        HandlerOutcome::Reply(_) => {
            tracing::debug!("reaction recorded as feedback; answer dropped")
        }
        HandlerOutcome::Duplicate => tracing::debug!("duplicate Teams reaction dropped"),
        HandlerOutcome::Ignored(reason) => tracing::debug!(reason, "reaction not recorded"),
    }
}

async fn handle_message(
    state: &TeamsState,
    activity: &Activity,
    service_url: &Url,
    inbox: Option<InboxEntry>,
) {
    let mut event = match mapping::to_event(activity, &state.config.admin_ids) {
        Ok(event) => event,
        Err(skip) => {
            tracing::debug!(?skip, "message not handed to the core");
            if skip == Skip::NoAadObjectId {
                tracing::info!("a Teams message without an AAD object id was ignored");
            }
            return;
        }
    };
    if let whisperengine_contract::InboundEvent::Message(message) = &mut event {
        message.inbox = inbox;
    }
    let is_addressed = match &event {
        whisperengine_contract::InboundEvent::Message(message) => message.is_addressed,
        whisperengine_contract::InboundEvent::Command(_) => true,
    };
    let typing = (is_addressed && state.config.show_typing)
        .then(|| start_typing(state, activity, service_url));
    if state.config.stream_replies && activity.is_personal() {
        // Teams streams replies in 1:1 chats only.
        crate::stream::reply_while_written(
            &state.client,
            state.handler.as_ref(),
            activity,
            service_url,
            event,
            typing,
        )
        .await;
        return;
    }
    let outcome = state.handler.handle(event, CAPABILITIES).await;
    drop(typing);
    match outcome {
        HandlerOutcome::Reply(reply) => {
            send_reply(&state.client, activity, service_url, &reply).await
        }
        HandlerOutcome::Duplicate => tracing::debug!("duplicate activity"),
        HandlerOutcome::Ignored(reason) => tracing::debug!(reason, "no reply"),
    }
}

/// Starts a typing indicator, repeated until the returned guard is dropped. Being a guard, it
/// stops however the turn ends: with an outcome, a panic (unwinding drops it) or the job being
/// cancelled.
pub(crate) fn start_typing(
    state: &TeamsState,
    activity: &Activity,
    service_url: &Url,
) -> AbortOnDrop {
    let typing = OutgoingActivity::typing_to(activity);
    let conversation = activity.conversation.id.clone();
    let service_url = service_url.clone();
    let client = state.client.clone();
    AbortOnDrop(tokio::spawn(async move {
        loop {
            if let Err(error) = client
                .send(&service_url, &conversation, None, &typing)
                .await
            {
                tracing::debug!(%error, "typing indicator not sent");
            }
            tokio::time::sleep(TYPING_EVERY).await;
        }
    }))
}

/// On `conversationUpdate` adding the bot: a short welcome saying how to start and link accounts.
async fn welcome_if_added(state: &TeamsState, activity: &Activity, service_url: &Url) {
    let Some(bot) = &activity.recipient else {
        return;
    };
    if !activity
        .members_added
        .iter()
        .any(|member| member.id == bot.id)
    {
        return;
    }
    if let Some(id) = &activity.id {
        let key = format!("{}|{id}", activity.conversation.id);
        let is_new = state
            .welcomed
            .lock()
            .map(|mut recent| recent.insert(key.clone()))
            .unwrap_or(true);
        // Here first (a retry to this process), then for the whole host (another process, or
        // this one after a restart).
        if !is_new
            || !state
                .handler
                .claim_event(Platform::Teams, &format!("welcome:{key}"))
                .await
        {
            return;
        }
    }
    let name = bot.name.as_deref().unwrap_or("your companion");
    let text = format!(
        "Hi, I'm **{name}**! Talk to me here{}.\n\n\
         Already chatting with me on Discord, Slack or the local chat? Say `link start` there and \
         `link <code>` here (or the other way round) and I'll remember you everywhere. \
         Say `help` for everything I can do.",
        if activity.is_personal() {
            ""
        } else {
            " by @mentioning me"
        }
    );
    let welcome = OutgoingActivity {
        reply_to_id: None,
        recipient: None,
        ..OutgoingActivity::message_to(activity, Some(text), Vec::new())
    };
    if let Err(error) = state
        .client
        .send(service_url, &activity.conversation.id, None, &welcome)
        .await
    {
        tracing::warn!(%error, "Teams welcome not delivered");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_replies_are_split_below_the_teams_limit_in_characters_and_bytes() {
        let ascii = "All work and no play makes a dull bot. ".repeat(2_000);
        let parts = split_for_teams(&ascii);
        assert!(parts.len() >= 4);
        assert!(parts.iter().all(|part| part.len() <= 25_000));
        let wide = "日本語のテキストです。".repeat(3_000);
        let parts = split_for_teams(&wide);
        assert!(parts.len() >= 4, "{} parts", parts.len());
        assert!(parts.iter().all(|part| part.len() <= 25_000));
        assert_eq!(parts.concat(), wide.trim());
    }

    #[test]
    fn recent_ids_remember_a_bounded_number_of_ids() {
        let mut recent = RecentIds::default();
        assert!(recent.insert("a".into()));
        assert!(!recent.insert("a".into()));
        for i in 0..RECENT_WELCOMES {
            recent.insert(i.to_string());
        }
        assert!(recent.insert("a".into()), "the oldest id was forgotten");
        assert!(recent.seen.len() <= RECENT_WELCOMES);
    }

    // The clock is paused: the ticks and the waits between them pass in virtual time.
    #[tokio::test(start_paused = true)]
    async fn the_typing_guard_stops_its_task_when_the_turn_panics() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let ticks = Arc::new(AtomicUsize::new(0));
        let counter = ticks.clone();
        let turn = tokio::spawn(async move {
            let _typing = AbortOnDrop(tokio::spawn(async move {
                loop {
                    counter.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }));
            tokio::time::sleep(Duration::from_millis(50)).await;
            panic!("the turn fails");
        });
        assert!(turn.await.unwrap_err().is_panic());
        tokio::time::sleep(Duration::from_millis(20)).await;
        let after_the_turn = ticks.load(Ordering::SeqCst);
        assert!(after_the_turn > 0);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(ticks.load(Ordering::SeqCst), after_the_turn);
    }

    /// A core stand-in counting the events it is given.
    struct CountingHandler(std::sync::atomic::AtomicUsize);

    impl EventHandler for CountingHandler {
        fn handle<'life0, 'async_trait>(
            &'life0 self,
            _event: whisperengine_contract::InboundEvent,
            _capabilities: whisperengine_contract::Capabilities,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = HandlerOutcome> + Send + 'async_trait>,
        >
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(std::future::ready(HandlerOutcome::Ignored("test")))
        }
    }

    struct NoInbox;

    impl Inbox for NoInbox {
        fn submit(&self, _job: InboxJob) -> Result<(), whisperengine_contract::InboxRefusal> {
            Ok(())
        }
    }

    /// A TCP listener that counts the connections made to it and closes each at once.
    async fn counting_listener() -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
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
        (address, connections)
    }

    #[tokio::test]
    async fn an_activity_taken_back_from_the_inbox_towards_a_foreign_service_url_is_not_run() {
        use std::sync::atomic::Ordering;
        let (bot_framework, bot_framework_connections) = counting_listener().await;
        let (attacker, attacker_connections) = counting_listener().await;
        let mut config = TeamsConfig::new("app", secrecy::SecretString::from("secret"));
        config.token_url = Url::parse(&format!("http://{bot_framework}/token")).unwrap();
        config.allowed_service_urls =
            crate::AllowedServiceUrls::new(vec![
                Url::parse(&format!("http://{bot_framework}/")).unwrap()
            ]);
        let verifier = Verifier::new(
            reqwest::Client::new(),
            config.openid_metadata_url.clone(),
            "app",
            None,
            Duration::from_secs(300),
        );
        let client = crate::connector_client(&config, reqwest::Client::new());
        let handler = Arc::new(CountingHandler(Default::default()));
        let state = Arc::new(TeamsState::new(
            config,
            verifier,
            client,
            handler.clone(),
            Arc::new(NoInbox),
        ));
        let replayer = TeamsReplayer(Arc::downgrade(&state));
        let stored = |service_url: String| {
            serde_json::json!({
                "type": "message", "id": "1", "serviceUrl": service_url, "channelId": "msteams",
                "from": {"id": "29:ana", "aadObjectId": "aad-ana"},
                "conversation": {"id": "a:dm", "conversationType": "personal", "tenantId": "t1"},
                "recipient": {"id": "28:app"}, "text": "hello"
            })
            .to_string()
        };

        let foreign = replayer
            .replay(&stored(format!("http://{attacker}/")))
            .expect("a readable payload");
        foreign(None).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(handler.0.load(Ordering::SeqCst), 0, "no turn was run");
        assert_eq!(attacker_connections.load(Ordering::SeqCst), 0);
        assert_eq!(
            bot_framework_connections.load(Ordering::SeqCst),
            0,
            "not even a token was requested"
        );

        // The same activity towards the allowed service URL reaches the core (which answers
        // nothing here, so nothing is sent).
        let allowed = replayer
            .replay(&stored(format!("http://{bot_framework}/")))
            .expect("a readable payload");
        allowed(None).await;
        assert_eq!(handler.0.load(Ordering::SeqCst), 1);
    }
}

/// A bounded set of recently seen ids.
#[derive(Default)]
struct RecentIds {
    order: VecDeque<String>,
    seen: HashSet<String>,
}

impl RecentIds {
    /// Adds `id`; false when it was already there.
    fn insert(&mut self, id: String) -> bool {
        if !self.seen.insert(id.clone()) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > RECENT_WELCOMES {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        true
    }
}
