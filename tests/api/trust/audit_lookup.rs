//! Audit lookups by account label (`export` reads them, `forget all` redacts them) match whole
//! labels, with LIKE wildcards taken literally: a local user called `%` does not export everyone's
//! entries, and forgetting `desktop:me` leaves `desktop:mega`'s entries as they were.

use crate::common::{self, command, core_for, say, test_setups};
use sea_orm::{EntityTrait, QueryOrder};
use whisperengine::store::accounts::find_account;
use whisperengine::store::entities::audit_log;
use whisperengine_contract::{Platform, PlatformAccount};

fn desktop(user: &str) -> PlatformAccount {
    PlatformAccount::new(Platform::Desktop, "", user)
}

/// Links `first` and `second` with the code flow; the audit entry of the link names both.
async fn link(core: &whisperengine::core::Core, first: &PlatformAccount, second: &PlatformAccount) {
    let started = say(core, command(first, "link start", false)).await;
    let code = common::link_code_in(&started, "**");
    let linked = say(core, command(second, &format!("link {code}"), false)).await;
    assert!(linked.to_lowercase().contains("linked"), "{linked}");
}

/// Every audit entry the export of `account` hands out, as text.
async fn exported_audit(core: &whisperengine::core::Core, account: &PlatformAccount) -> String {
    let identity = find_account(&core.store.db, account)
        .await
        .expect("readable")
        .expect("the account exists")
        .identity_id;
    let document = whisperengine::core::privacy::export::document(&core.store, identity)
        .await
        .expect("exported");
    document["audit"].to_string()
}

async fn all_entries(core: &whisperengine::core::Core) -> Vec<audit_log::Model> {
    audit_log::Entity::find()
        .order_by_asc(audit_log::Column::Id)
        .all(&core.store.db)
        .await
        .expect("readable")
}

#[tokio::test]
async fn export_finds_a_persons_audit_entries_by_whole_label_only() {
    for (db, settings) in test_setups().await {
        let core = core_for(settings).await;
        let percent = desktop("%");
        let underscore = desktop("m_");
        let me = desktop("me");
        let mega = desktop("mega");
        let mega_elsewhere = PlatformAccount::new(Platform::Discord, "", "8002");
        link(&core, &mega, &mega_elsewhere).await;
        say(&core, command(&percent, "whoami", false)).await;
        say(&core, command(&underscore, "whoami", false)).await;
        say(&core, command(&me, "export", false)).await;
        say(&core, command(&percent, "export", false)).await;
        say(&core, command(&underscore, "export", false)).await;

        let of_percent = exported_audit(&core, &percent).await;
        assert!(
            of_percent.contains("desktop:%"),
            "{}: {of_percent}",
            db.name
        );
        assert!(
            !of_percent.contains("desktop:mega") && !of_percent.contains("desktop:me\""),
            "{}: `%` is a name, not a wildcard: {of_percent}",
            db.name
        );
        let of_underscore = exported_audit(&core, &underscore).await;
        assert!(
            !of_underscore.contains("desktop:me"),
            "{}: `_` is a name, not a wildcard: {of_underscore}",
            db.name
        );
        let of_me = exported_audit(&core, &me).await;
        assert!(of_me.contains("desktop:me"), "{}: {of_me}", db.name);
        assert!(
            !of_me.contains("desktop:mega"),
            "{}: `desktop:me` is not `desktop:mega`: {of_me}",
            db.name
        );
        let of_mega = exported_audit(&core, &mega).await;
        assert!(of_mega.contains("desktop:mega"), "{}: {of_mega}", db.name);
    }
}

#[tokio::test]
async fn forgetting_a_person_redacts_their_label_only_not_a_longer_one() {
    for (db, settings) in test_setups().await {
        let core = core_for(settings).await;
        let me = desktop("me");
        let mega = desktop("mega");
        let mega_elsewhere = PlatformAccount::new(Platform::Discord, "", "8003");
        link(&core, &mega, &mega_elsewhere).await;
        say(&core, command(&me, "export", false)).await;
        let before: Vec<audit_log::Model> = all_entries(&core)
            .await
            .into_iter()
            .filter(|entry| {
                entry.actor.contains("desktop:mega")
                    || entry
                        .target
                        .as_deref()
                        .is_some_and(|target| target.contains("desktop:mega"))
            })
            .collect();
        assert!(!before.is_empty(), "{}: mega's entries exist", db.name);

        say(&core, command(&me, "forget all", false)).await;
        let done = say(&core, command(&me, "forget all confirm", false)).await;
        assert!(done.starts_with("Done."), "{}: {done}", db.name);

        let after = all_entries(&core).await;
        for entry in &before {
            let now = after
                .iter()
                .find(|row| row.id == entry.id)
                .expect("entries are never deleted");
            assert_eq!(
                (&now.actor, &now.target, &now.detail),
                (&entry.actor, &entry.target, &entry.detail),
                "{}: mega's entry was changed by forgetting `desktop:me`",
                db.name
            );
        }
        assert!(
            after.iter().all(|row| row.actor != "desktop:me"
                && row.target.as_deref() != Some("desktop:me")),
            "{}: me's own entries are redacted",
            db.name
        );
    }
}
