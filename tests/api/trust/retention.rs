//! What retention may delete: content rows by their own age, never people, accounts, links or
//! preferences. With MEMORY_RETENTION_DAYS an account older than the limit keeps what it said a
//! minute ago; in demo mode a row goes DEMO_DATA_TTL after it was written, and a person only once
//! nothing of them is left.

use crate::common::{self, command, core_for, message, say, test_setups};
use chrono::{TimeDelta, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use std::time::Duration;
use whisperengine::config::DeploymentMode;
use whisperengine::core::ops::lifecycle;
use whisperengine::store::accounts::find_account;
use whisperengine::store::entities::{fact, identity, memory, platform_account, preference};
use whisperengine_contract::{Platform, PlatformAccount};

async fn identity_of(
    core: &whisperengine::core::Core,
    account: &PlatformAccount,
) -> whisperengine::store::ids::IdentityId {
    find_account(&core.store.db, account)
        .await
        .expect("readable")
        .expect("the account exists")
        .identity_id
}

/// Links `first` and `second` with the code flow (`link start` on one, `link <code>` on the other).
async fn link(core: &whisperengine::core::Core, first: &PlatformAccount, second: &PlatformAccount) {
    let started = say(core, command(first, "link start", false)).await;
    let code = common::link_code_in(&started, "**");
    let linked = say(core, command(second, &format!("link {code}"), false)).await;
    assert!(linked.to_lowercase().contains("linked"), "{linked}");
}

#[tokio::test]
async fn retention_expires_old_content_by_its_own_age_never_accounts_links_or_preferences() {
    for (db, mut settings) in test_setups().await {
        settings.memory_retention_days = Some(1);
        let core = core_for(settings).await;
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U_RET");
        let discord = PlatformAccount::new(Platform::Discord, "", "7001");
        say(&core, message(&slack, "My cat is called Miso")).await;
        say(&core, message(&discord, "hello")).await;
        link(&core, &slack, &discord).await;
        say(&core, command(&slack, "prefs set name Olga", false)).await;
        say(&core, message(&discord, "My dog is called Rex")).await;
        core.flush_hot_state().await.expect("flushed");

        // The people are three days old, and so is the first thing said; the rest is a minute old.
        let three_days_ago = Utc::now() - TimeDelta::days(3);
        let person = identity_of(&core, &slack).await;
        platform_account::Entity::update_many()
            .col_expr(
                platform_account::Column::CreatedAt,
                Expr::value(three_days_ago),
            )
            .filter(platform_account::Column::IdentityId.eq(person))
            .exec(&core.store.db)
            .await
            .expect("accounts aged");
        identity::Entity::update_many()
            .col_expr(identity::Column::CreatedAt, Expr::value(three_days_ago))
            .filter(identity::Column::Id.eq(person))
            .exec(&core.store.db)
            .await
            .expect("identity aged");
        let aged = memory::Entity::update_many()
            .col_expr(memory::Column::CreatedAt, Expr::value(three_days_ago))
            .filter(memory::Column::Content.contains("Miso"))
            .exec(&core.store.db)
            .await
            .expect("memory aged");
        assert!(aged.rows_affected >= 1, "{}", db.name);

        let expired = lifecycle::expire(&core, Utc::now())
            .await
            .expect("the retention pass runs");
        assert_eq!(
            expired.rows, aged.rows_affected,
            "{}: only the old turn: {expired:?}",
            db.name
        );
        assert_eq!(expired.identities, 0, "{}", db.name);

        let left = common::memory_contents(&core).await;
        assert!(
            !left.iter().any(|m| m.contains("Miso")),
            "{}: {left:?}",
            db.name
        );
        assert!(
            left.iter().any(|m| m.contains("Rex")),
            "{}: {left:?}",
            db.name
        );
        assert_eq!(
            identity_of(&core, &slack).await,
            identity_of(&core, &discord).await,
            "{}: still linked",
            db.name
        );
        let preferences = preference::Entity::find()
            .count(&core.store.db)
            .await
            .expect("readable");
        assert_eq!(preferences, 1, "{}: the preference stays", db.name);
        let facts = fact::Entity::find()
            .all(&core.store.db)
            .await
            .expect("readable");
        assert!(
            facts.iter().any(|f| f.value.contains("Rex")),
            "{}: the fresh fact stays: {facts:?}",
            db.name
        );
        let recalled = say(&core, message(&discord, "What's my dog called?")).await;
        assert!(recalled.contains("Rex"), "{}: {recalled}", db.name);
        let name = say(&core, command(&slack, "prefs", false)).await;
        assert!(name.contains("Olga"), "{}: {name}", db.name);
    }
}

#[tokio::test]
async fn demo_data_expires_row_by_row_and_a_person_only_once_nothing_is_left() {
    for (db, mut settings) in test_setups().await {
        settings.deployment_mode = DeploymentMode::Demo;
        settings.demo_data_ttl = Duration::from_secs(3600);
        let core = core_for(settings).await;
        // Known for two hours, but said something a minute ago.
        let regular = PlatformAccount::new(Platform::Slack, "T1", "U_REGULAR");
        say(&core, message(&regular, "My dog is called Rex")).await;
        // Known for two hours, and everything of them is as old.
        let gone = PlatformAccount::new(Platform::Slack, "T1", "U_GONE");
        say(&core, message(&gone, "My cat is called Miso")).await;
        say(&core, command(&gone, "prefs set name Olga", false)).await;
        core.flush_hot_state().await.expect("flushed");
        let regular_id = identity_of(&core, &regular).await;
        let two_hours = TimeDelta::hours(2);
        identity::Entity::update_many()
            .col_expr(
                identity::Column::CreatedAt,
                Expr::value(Utc::now() - two_hours),
            )
            .filter(identity::Column::Id.eq(regular_id))
            .exec(&core.store.db)
            .await
            .expect("aged");
        platform_account::Entity::update_many()
            .col_expr(
                platform_account::Column::CreatedAt,
                Expr::value(Utc::now() - two_hours),
            )
            .filter(platform_account::Column::IdentityId.eq(regular_id))
            .exec(&core.store.db)
            .await
            .expect("aged");
        let gone_id = identity_of(&core, &gone).await;
        common::age_person(&core, gone_id, two_hours).await;

        let expired = lifecycle::expire(&core, Utc::now())
            .await
            .expect("the expiry runs");
        assert_eq!(expired.identities, 1, "{}: {expired:?}", db.name);
        assert!(
            find_account(&core.store.db, &gone)
                .await
                .expect("readable")
                .is_none(),
            "{}: nothing was left of them, so they went too",
            db.name
        );
        assert_eq!(
            identity_of(&core, &regular).await,
            regular_id,
            "{}: a person with fresh data stays",
            db.name
        );
        let left = common::memory_contents(&core).await;
        assert!(
            !left.iter().any(|m| m.contains("Miso")),
            "{}: {left:?}",
            db.name
        );
        assert!(
            left.iter().any(|m| m.contains("Rex")),
            "{}: {left:?}",
            db.name
        );
        let recalled = say(&core, message(&regular, "What's my dog called?")).await;
        assert!(recalled.contains("Rex"), "{}: {recalled}", db.name);
        let status = say(&core, command(&regular, "sync status", false)).await;
        assert!(
            status.contains("deleted 1 hour after you say it")
                && status.contains("The oldest of it goes at"),
            "{}: {status}",
            db.name
        );
    }
}
