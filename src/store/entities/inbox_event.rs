//! `inbox_event`: acknowledged platform events not finished yet (see [`crate::core::turn::inbox`]).

use sea_orm::entity::prelude::*;

/// One acknowledged event. `payload` and `reply` are sealed under DATA_ENCRYPTION_KEY when it is
/// set; `created_at` is Unix milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inbox_event")]
pub struct Model {
    #[sea_orm(
        primary_key,
        auto_increment = false,
        column_type = "String(StringLen::N(36))"
    )]
    pub id: String,
    /// Which connector's replayer rebuilds the job (`slack.event`, `slack.command`, `teams`).
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// The reply, once the turn that answers it is committed (JSON of an `OutboundReply`).
    #[sea_orm(column_type = "Text", nullable)]
    pub reply: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(36))")]
    /// The host process running it (`store.origin`); empty once given back.
    pub owner: String,
    pub attempts: i32,
    /// Set aside: failed too often or unreadable; never run again.
    pub parked: bool,
    pub created_at: i64,
    /// Who sent it (the platform account its connector read from the payload), so `forget all`
    /// and `export` find it; `None` when the payload names nobody or the row predates the column.
    #[sea_orm(column_type = "String(StringLen::N(16))", nullable)]
    pub author_platform: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(256))", nullable)]
    pub author_scope: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(256))", nullable)]
    pub author_user_id: Option<String>,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
