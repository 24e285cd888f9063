//! What `forget all` and `export` reach beyond the tables keyed by account or identity: the platform
//! events stored in the inbox (`inbox_event`) carry their sender's account, so a person's answered
//! and set-aside events are erased with them and listed in their export; an event still waiting
//! for its answer stays until it is answered. The marks of handled events (`processed_event`) are
//! not kept for ever.

use crate::common::fake_slack::{FakeSlack, BOT_TOKEN, BOT_USER, TEAM};
use crate::common::slack_signing::signed_event;
use crate::common::{command, core_for, message, say, test_setups};
use chrono::{TimeDelta, Utc};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::json;
use std::time::Duration;
use whisperengine::store::accounts::find_account;
use whisperengine::store::entities::{inbox_event, processed_event};
use whisperengine_contract::{Platform, PlatformAccount};

const SIGNING_SECRET: &str = "erasure-coverage-signing-secret";
const ANA: &str = "U0ANA0042";

/// A `message.im` event from `user`, as Slack posts it to the Events API.
fn dm(event_id: &str, user: &str, text: &str) -> String {
    // Slack's `ts` is unique within a channel: it names the message.
    static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(100);
    let sequence = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let ts = format!("{}.{sequence:06}", Utc::now().timestamp());
    json!({
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "team_id": TEAM,
        "api_app_id": "A0TEST",
        "event": {
            "client_msg_id": format!("c-{event_id}"),
            "type": "message", "text": text, "user": user, "ts": ts, "team": TEAM,
            "channel": "D0ANADM42", "event_ts": ts, "channel_type": "im"
        },
        "type": "event_callback",
        "authorizations": [{"enterprise_id": null, "team_id": TEAM, "user_id": BOT_USER, "is_bot": true, "is_enterprise_install": false}],
        "is_ext_shared_channel": false,
        "event_id": event_id,
        "event_time": Utc::now().timestamp(),
    })
    .to_string()
}

#[tokio::test]
async fn a_stored_slack_event_names_its_sender() {
    for (db, mut settings) in test_setups().await {
        let fake = FakeSlack::start().await;
        fake.add_user(ANA, "Ana", false);
        settings.slack_bot_token = Some(BOT_TOKEN.to_string().into());
        settings.slack_signing_secret = Some(SIGNING_SECRET.to_string().into());
        settings.slack_api_url = Some(fake.api_url());
        settings.llm_base_url =
            Some(crate::common::fake_llm::slow(Duration::from_secs(3), "Noted.").await);
        settings.llm_timeout = Duration::from_secs(30);
        let (host, core) = crate::common::spawn_app(settings).await;

        let answer = signed_event(&host, SIGNING_SECRET, &dm("EvAUTHOR01", ANA, "Hello there"))
            .send()
            .await
            .expect("the host answers");
        assert_eq!(answer.status(), 200, "{}", db.name);
        let rows = inbox_event::Entity::find()
            .all(&core.store.db)
            .await
            .expect("readable");
        assert_eq!(rows.len(), 1, "{}: stored before the 200", db.name);
        let row = &rows[0];
        assert_eq!(
            (
                row.author_platform.as_deref(),
                row.author_scope.as_deref(),
                row.author_user_id.as_deref()
            ),
            (Some("slack"), Some(TEAM), Some(ANA)),
            "{}: the row names its sender",
            db.name
        );
    }
}

#[tokio::test]
async fn a_stored_teams_activity_names_its_sender() {
    use crate::common::fake_teams::{valid_token, FakeBotFramework, APP_ID, APP_PASSWORD};
    for (db, mut settings) in test_setups().await {
        let fake = FakeBotFramework::start().await;
        settings.microsoft_app_id = Some(APP_ID.to_string());
        settings.microsoft_app_password = Some(APP_PASSWORD.to_string().into());
        settings.teams_openid_metadata_url = fake.openid_url().parse().expect("a URL");
        settings.teams_token_url = fake.token_url().parse().expect("a URL");
        settings.teams_allowed_service_urls = vec![fake.service_url().parse().expect("a URL")];
        settings.llm_base_url =
            Some(crate::common::fake_llm::slow(Duration::from_secs(3), "Noted.").await);
        settings.llm_timeout = Duration::from_secs(30);
        let (host, core) = crate::common::spawn_app(settings).await;

        let service_url = fake.service_url();
        let activity = json!({
            "type": "message",
            "id": "activity-author-1",
            "serviceUrl": service_url,
            "channelId": "msteams",
            "from": {"id": "29:bf-aad-ana", "name": "Ana Lima", "aadObjectId": "aad-ana-42"},
            "conversation": {"id": "a:dm-aad-ana-42", "tenantId": "tenant-0042", "conversationType": "personal"},
            "recipient": {"id": format!("28:{APP_ID}"), "name": "Elena"},
            "text": "Hello there",
            "channelData": {"tenant": {"id": "tenant-0042"}}
        });
        let status = reqwest::Client::new()
            .post(format!("{host}/api/messages"))
            .bearer_auth(valid_token(&service_url))
            .json(&activity)
            .send()
            .await
            .expect("the host answers")
            .status();
        assert_eq!(status, 200, "{}", db.name);
        let rows = inbox_event::Entity::find()
            .all(&core.store.db)
            .await
            .expect("readable");
        assert_eq!(rows.len(), 1, "{}: stored before the 200", db.name);
        let row = &rows[0];
        assert_eq!(
            (
                row.author_platform.as_deref(),
                row.author_scope.as_deref(),
                row.author_user_id.as_deref()
            ),
            (Some("teams"), Some("tenant-0042"), Some("aad-ana-42")),
            "{}: the row names its sender",
            db.name
        );
    }
}

/// An inbox row of `author` as the inbox leaves it: answered (`reply`), set aside, or waiting.
async fn stored_event(
    core: &whisperengine::core::Core,
    author: &PlatformAccount,
    text: &str,
    reply: Option<&str>,
    parked: bool,
) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    inbox_event::ActiveModel {
        id: Set(id.clone()),
        kind: Set("slack.event".into()),
        payload: Set(dm(&id, &author.user_id, text)),
        reply: Set(reply.map(str::to_string)),
        owner: Set(core.store.origin.to_string()),
        attempts: Set(1),
        parked: Set(parked),
        created_at: Set(Utc::now().timestamp_millis()),
        author_platform: Set(Some(author.platform.as_str().to_string())),
        author_scope: Set(Some(author.scope.clone())),
        author_user_id: Set(Some(author.user_id.clone())),
    }
    .insert(&core.store.db)
    .await
    .expect("row stored");
    id
}

#[tokio::test]
async fn forget_all_erases_a_persons_finished_inbox_events_and_export_lists_them() {
    for (db, settings) in test_setups().await {
        let core = core_for(settings).await;
        let ana = PlatformAccount::new(Platform::Slack, TEAM, ANA);
        let other = PlatformAccount::new(Platform::Slack, TEAM, "U0OTHER42");
        say(&core, message(&ana, "hello")).await;
        let reply = r#"{"text":"the stored answer"}"#;
        let answered = stored_event(&core, &ana, "ANSWERED-MARKER", Some(reply), false).await;
        let parked = stored_event(&core, &ana, "PARKED-MARKER", None, true).await;
        let waiting = stored_event(&core, &ana, "WAITING-MARKER", None, false).await;
        let others = stored_event(&core, &other, "OTHER-MARKER", None, true).await;

        let identity = find_account(&core.store.db, &ana)
            .await
            .expect("readable")
            .expect("the account exists")
            .identity_id;
        let document = whisperengine::core::privacy::export::document(&core.store, identity)
            .await
            .expect("exported");
        let inbox = document["inbox"].as_array().cloned().unwrap_or_default();
        assert_eq!(inbox.len(), 3, "{}: {inbox:?}", db.name);
        let listed = serde_json::Value::Array(inbox).to_string();
        for marker in ["ANSWERED-MARKER", "PARKED-MARKER", "WAITING-MARKER"] {
            assert!(listed.contains(marker), "{}: {marker} in {listed}", db.name);
        }
        assert!(listed.contains("the stored answer"), "{}", db.name);
        assert!(!listed.contains("OTHER-MARKER"), "{}: {listed}", db.name);

        say(&core, command(&ana, "forget all", false)).await;
        let done = say(&core, command(&ana, "forget all confirm", false)).await;
        assert!(done.starts_with("Done."), "{}: {done}", db.name);
        let left: Vec<String> = inbox_event::Entity::find()
            .all(&core.store.db)
            .await
            .expect("readable")
            .into_iter()
            .map(|row| row.id)
            .collect();
        assert!(
            !left.contains(&answered) && !left.contains(&parked),
            "{}: finished and set-aside events are erased: {left:?}",
            db.name
        );
        assert!(
            left.contains(&waiting),
            "{}: an event still to be answered stays until it is: {left:?}",
            db.name
        );
        assert!(left.contains(&others), "{}: someone else's stays", db.name);
    }
}

#[tokio::test]
async fn marks_of_handled_events_expire_after_a_week() {
    for (db, settings) in test_setups().await {
        let core = core_for(settings).await;
        for (event_id, age) in [
            ("EvOLD", TimeDelta::days(8)),
            ("EvRECENT", TimeDelta::days(1)),
        ] {
            processed_event::ActiveModel {
                platform: Set("slack".into()),
                event_id: Set(event_id.into()),
                created_at: Set(Utc::now() - age),
            }
            .insert(&core.store.db)
            .await
            .expect("mark stored");
        }
        let expired = whisperengine::core::ops::lifecycle::expire(&core, Utc::now())
            .await
            .expect("the maintenance runs");
        assert_eq!(expired.processed_marks, 1, "{}: {expired:?}", db.name);
        let left: Vec<String> = processed_event::Entity::find()
            .all(&core.store.db)
            .await
            .expect("readable")
            .into_iter()
            .map(|row| row.event_id)
            .collect();
        assert!(
            left.contains(&"EvRECENT".to_string()),
            "{}: {left:?}",
            db.name
        );
        assert!(
            !left.contains(&"EvOLD".to_string()),
            "{}: {left:?}",
            db.name
        );
        assert!(
            whisperengine::core::ops::lifecycle::spawn_expiry_task(
                &core,
                Duration::from_secs(3600)
            )
            .map(|task| task.abort())
            .is_some(),
            "{}: the maintenance runs in every mode",
            db.name
        );
    }
}
