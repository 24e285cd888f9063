//! What the Teams endpoint accepts: activities of the `msteams` channel only, signed with a key
//! endorsed for it; a conversation whose type Teams did not state is never a 1:1 DM; signing keys
//! that cannot be read mean 503 (the Bot Framework retries), not a refusal as forged, and forged
//! key ids cannot make the host read the keys once per request; the bot's token goes to no service
//! URL outside TEAMS_ALLOWED_SERVICE_URLS, neither on arrival nor for an activity taken back from
//! the inbox.
#![allow(clippy::unwrap_used)]

use crate::common::fake_teams::{claims, valid_token, FakeBotFramework, Options};
use crate::common::metrics::{sample, scrape};
use crate::common::{self, memory_rows, test_setups};
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use whisperengine::config::Settings;
use whisperengine::core::Core;
use whisperengine::store::entities::{inbox_event, link_code};

const TENANT: &str = "tenant-0001";
const BOT_ID: &str = "28:00000000-aaaa-bbbb-cccc-000000000001";

/// A Teams message from Ana in `conversation`, typed `conversation_type` (`None`: not stated).
fn message(
    service_url: &str,
    id: &str,
    conversation: &str,
    conversation_type: Option<&str>,
    text: &str,
    entities: Value,
) -> Value {
    let mut activity = json!({
        "type": "message",
        "id": id,
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": "29:bf-aad-ana", "name": "Ana Lima", "aadObjectId": "aad-ana"},
        "conversation": {"id": conversation, "tenantId": TENANT},
        "recipient": {"id": BOT_ID, "name": "Elena"},
        "text": text,
        "entities": entities,
        "channelData": {"tenant": {"id": TENANT}}
    });
    if let Some(kind) = conversation_type {
        activity["conversation"]["conversationType"] = json!(kind);
    }
    activity
}

/// A personal-chat message from Ana.
fn personal(service_url: &str, id: &str, text: &str) -> Value {
    message(
        service_url,
        id,
        "a:dm-aad-ana",
        Some("personal"),
        text,
        json!([]),
    )
}

/// The host on `settings`, talking to `fake` (keys, token, and the only allowed service URL).
async fn start_host(fake: &FakeBotFramework, mut settings: Settings) -> (String, Core) {
    common::configure_teams(fake, &mut settings);
    common::spawn_app(settings).await
}

async fn post(host: &str, token: &str, activity: &Value) -> u16 {
    reqwest::Client::new()
        .post(format!("{host}/api/messages"))
        .bearer_auth(token)
        .json(activity)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn inbox_rows(core: &Core) -> u64 {
    inbox_event::Entity::find()
        .count(&core.store.db)
        .await
        .unwrap()
}

async fn link_codes(core: &Core) -> u64 {
    link_code::Entity::find()
        .count(&core.store.db)
        .await
        .unwrap()
}

/// Waits until `check` holds, at most `limit`.
async fn wait_until<F: std::future::Future<Output = bool>>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> F,
) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Nothing reached the Bot Framework (no token request, no connector call) and nothing was
/// stored, half a second after the refusals.
async fn assert_nothing_sent_or_stored(fake: &FakeBotFramework, core: &Core, case: &str) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(fake.sent().is_empty(), "{case}: {:?}", fake.sent());
    assert_eq!(fake.token_requests(), 0, "{case}");
    assert_eq!(memory_rows(core).await, 0, "{case}: memory rows");
    assert_eq!(inbox_rows(core).await, 0, "{case}: inbox rows");
}

#[tokio::test]
async fn activities_of_other_channels_are_refused_and_nothing_is_stored() {
    for (db, settings) in test_setups().await {
        // Keys endorsed for other channels too, as Microsoft's are: only the channel check refuses.
        let fake = FakeBotFramework::start_with(Options {
            endorsements: Some(vec!["msteams".into(), "emulator".into(), "webchat".into()]),
        })
        .await;
        let (host, core) = start_host(&fake, settings).await;
        let service_url = fake.service_url();
        let token = valid_token(&service_url);
        for (number, channel) in [Some("emulator"), Some("webchat"), Some("MSTeams"), None]
            .into_iter()
            .enumerate()
        {
            let mut activity = personal(&service_url, &format!("90{number}"), "Hello there");
            match channel {
                Some(channel) => activity["channelId"] = json!(channel),
                None => {
                    activity.as_object_mut().unwrap().remove("channelId");
                }
            }
            assert_eq!(
                post(&host, &token, &activity).await,
                403,
                "{}: channel {channel:?}",
                db.name
            );
        }
        assert_nothing_sent_or_stored(&fake, &core, db.name).await;
        let metrics = scrape(&host).await;
        assert!(
            sample(
                &metrics,
                "whisperengine_teams_auth_rejected_total",
                &["reason=\"channel\""]
            )
            .is_some(),
            "{metrics}"
        );

        // The same activity from Teams is answered.
        let teams = personal(&service_url, "910", "Hello there");
        assert_eq!(post(&host, &token, &teams).await, 200, "{}", db.name);
        assert_eq!(fake.wait_for_messages(1).await.len(), 1, "{}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_signing_key_not_endorsed_for_msteams_is_refused() {
    for (db, settings) in test_setups().await {
        for endorsements in [None, Some(vec!["emulator".into(), "webchat".into()])] {
            let case = format!("{}: endorsements {endorsements:?}", db.name);
            let fake = FakeBotFramework::start_with(Options { endorsements }).await;
            let (host, core) = start_host(&fake, settings.clone()).await;
            let service_url = fake.service_url();
            let activity = personal(&service_url, "1000", "Hello there");
            assert_eq!(
                post(&host, &valid_token(&service_url), &activity).await,
                401,
                "{case}"
            );
            assert_nothing_sent_or_stored(&fake, &core, &case).await;
            let metrics = scrape(&host).await;
            assert!(
                sample(
                    &metrics,
                    "whisperengine_teams_auth_rejected_total",
                    &["reason=\"endorsement\""]
                )
                .is_some(),
                "{case}: {metrics}"
            );
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_conversation_without_a_type_is_not_answered_as_a_dm() {
    for (db, settings) in test_setups().await {
        let fake = FakeBotFramework::start().await;
        let (host, core) = start_host(&fake, settings).await;
        let service_url = fake.service_url();
        let token = valid_token(&service_url);
        let mention = json!([{"type": "mention", "mentioned": {"id": BOT_ID, "name": "Elena"}, "text": "<at>Elena</at>"}]);
        // The conversation id looks like a personal chat; only the stated type may make it one.
        let untyped = message(
            &service_url,
            "2000",
            "a:dm-aad-ana",
            None,
            "link start",
            json!([]),
        );
        let untyped_mention = message(
            &service_url,
            "2001",
            "a:dm-aad-ana",
            None,
            "<at>Elena</at> link start",
            mention,
        );
        for activity in [&untyped, &untyped_mention] {
            assert_eq!(post(&host, &token, activity).await, 200, "{}", db.name);
        }
        // The mentioned one is answered (as in a group: no code there), the other one not at all.
        let messages = fake.wait_for_messages(1).await;
        assert!(
            messages
                .iter()
                .all(|sent| !sent.path.ends_with("/activities/2000")),
            "{}: a group message without a mention is not answered: {messages:?}",
            db.name
        );
        assert_eq!(
            link_codes(&core).await,
            0,
            "{}: no link code was issued into a conversation that may have several people: {messages:?}",
            db.name
        );

        // Stated as personal, the same command gives a code.
        let stated = personal(&service_url, "2002", "link start");
        assert_eq!(post(&host, &token, &stated).await, 200, "{}", db.name);
        wait_until(
            "the personal chat gets its code",
            Duration::from_secs(10),
            || {
                let core = core.clone();
                async move { link_codes(&core).await == 1 }
            },
        )
        .await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn while_the_signing_keys_cannot_be_read_a_genuine_activity_gets_503_and_its_retry_is_answered(
) {
    for (db, settings) in test_setups().await {
        let fake = FakeBotFramework::start().await;
        fake.set_keys_failing(true);
        let (host, core) = start_host(&fake, settings).await;
        let service_url = fake.service_url();
        let token = valid_token(&service_url);
        let activity = personal(&service_url, "3000", "Hello while the keys are down");
        for attempt in 0..3 {
            assert_eq!(
                post(&host, &token, &activity).await,
                503,
                "{}: attempt {attempt}",
                db.name
            );
        }
        assert_nothing_sent_or_stored(&fake, &core, db.name).await;

        fake.set_keys_failing(false);
        // The Bot Framework retries: the first retry after the host's back-off is taken.
        let started = Instant::now();
        loop {
            let status = post(&host, &token, &activity).await;
            if status == 200 {
                break;
            }
            assert_eq!(status, 503, "{}", db.name);
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{}: the keys were never read again",
                db.name
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let messages = fake.wait_for_messages(1).await;
        assert_eq!(messages.len(), 1, "{}: {messages:?}", db.name);
        assert_eq!(messages[0].body["replyToId"], "3000");
        db.cleanup().await;
    }
}

/// A token naming a random key id, with valid claims and a signature by no key (the host must
/// refuse it on the key id, before any signature check; RSA signing is too slow in debug builds to
/// sign each one).
fn random_kid_token(service_url: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": uuid::Uuid::new_v4().to_string()});
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims(service_url).to_string()),
        URL_SAFE_NO_PAD.encode([7u8; 256]),
    )
}

/// Posts `count` activities at once, each with a token under a random key id; their statuses.
async fn random_kids_at_once(host: &str, service_url: &str, count: usize) -> Vec<u16> {
    let mut requests = Vec::new();
    for number in 0..count {
        let host = host.to_string();
        let activity = personal(service_url, &format!("4{number:03}"), "Let me in");
        let token = random_kid_token(service_url);
        requests.push(tokio::spawn(
            async move { post(&host, &token, &activity).await },
        ));
    }
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.await.unwrap());
    }
    statuses
}

#[tokio::test]
async fn random_key_ids_cause_a_bounded_number_of_key_reads() {
    for (db, settings) in test_setups().await {
        // Keys readable: the first request reads them, every forged kid after that is refused.
        let fake = FakeBotFramework::start().await;
        let (host, core) = start_host(&fake, settings.clone()).await;
        let service_url = fake.service_url();
        let statuses = random_kids_at_once(&host, &service_url, 40).await;
        assert!(
            statuses.iter().all(|s| *s == 401),
            "{}: {statuses:?}",
            db.name
        );
        for number in 0..40 {
            let activity = personal(&service_url, &format!("5{number:03}"), "Let me in");
            assert_eq!(
                post(&host, &random_kid_token(&service_url), &activity).await,
                401,
                "{}",
                db.name
            );
        }
        assert_eq!(fake.key_reads(), 1, "{}: 80 forged kids, one read", db.name);
        assert_nothing_sent_or_stored(&fake, &core, db.name).await;

        // Keys unreadable: every request is 503 and the reads are spaced by the back-off.
        let down = FakeBotFramework::start().await;
        down.set_keys_failing(true);
        let (host, _core) = start_host(&down, settings).await;
        let service_url = down.service_url();
        let statuses = random_kids_at_once(&host, &service_url, 40).await;
        assert!(
            statuses.iter().all(|s| *s == 503),
            "{}: {statuses:?}",
            db.name
        );
        for number in 0..40 {
            let activity = personal(&service_url, &format!("6{number:03}"), "Let me in");
            assert_eq!(
                post(&host, &random_kid_token(&service_url), &activity).await,
                503,
                "{}",
                db.name
            );
        }
        assert!(
            down.key_reads() <= 3,
            "{}: {} reads for 80 requests while the keys are down",
            db.name,
            down.key_reads()
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_service_url_outside_the_allow_list_gets_no_outbound_call() {
    for (db, settings) in test_setups().await {
        let bot_framework = FakeBotFramework::start().await;
        // Another connector, standing for whoever would collect the bot's token.
        let attacker = FakeBotFramework::start().await;
        let (host, core) = start_host(&bot_framework, settings).await;
        let foreign = attacker.service_url();
        // A token whose serviceurl claim names the foreign URL, signed with the genuine key.
        let token = valid_token(&foreign);
        let hello = personal(&foreign, "7000", "Hello there");
        let installed = json!({
            "type": "conversationUpdate", "id": "f:7001", "serviceUrl": foreign,
            "channelId": "msteams",
            "from": {"id": "29:installer", "aadObjectId": "aad-ana"},
            "conversation": {"id": "a:dm-aad-ana", "conversationType": "personal", "tenantId": TENANT},
            "recipient": {"id": BOT_ID, "name": "Elena"},
            "membersAdded": [{"id": BOT_ID}],
            "channelData": {"tenant": {"id": TENANT}}
        });
        for activity in [&hello, &installed] {
            assert_eq!(post(&host, &token, activity).await, 403, "{}", db.name);
        }
        assert_nothing_sent_or_stored(&bot_framework, &core, db.name).await;
        assert!(
            attacker.sent().is_empty(),
            "{}: {:?}",
            db.name,
            attacker.sent()
        );
        assert_eq!(attacker.token_requests(), 0, "{}", db.name);
        let metrics = scrape(&host).await;
        assert!(
            sample(
                &metrics,
                "whisperengine_teams_auth_rejected_total",
                &["reason=\"service_url_not_allowed\""]
            )
            .is_some(),
            "{metrics}"
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_activity_taken_back_from_the_inbox_is_not_answered_at_a_foreign_service_url() {
    for (db, settings) in test_setups().await {
        assert!(
            settings.data_encryption_key.is_none(),
            "rows stored in clear"
        );
        let bot_framework = FakeBotFramework::start().await;
        let attacker = FakeBotFramework::start().await;
        let (host, core) = start_host(&bot_framework, settings).await;
        // Left by a process that stopped after the turn was stored: its reply is in the row.
        let payload = personal(&attacker.service_url(), "8000", "Hello from before").to_string();
        let reply = serde_json::to_string(&whisperengine_contract::OutboundReply::text(
            "an answer stored with the turn",
        ))
        .unwrap();
        let id = uuid::Uuid::new_v4().to_string();
        inbox_event::ActiveModel {
            id: Set(id.clone()),
            kind: Set("teams".into()),
            payload: Set(payload),
            reply: Set(Some(reply)),
            owner: Set("a-process-that-stopped".into()),
            attempts: Set(0),
            parked: Set(false),
            created_at: Set(common::unix_now() as i64 * 1000 - 60_000),
            ..Default::default()
        }
        .insert(&core.store.db)
        .await
        .unwrap();

        wait_until(
            "the row is taken over and finished",
            Duration::from_secs(15),
            || {
                let (core, id) = (core.clone(), id.clone());
                async move {
                    inbox_event::Entity::find_by_id(id)
                        .one(&core.store.db)
                        .await
                        .unwrap()
                        .is_none()
                }
            },
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            attacker.sent().is_empty(),
            "{}: {:?}",
            db.name,
            attacker.sent()
        );
        assert_eq!(attacker.token_requests(), 0, "{}", db.name);
        assert!(bot_framework.sent().is_empty(), "{}", db.name);
        assert_eq!(bot_framework.token_requests(), 0, "{}", db.name);
        let metrics = scrape(&host).await;
        assert!(
            sample(
                &metrics,
                "whisperengine_teams_outbound_refused_total",
                &["reason=\"service_url_not_allowed\""]
            )
            .is_some(),
            "{metrics}"
        );
        db.cleanup().await;
    }
}
