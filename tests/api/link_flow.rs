//! Linking end to end through the core, on SQLite and (when configured) PostgreSQL + Redis: a code
//! from one account joins another platform's account, memory then flows across, unlink takes it
//! away again, bad codes are refused, and the audit log records each step.

use crate::common;

use common::{command, core_for, link_code_in, message, say, test_setups};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use whisperengine::store::entities::{audit_log, link_code};
use whisperengine_contract::{Platform, PlatformAccount};

async fn audit_actions(core: &whisperengine::core::Core) -> Vec<(String, String)> {
    audit_log::Entity::find()
        .order_by_asc(audit_log::Column::Id)
        .all(&core.store.db)
        .await
        .expect("audit log readable")
        .into_iter()
        .map(|row| (row.action, row.outcome))
        .collect()
}

#[tokio::test]
async fn a_linked_account_sees_what_was_said_on_the_other_platform_until_unlinked() {
    for (db, settings) in test_setups().await {
        let core = core_for(settings).await;
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U1").with_display_name("Ana");
        let discord = PlatformAccount::new(Platform::Discord, "", "4242").with_display_name("ana");

        say(&core, message(&slack, "My cat is called Miso")).await;
        let before = say(&core, message(&discord, "What's my cat called?")).await;
        assert!(
            !before.contains("Miso"),
            "{}: unlinked accounts share nothing: {before}",
            db.name
        );

        let code = link_code_in(
            &say(&core, command(&slack, "link start", false)).await,
            "**",
        );
        let linked = say(&core, command(&discord, &format!("link {code}"), false)).await;
        assert!(linked.starts_with("Linked!"), "{}: {linked}", db.name);

        let reply = say(&core, message(&discord, "What's my cat called?")).await;
        assert!(
            reply.contains("Miso"),
            "{}: the reply recalls the Slack fact: {reply}",
            db.name
        );
        assert!(
            reply.contains("Slack"),
            "{}: and says where it was told: {reply}",
            db.name
        );

        let whoami = say(&core, command(&discord, "whoami", false)).await;
        assert!(
            whoami.contains("slack:T1/U1") && whoami.contains("discord:4242"),
            "{}: {whoami}",
            db.name
        );

        let unlinked = say(&core, command(&discord, "unlink slack", false)).await;
        assert!(unlinked.starts_with("Unlinked"), "{}: {unlinked}", db.name);
        let after = say(&core, message(&discord, "What's my cat called?")).await;
        assert!(
            !after.contains("Miso"),
            "{}: unlink is exact: {after}",
            db.name
        );
        let on_slack = say(&core, message(&slack, "What's my cat called?")).await;
        assert!(
            on_slack.contains("Miso"),
            "{}: Slack keeps its own history: {on_slack}",
            db.name
        );

        let actions = audit_actions(&core).await;
        for expected in [("link.start", "ok"), ("link", "ok"), ("unlink", "ok")] {
            assert!(
                actions.contains(&(expected.0.to_string(), expected.1.to_string())),
                "{}: audit has {expected:?}: {actions:?}",
                db.name
            );
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn expired_reused_wrong_and_same_account_codes_are_refused_and_audited() {
    for (db, settings) in test_setups().await {
        let core = core_for(settings).await;
        let teams = PlatformAccount::new(Platform::Teams, "tenant", "aad-1");
        let slack = PlatformAccount::new(Platform::Slack, "T9", "U9");
        let discord = PlatformAccount::new(Platform::Discord, "", "77");

        let wrong = say(&core, command(&slack, "link ZZZZ-ZZZZZZ", false)).await;
        assert!(wrong.contains("not valid"), "{}: {wrong}", db.name);

        let own = link_code_in(
            &say(&core, command(&teams, "link start", false)).await,
            "**",
        );
        let same = say(&core, command(&teams, &format!("link {own}"), false)).await;
        assert!(same.contains("same account"), "{}: {same}", db.name);

        let used = say(&core, command(&slack, &format!("link {own}"), false)).await;
        assert!(used.starts_with("Linked!"), "{}: {used}", db.name);
        let reused = say(&core, command(&discord, &format!("link {own}"), false)).await;
        assert!(reused.contains("already used"), "{}: {reused}", db.name);

        let stale = link_code_in(
            &say(&core, command(&teams, "link start", false)).await,
            "**",
        );
        link_code::Entity::update_many()
            .col_expr(
                link_code::Column::ExpiresAt,
                sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
            )
            .filter(link_code::Column::UsedAt.is_null())
            .exec(&core.store.db)
            .await
            .expect("expire the code");
        let expired = say(&core, command(&discord, &format!("link {stale}"), false)).await;
        assert!(expired.contains("expired"), "{}: {expired}", db.name);

        let refusals = audit_actions(&core)
            .await
            .into_iter()
            .filter(|(action, outcome)| action == "link" && outcome == "refused")
            .count();
        assert_eq!(
            refusals, 4,
            "{}: wrong, same-account, reused and expired are audited",
            db.name
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn five_wrong_codes_lock_linking_for_the_account() {
    for (db, settings) in test_setups().await {
        let core = core_for(settings).await;
        let guesser = PlatformAccount::new(Platform::Slack, "T1", "guesser");
        let owner = PlatformAccount::new(Platform::Discord, "", "owner");
        for attempt in 0..5 {
            let reply = say(
                &core,
                command(&guesser, &format!("link AAAA-AAAAA{attempt}"), false),
            )
            .await;
            assert!(reply.contains("not valid"), "{}: {reply}", db.name);
        }
        let real = link_code_in(
            &say(&core, command(&owner, "link start", false)).await,
            "**",
        );
        let refused = say(&core, command(&guesser, &format!("link {real}"), false)).await;
        assert!(
            refused.contains("Too many wrong codes"),
            "{}: {refused}",
            db.name
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn same_workspace_accounts_need_an_admin_and_admins_can_link_and_unlink() {
    for (db, settings) in test_setups().await {
        let core = core_for(settings).await;
        let first = PlatformAccount::new(Platform::Slack, "T1", "U1");
        let second = PlatformAccount::new(Platform::Slack, "T1", "U2");
        let admin = PlatformAccount::new(Platform::Slack, "T1", "UADMIN");

        let code = link_code_in(
            &say(&core, command(&first, "link start", false)).await,
            "**",
        );
        let refused = say(&core, command(&second, &format!("link {code}"), false)).await;
        assert!(
            refused.contains("only be linked by an admin"),
            "{}: {refused}",
            db.name
        );

        let not_admin = say(
            &core,
            command(&second, "admin link slack:T1/U1 slack:T1/U2", false),
        )
        .await;
        assert!(
            not_admin.contains("Only admins"),
            "{}: {not_admin}",
            db.name
        );

        let linked = say(
            &core,
            command(&admin, "admin link slack:T1/U1 slack:T1/U2", true),
        )
        .await;
        assert!(linked.starts_with("Linked"), "{}: {linked}", db.name);
        say(&core, message(&first, "I live in Porto")).await;
        let recalled = say(&core, message(&second, "Where do I live?")).await;
        assert!(recalled.contains("Porto"), "{}: {recalled}", db.name);

        let unlinked = say(&core, command(&admin, "admin unlink slack:T1/U2", true)).await;
        assert!(unlinked.starts_with("Unlinked"), "{}: {unlinked}", db.name);
        let audit = say(&core, command(&admin, "admin audit 50", true)).await;
        for action in ["admin.link", "admin.unlink", "admin_link"] {
            assert!(
                audit.contains(action),
                "{}: audit shows {action}: {audit}",
                db.name
            );
        }
        db.cleanup().await;
    }
}
