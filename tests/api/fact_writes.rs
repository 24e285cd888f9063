//! Fact changes through the group-commit writer (`Writer::write_facts`), on SQLite and PostgreSQL:
//! additions get their ids back, a later write of the same call can replace or confirm an earlier
//! addition, and a call whose write fails leaves nothing behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use whisperengine::store::entities::fact;
use whisperengine::store::writer::{FactRef, FactWrite};
use whisperengine_contract::{Platform, PlatformAccount};

fn row(account_id: i64, value: &str) -> Box<fact::ActiveModel> {
    let now = Utc::now();
    Box::new(fact::ActiveModel {
        account_id: Set(account_id),
        subject: Set("user".into()),
        attribute: Set("location".into()),
        value: Set(value.into()),
        confidence: Set(0.8),
        platform: Set("slack".into()),
        scope: Set("T1".into()),
        visibility: Set("dm".into()),
        created_at: Set(now),
        updated_at: Set(now),
        superseded_at: Set(None),
        superseded_by: Set(None),
        ..Default::default()
    })
}

#[tokio::test]
async fn fact_writes_of_one_call_commit_together_and_may_refer_to_each_other() {
    for (db, settings) in common::test_setups().await {
        let core = common::core_for(settings).await;
        let store = &core.store;
        let account = whisperengine::core::identity::resolve_account(
            store,
            &PlatformAccount::new(Platform::Slack, "T1", "U1"),
        )
        .await
        .unwrap();
        let ids = store
            .writer
            .write_facts(vec![
                FactWrite::Add {
                    row: row(account.id.get(), "Lisbon"),
                    replaces: None,
                },
                FactWrite::Add {
                    row: row(account.id.get(), "Porto"),
                    replaces: Some(FactRef::Added(0)),
                },
                FactWrite::Confirm {
                    fact: FactRef::Added(1),
                    confidence: 0.95,
                    updated_at: Utc::now(),
                },
            ])
            .await
            .unwrap();
        assert_eq!(ids.len(), 3, "{}", db.name);
        assert_eq!(ids[1], ids[2], "{}: the confirmation names Porto", db.name);
        let rows = fact::Entity::find()
            .filter(fact::Column::AccountId.eq(account.id))
            .order_by_asc(fact::Column::Id)
            .all(&store.db)
            .await
            .unwrap();
        assert_eq!(rows.len(), 2, "{}", db.name);
        assert_eq!((rows[0].id, rows[1].id), (ids[0], ids[1]), "{}", db.name);
        assert_eq!(rows[0].superseded_by, Some(ids[1]), "{}", db.name);
        assert!(rows[0].superseded_at.is_some(), "{}", db.name);
        assert_eq!(rows[1].superseded_by, None, "{}", db.name);
        assert_eq!(rows[1].confidence, 0.95, "{}", db.name);

        // A write that fails (confirming a fact that does not exist) takes its whole call with it.
        let refused = store
            .writer
            .write_facts(vec![
                FactWrite::Add {
                    row: row(account.id.get(), "Braga"),
                    replaces: None,
                },
                FactWrite::Confirm {
                    fact: FactRef::Stored(i64::MAX),
                    confidence: 0.9,
                    updated_at: Utc::now(),
                },
            ])
            .await;
        assert!(refused.is_err(), "{}", db.name);
        let count = fact::Entity::find()
            .filter(fact::Column::AccountId.eq(account.id))
            .all(&store.db)
            .await
            .unwrap()
            .len();
        assert_eq!(count, 2, "{}: Braga was not kept", db.name);
    }
}
