//! Host admin rights come only from the operator's lists (DISCORD_ADMIN_IDS, SLACK_ADMIN_IDS,
//! TEAMS_ADMIN_IDS), the CLI and the dashboard: the admin of some Slack workspace (anyone can make
//! one and install the app) cannot link a victim's account to their own, and `doctor` warns when no
//! list is set.

use crate::common;
use crate::common::fake_slack::{FakeSlack, BOT_TOKEN, TEAM};
use crate::common::slack_signing::signed_command;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use whisperengine::doctor::{admins_check, Status};
use whisperengine::store::entities::{audit_log, platform_account};

const SIGNING_SECRET: &str = "e0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5";
const VICTIM: &str = "U0VICTIM1";
const WORKSPACE_ADMIN: &str = "U0WSADMIN";
const OPERATOR: &str = "U0OPERATR";

async fn identity_of(core: &whisperengine::core::Core, user: &str) -> Option<uuid::Uuid> {
    platform_account::Entity::find()
        .filter(platform_account::Column::UserId.eq(user))
        .one(&core.store.db)
        .await
        .unwrap()
        .map(|row| row.identity_id)
}

#[tokio::test]
async fn a_workspace_admin_is_no_host_admin_only_the_listed_operator_is() {
    for (db, mut settings) in common::test_setups().await {
        let fake = FakeSlack::start().await;
        fake.add_user(VICTIM, "Victim", false);
        fake.add_user(WORKSPACE_ADMIN, "Owner", true);
        fake.add_user(OPERATOR, "Operator", false);
        settings.slack_bot_token = Some(BOT_TOKEN.to_string().into());
        settings.slack_signing_secret = Some(SIGNING_SECRET.to_string().into());
        settings.slack_api_url = Some(fake.api_url());
        settings.slack_admin_ids = vec![OPERATOR.to_string()];
        let (host, core) = common::spawn_app(settings).await;
        let command = |user: &str, text: &str, trigger: &str| {
            let form = fake.slash_form(user, &format!("D{user}"), text, trigger);
            signed_command(&host, SIGNING_SECRET, &form).send()
        };

        // The victim and the attacker each talk to the companion once.
        for (user, trigger) in [(VICTIM, "1.1"), (WORKSPACE_ADMIN, "1.2")] {
            let response = command(user, "link start", trigger).await.unwrap();
            assert_eq!(response.status(), 200, "{}", db.name);
        }
        fake.wait_for("chat.postEphemeral", 2).await;
        let victim = identity_of(&core, VICTIM)
            .await
            .expect("the victim's account");
        let attacker = identity_of(&core, WORKSPACE_ADMIN)
            .await
            .expect("the attacker's account");
        assert_ne!(victim, attacker);

        let steal = format!("admin link slack:{TEAM}/{VICTIM} slack:{TEAM}/{WORKSPACE_ADMIN}");
        for (text, trigger) in [
            (steal.as_str(), "2.1"),
            ("admin audit", "2.2"),
            ("admin release all", "2.3"),
        ] {
            let response = command(WORKSPACE_ADMIN, text, trigger).await.unwrap();
            assert_eq!(response.status(), 200, "{}", db.name);
        }
        let answers = fake.wait_for("chat.postEphemeral", 5).await;
        let texts: Vec<&str> = answers
            .iter()
            .map(|answer| answer.params["text"].as_str().unwrap_or_default())
            .collect();
        let refusals = texts
            .iter()
            .filter(|text| text.contains("Only admins"))
            .count();
        assert_eq!(refusals, 3, "{}: {texts:?}", db.name);
        core.store.flush().await;
        assert_eq!(
            identity_of(&core, VICTIM).await,
            Some(victim),
            "{}: the victim was not linked",
            db.name
        );
        assert_eq!(
            identity_of(&core, WORKSPACE_ADMIN).await,
            Some(attacker),
            "{}",
            db.name
        );
        let refused = audit_log::Entity::find()
            .filter(audit_log::Column::Outcome.eq("refused"))
            .all(&core.store.db)
            .await
            .unwrap();
        assert_eq!(refused.len(), 3, "{}: each attempt is audited", db.name);

        // The operator listed in SLACK_ADMIN_IDS can.
        let response = command(OPERATOR, &steal, "3.1").await.unwrap();
        assert_eq!(response.status(), 200, "{}", db.name);
        let answers = fake.wait_for("chat.postEphemeral", 6).await;
        let linked = answers
            .iter()
            .filter(|answer| answer.params["user"] == OPERATOR)
            .map(|answer| {
                answer.params["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_lowercase()
            })
            .collect::<Vec<_>>();
        assert!(
            linked.iter().any(|text| text.contains("linked")),
            "{}: {linked:?}",
            db.name
        );
        core.store.flush().await;
        assert_eq!(
            identity_of(&core, VICTIM).await,
            identity_of(&core, WORKSPACE_ADMIN).await,
            "{}",
            db.name
        );
        drop(core);
        db.cleanup().await;
    }
}

#[test]
fn doctor_warns_when_a_platform_runs_without_an_admin_list() {
    let mut settings = whisperengine::config::Settings {
        deployment_mode: whisperengine::config::DeploymentMode::Cloud,
        slack_bot_token: Some(BOT_TOKEN.to_string().into()),
        slack_signing_secret: Some(SIGNING_SECRET.to_string().into()),
        ..Default::default()
    };
    let check = admins_check(&settings);
    assert_eq!(check.status, Status::Warning, "{}", check.detail);
    assert!(check.detail.contains("SLACK_ADMIN_IDS"), "{}", check.detail);
    settings.slack_admin_ids = vec![OPERATOR.into()];
    assert_eq!(admins_check(&settings).status, Status::Ok);

    let desktop = whisperengine::config::Settings::default();
    assert_eq!(
        admins_check(&desktop).status,
        Status::Ok,
        "desktop: the owner is the admin"
    );
}
