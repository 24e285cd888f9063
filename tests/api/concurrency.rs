//! Two platforms writing for the same person at once: nothing is lost, each platform's order is kept,
//! and user messages and replies never interleave within a conversation.

use crate::common;

use common::{command, core_for, link_code_in, message, say, test_setups};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use whisperengine::store::entities::memory;
use whisperengine_contract::{Platform, PlatformAccount};

const PER_PLATFORM: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_platforms_writing_for_one_identity_at_once_lose_nothing_and_keep_order() {
    for (db, settings) in test_setups().await {
        let core = core_for(settings).await;
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U1");
        let discord = PlatformAccount::new(Platform::Discord, "", "99");
        let reply = say(&core, command(&slack, "link start", false)).await;
        let code = link_code_in(&reply, "**");
        assert!(
            say(&core, command(&discord, &format!("link {code}"), false))
                .await
                .starts_with("Linked!")
        );

        let writers: Vec<_> = [slack.clone(), discord.clone()]
            .into_iter()
            .map(|account| {
                let core = core.clone();
                tokio::spawn(async move {
                    for index in 0..PER_PLATFORM {
                        let text = format!("{} message {index}", account.platform);
                        let reply = say(&core, message(&account, &text)).await;
                        assert!(!reply.is_empty(), "every message is answered");
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.expect("writer finished");
        }

        for account in [&slack, &discord] {
            let info = whisperengine::store::accounts::find_account(&core.store.db, account)
                .await
                .expect("query")
                .expect("account exists");
            let rows = memory::Entity::find()
                .filter(memory::Column::AccountId.eq(info.id))
                .order_by_asc(memory::Column::Id)
                .all(&core.store.db)
                .await
                .expect("memories readable");
            assert_eq!(
                rows.len(),
                2 * PER_PLATFORM,
                "{}: every message and reply stored",
                db.name
            );
            let user_texts: Vec<String> = rows
                .iter()
                .filter(|row| row.role == "user")
                .map(|row| row.content.clone())
                .collect();
            let expected: Vec<String> = (0..PER_PLATFORM)
                .map(|index| format!("{} message {index}", account.platform))
                .collect();
            assert_eq!(
                user_texts, expected,
                "{}: {} order kept",
                db.name, account.platform
            );
            let roles: Vec<&str> = rows.iter().map(|row| row.role.as_str()).collect();
            assert!(
                roles.chunks(2).all(|pair| pair == ["user", "companion"]),
                "{}: each message is followed by its reply",
                db.name
            );
        }
        db.cleanup().await;
    }
}
