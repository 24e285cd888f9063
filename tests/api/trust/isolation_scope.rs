//! While an identity is isolated, each of its accounts sees only itself: `sync status`, `conflicts`
//! and `forget <id>` reach nothing of the other accounts.

use crate::common::{self, command, link_by_admin, message, say};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use whisperengine::store::entities::memory;
use whisperengine_contract::{Platform, PlatformAccount};

#[tokio::test]
async fn an_isolated_account_sees_and_forgets_only_its_own() {
    for (db, settings) in common::test_setups().await {
        let core = common::core_for(settings).await;
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U1");
        let discord = PlatformAccount::new(Platform::Discord, "", "4242");
        let admin = PlatformAccount::new(Platform::Slack, "T1", "UADMIN");
        say(&core, message(&slack, "hello")).await;
        say(&core, message(&discord, "hello")).await;
        link_by_admin(&core, &slack, &discord).await;
        // A conflict between the two accounts' values.
        say(
            &core,
            command(&slack, "prefs set timezone Asia/Tokyo", false),
        )
        .await;
        say(
            &core,
            command(&discord, "prefs set timezone Europe/Oslo", false),
        )
        .await;
        say(&core, message(&slack, "My safe word is heliotrope")).await;
        core.store.flush().await;
        let slack_memory = memory::Entity::find()
            .all(&core.store.db)
            .await
            .unwrap()
            .into_iter()
            .find(|row| row.content.contains("heliotrope"))
            .expect("the Slack memory row");
        let before = say(&core, command(&discord, "sync status", false)).await;
        assert!(
            before.contains("slack:T1/U1"),
            "{}: linked: {before}",
            db.name
        );

        let isolated = say(&core, command(&admin, "admin isolate discord:4242", true)).await;
        assert!(isolated.starts_with("Isolated"), "{}: {isolated}", db.name);

        let status = say(&core, command(&discord, "sync status", false)).await;
        assert!(!status.contains("slack:T1/U1"), "{}: {status}", db.name);
        assert!(status.contains("discord:4242"), "{}: {status}", db.name);
        assert!(!status.contains("Conflicts:"), "{}: {status}", db.name);

        let conflicts = say(&core, command(&discord, "conflicts", false)).await;
        assert!(
            !conflicts.contains("Asia/Tokyo"),
            "{}: {conflicts}",
            db.name
        );
        assert!(conflicts.contains("kept apart"), "{}: {conflicts}", db.name);
        let resolve = say(&core, command(&discord, "conflicts resolve 1 1", false)).await;
        assert!(resolve.contains("kept apart"), "{}: {resolve}", db.name);

        let forget = say(
            &core,
            command(&discord, &format!("forget {}", slack_memory.id), false),
        )
        .await;
        assert!(forget.contains("couldn't find"), "{}: {forget}", db.name);
        let still_there = memory::Entity::find()
            .filter(memory::Column::Id.eq(slack_memory.id))
            .one(&core.store.db)
            .await
            .unwrap();
        assert!(
            still_there.is_some(),
            "{}: Discord erased a Slack memory while isolated",
            db.name
        );

        // Released, the same command reaches it again.
        let released = say(&core, command(&admin, "admin release discord:4242", true)).await;
        assert!(
            released.to_lowercase().contains("released"),
            "{}: {released}",
            db.name
        );
        let forget = say(
            &core,
            command(&discord, &format!("forget {}", slack_memory.id), false),
        )
        .await;
        assert!(forget.contains("forgotten"), "{}: {forget}", db.name);
        drop(core);
        db.cleanup().await;
    }
}
