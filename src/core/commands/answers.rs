//! The answers to the commands that report or change something about the caller: `help`,
//! `whoami`, `memory`, `forget <id>`, `privacy`, `sync status`, `conflicts`, `export` and the admin
//! isolation commands.

use crate::config::SyncCategory;
use crate::core::identity;
use crate::core::identity::linking;
use crate::core::privacy::audit::{self, AuditEntry};
use crate::core::privacy::isolation::{self, IsolationTarget};
use crate::core::privacy::preferences;
use crate::core::{Core, Result};
use crate::store::accounts::{self, account_label};
use crate::store::entities::{memory, sync_conflict};
use crate::store::hot::AccountInfo;
use crate::store::ids::AccountId;
use crate::store::kinds::{AuditOutcome, ConflictStatus, MemoryRole};
use chrono::Utc;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use whisperengine_contract::{Card, CommandInvocation, OutboundReply, Visibility};

/// Memories shown per page of `memory`.
const MEMORY_PAGE: u64 = 10;
/// The help text.
pub(super) fn help_text(core: &Core) -> String {
    let mut text = format!(
        "**{}** — here is what you can ask me:\n\
         - `whoami` — who I think you are, your linked accounts and sharing settings\n\
         - `link start` — get a one-time code to link another account of yours (valid {} minutes)\n\
         - `link <code>` — use a code from your other account, so I know you everywhere\n\
         - `unlink <platform>` — stop sharing with that platform's account\n\
         - `memory [page]` — what I remember about you\n\
         - `forget <id>` / `forget all` — make me forget one memory, or everything\n\
         - `export` — a download link to everything I know about you\n\
         - `feedback <1-5> [comment]` — tell us how I'm doing\n\
         - `prefs` / `prefs set <key> <value>` — your preferences (name, pronouns, timezone, language, tone, verbosity)\n\
         - `privacy` / `privacy set <category> on|off` — what is shared between your linked accounts\n\
         - `sync status` — how your accounts and memory are connected\n\
         - `conflicts` / `conflicts resolve <id> 1|2` — settings your accounts disagree on\n",
        core.personality.name,
        linking::CODE_TTL_MINUTES
    );
    text.push_str(
        "Admins: `admin link <account> <account>`, `admin unlink <account>`, `admin audit [n]`, \
         `admin isolate <account|identity id|all>`, `admin release <account|identity id|all>`, \
         `admin cache clear [account|identity id]`.",
    );
    text
}
/// `export` and `forget all` reach every linked account, so they wait while the identity is isolated
/// (an isolation may mean one of its accounts is not in its owner's hands).
pub(super) async fn refuse_while_isolated(
    core: &Core,
    caller: &AccountInfo,
    action: &str,
) -> Result<OutboundReply> {
    let label = account_label(caller);
    audit::record(
        &core.store.db,
        AuditEntry::new(
            &label,
            caller.platform.as_str(),
            action,
            AuditOutcome::Refused,
        )
        .detail("isolated"),
    )
    .await?;
    Ok(OutboundReply::private(
        "Your accounts are isolated by an admin right now, so `export` and `forget all` (which reach \
         every linked account) are paused. `forget <id>` still works; ask an admin if you need more.",
    ))
}

/// `export`: a single-use download link to everything about the caller.
pub(super) async fn export_link(core: &Core, caller: &AccountInfo) -> Result<OutboundReply> {
    let (token, _expires) = crate::core::privacy::export::issue_link(&core.store, caller).await?;
    let base = match &core.settings.public_url {
        Some(url) => url.as_str().trim_end_matches('/').to_string(),
        None => format!("http://{}", core.settings.http_bind),
    };
    Ok(OutboundReply::private(format!(
        "Here is everything I know about you, as one JSON file: {base}/export/{token}\n\
         The link works once, for {} minutes. Don't share it.",
        crate::core::privacy::export::LINK_TTL_MINUTES
    )))
}

/// `admin isolate …` / `admin release …`.
pub(super) async fn admin_isolation(
    core: &Core,
    caller: &AccountInfo,
    target: &IsolationTarget,
    isolate: bool,
) -> Result<OutboundReply> {
    let label = account_label(caller);
    let actor = isolation::Actor {
        label: &label,
        platform: caller.platform.as_str(),
    };
    let answer = isolation::set_isolation(&core.store, actor, target, isolate).await?;
    Ok(OutboundReply::private(
        answer.unwrap_or_else(|refusal| refusal),
    ))
}
pub(super) fn platforms_phrase(accounts: &[AccountInfo]) -> String {
    let mut names: Vec<&str> = accounts.iter().map(|a| a.platform.display_name()).collect();
    names.dedup();
    match names.as_slice() {
        [] => "your accounts".into(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {}", rest.join(", "), last),
    }
}

pub(super) async fn whoami(core: &Core, caller: &AccountInfo) -> Result<OutboundReply> {
    let store = &core.store;
    let _guard = store.hot.lock_identity(caller.identity_id).await;
    let state = preferences::privacy_view(
        &core.settings,
        isolation::origin_view(
            identity::hot_identity(store, caller.identity_id).await?,
            caller,
        ),
        caller.id,
    );
    let accounts: Vec<String> = state
        .accounts
        .iter()
        .map(|account| {
            let name = account
                .display_name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            let here = if account.id == caller.id {
                " ← here"
            } else {
                ""
            };
            format!("{}{name}{here}", account_label(account))
        })
        .collect();
    let shared: Vec<&str> = SyncCategory::ALL
        .iter()
        .filter(|c| preferences::is_shared(&core.settings, &state, **c))
        .map(|c| c.as_str())
        .collect();
    let identity_short = caller.identity_id.to_string()[..8].to_string();
    let sharing = if shared.is_empty() {
        "nothing is shared between accounts".to_string()
    } else {
        shared.join(", ")
    };
    let footer = format!("Linked platforms: {}", platforms_phrase(&state.accounts));
    let card = Card::new("Who you are to me")
        .field("Identity", format!("`{identity_short}`"), true)
        .field("Accounts", accounts.join("\n"), false)
        .field("Shared between accounts", sharing.clone(), false)
        .footer(footer.clone());
    let text =
        format!(
        "You're identity `{identity_short}`.\n**Accounts:**\n{}\n**Shared:** {sharing}\n_{footer}_",
        accounts.iter().map(|a| format!("- {a}")).collect::<Vec<_>>().join("\n")
    );
    Ok(OutboundReply::private(text).with_card(card))
}

pub(super) async fn memory_page(
    core: &Core,
    caller: &AccountInfo,
    invocation: &CommandInvocation,
    page: u64,
) -> Result<OutboundReply> {
    let store = &core.store;
    let state = {
        let _guard = store.hot.lock_identity(caller.identity_id).await;
        identity::hot_identity(store, caller.identity_id).await?
    };
    let state = preferences::privacy_view(&core.settings, state, caller.id);
    let shares = preferences::is_shared(&core.settings, &state, SyncCategory::ConversationHistory);
    let account_ids: Vec<AccountId> = if shares {
        state.accounts.iter().map(|a| a.id).collect()
    } else {
        vec![caller.id]
    };
    let mut query = memory::Entity::find()
        .filter(memory::Column::AccountId.is_in(account_ids))
        .filter(memory::Column::Role.eq(MemoryRole::User));
    // What may be brought up here (the rule of `privacy::visibility::is_origin_visible`).
    let context = &invocation.context;
    let here = || {
        Condition::all()
            .add(memory::Column::Platform.eq(caller.platform.as_str()))
            .add(memory::Column::Scope.eq(context.scope.as_str()))
    };
    match context.visibility {
        Visibility::Dm => {}
        Visibility::Public => {
            query = query.filter(here().add(memory::Column::Visibility.eq("public")));
        }
        Visibility::Private => {
            query = query.filter(
                here().add(
                    Condition::any()
                        .add(memory::Column::Visibility.eq("public"))
                        .add(
                            Condition::all()
                                .add(memory::Column::Visibility.eq("private"))
                                .add(memory::Column::ChannelId.eq(context.channel_id.as_str())),
                        ),
                ),
            );
        }
    }
    let total = query.clone().count(&store.db).await?;
    let rows = query
        .order_by_desc(memory::Column::Importance)
        .order_by_desc(memory::Column::Id)
        .offset((page - 1) * MEMORY_PAGE)
        .limit(MEMORY_PAGE)
        .all(&store.db)
        .await?;
    let pages = total.div_ceil(MEMORY_PAGE).max(1);
    if rows.is_empty() {
        let text = if total == 0 {
            "I don't remember anything about you yet. Tell me about yourself!".to_string()
        } else {
            format!("There is no page {page}; there are {pages}.")
        };
        return Ok(OutboundReply::private(text));
    }
    let now = Utc::now();
    let mut card = Card::new(format!("What I remember ({total})"));
    let mut text = format!("**What I remember about you** (page {page} of {pages}):\n");
    for row in &rows {
        let age = crate::llm::describe_age(row.created_at, now);
        let content = crate::store::crypto::readable(store.cipher.as_deref(), &row.content);
        let line = truncate(&content, 140);
        text.push_str(&format!(
            "- `#{}` {line} _(on {}, {age})_\n",
            row.id, row.platform
        ));
        card = card.field(
            format!("#{} · {} · {age}", row.id, row.platform),
            line,
            false,
        );
    }
    text.push_str("Forget one with `forget <id>`, or everything with `forget all`.");
    let card = card.footer(format!(
        "Page {page} of {pages} · Linked: {}",
        platforms_phrase(&state.accounts)
    ));
    Ok(OutboundReply::private(text).with_card(card))
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

/// `forget <id>`: deletes one of the caller's memories (on any linked account), audited without
/// its content.
pub(super) async fn forget_one(
    core: &Core,
    caller: &AccountInfo,
    id: i64,
) -> Result<OutboundReply> {
    let store = &core.store;
    let _guard = store.hot.lock_identity(caller.identity_id).await;
    // While the identity is isolated, each account reaches only its own memories.
    let account_ids: Vec<AccountId> =
        if isolation::is_isolated(&store.db, caller.identity_id).await? {
            vec![caller.id]
        } else {
            accounts::linked_accounts(&store.db, caller.identity_id)
                .await?
                .iter()
                .map(|a| a.id)
                .collect()
        };
    // The facts that message stated go with it; other processes hear of it in the same commit.
    let transaction = store.db.begin().await?;
    crate::store::changes::record(&transaction, store.origin, &[caller.identity_id]).await?;
    crate::core::memory::facts::forget_stated_in(
        &transaction,
        store.cipher.as_deref(),
        id,
        &account_ids,
    )
    .await?;
    let deleted = memory::Entity::delete_many()
        .filter(memory::Column::Id.eq(id))
        .filter(memory::Column::AccountId.is_in(account_ids))
        .exec(&transaction)
        .await?
        .rows_affected;
    let label = account_label(caller);
    let target = format!("#{id}");
    audit::record(
        &transaction,
        AuditEntry::new(
            &label,
            caller.platform.as_str(),
            "forget",
            if deleted > 0 {
                AuditOutcome::Ok
            } else {
                AuditOutcome::Refused
            },
        )
        .target(&target)
        .detail(format!("{deleted} memories removed")),
    )
    .await?;
    transaction.commit().await?;
    // Drop the hot state first, unsaved emotion included, so the invalidation below cannot write
    // back state that was just changed.
    store.hot.invalidate_identity(caller.identity_id);
    store.invalidate_identities(&[caller.identity_id]).await;
    Ok(OutboundReply::private(if deleted == 0 {
        format!("I couldn't find memory #{id} among your memories. `memory` shows their ids.")
    } else {
        format!("Done. I've forgotten memory #{id}.")
    }))
}

pub(super) async fn privacy(core: &Core, caller: &AccountInfo) -> Result<OutboundReply> {
    let store = &core.store;
    let _guard = store.hot.lock_identity(caller.identity_id).await;
    let state = preferences::privacy_view(
        &core.settings,
        identity::hot_identity(store, caller.identity_id).await?,
        caller.id,
    );
    let mut text = String::from("**What is shared between your linked accounts**\n");
    if !core.settings.cross_platform_sync_enabled {
        text.push_str("_This host has cross-platform sharing turned off, so nothing is shared._\n");
    }
    for category in SyncCategory::ALL {
        let on = preferences::is_shared(&core.settings, &state, category);
        text.push_str(&format!(
            "- `{}`: {}\n",
            category.as_str(),
            if on { "shared" } else { "not shared" }
        ));
    }
    text.push_str("Change one with `privacy set <category> on|off`.");
    Ok(OutboundReply::private(text))
}

pub(super) async fn sync_status(core: &Core, caller: &AccountInfo) -> Result<OutboundReply> {
    let store = &core.store;
    // While the identity is isolated, only this account's own figures.
    let state = {
        let _guard = store.hot.lock_identity(caller.identity_id).await;
        isolation::origin_view(
            identity::hot_identity(store, caller.identity_id).await?,
            caller,
        )
    };
    let mut lines = vec![format!(
        "**Sync status** — shared state in one host: what you say on one linked platform is visible on the others immediately (sharing settings permitting)."
    )];
    for account in &state.accounts {
        let count = memory::Entity::find()
            .filter(memory::Column::AccountId.eq(account.id))
            .filter(memory::Column::Role.eq(MemoryRole::User))
            .count(&store.db)
            .await?;
        let last = memory::Entity::find()
            .filter(memory::Column::AccountId.eq(account.id))
            .order_by_desc(memory::Column::Id)
            .one(&store.db)
            .await?
            .map(|row| crate::llm::describe_age(row.created_at, Utc::now()))
            .unwrap_or_else(|| "never".into());
        lines.push(format!(
            "- {}: {count} messages, last active {last}",
            account_label(account)
        ));
    }
    if state.isolated {
        lines.push(ISOLATED_CONFLICTS.to_string());
    } else {
        let open_conflicts = sync_conflict::Entity::find()
            .filter(sync_conflict::Column::IdentityId.eq(caller.identity_id))
            .filter(sync_conflict::Column::Status.eq(ConflictStatus::Open))
            .count(&store.db)
            .await?;
        let resolved = sync_conflict::Entity::find()
            .filter(sync_conflict::Column::IdentityId.eq(caller.identity_id))
            .filter(sync_conflict::Column::Status.eq(ConflictStatus::Resolved))
            .count(&store.db)
            .await?;
        lines.push(format!(
            "Conflicts: {open_conflicts} open, {resolved} resolved (strategy: {}).",
            preferences::strategy_name(&core.settings)
        ));
    }
    lines.push(format!(
        "Cross-platform sharing: {}. Mood: {}.",
        if core.settings.cross_platform_sync_enabled && !state.isolated {
            "on"
        } else {
            "off"
        },
        state
            .emotion
            .as_ref()
            .map_or("not read yet".to_string(), |e| e.mood.clone())
    ));
    if let Some(line) = crate::core::ops::lifecycle::expiry_line(core, caller.identity_id).await? {
        lines.push(line);
    }
    let limits = core.tuner.limits(&core.settings, caller.platform);
    let profile = core.settings.profile(caller.platform);
    lines.push(format!(
        "Context per reply on {}: up to {} memories and {} recent turns ({}); your mood is saved {}.",
        caller.platform.display_name(),
        limits.memories,
        limits.history_turns,
        if core.settings.adaptive_performance_tuning {
            format!(
                "adaptive tuning on: {:.0}% of the configured context to stay within {} ms",
                core.tuner.scale(caller.platform) * 100.0,
                profile.response_target.as_millis()
            )
        } else {
            "adaptive tuning off".to_string()
        },
        match profile.emotion_writes {
            crate::config::EmotionWrites::Realtime => "with each message",
            crate::config::EmotionWrites::Batched => "with the next periodic sync",
        }
    ));
    lines.push(format!(
        "Storage: {} · cache across processes: {}.",
        if store.backend() == sea_orm::DbBackend::Postgres {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        match &store.cache {
            Some(cache) if cache.ping().await.is_ok() => "Redis (connected)",
            Some(_) => "Redis (unreachable: running on SQL alone)",
            None => "none (single process)",
        }
    ));
    Ok(OutboundReply::private(lines.join("\n")))
}

/// What `conflicts` and `sync status` say while the identity is isolated: a conflict shows the
/// values set on the other accounts.
pub(super) const ISOLATED_CONFLICTS: &str =
    "Your accounts are kept apart for now, so conflicts between them are not shown or resolved here.";

/// `conflicts`: what is waiting for the person's choice, and what was resolved lately.
pub(super) async fn conflicts(core: &Core, caller: &AccountInfo) -> Result<OutboundReply> {
    if isolation::is_isolated(&core.store.db, caller.identity_id).await? {
        return Ok(OutboundReply::private(ISOLATED_CONFLICTS));
    }
    let (open, resolved) = preferences::list_conflicts(&core.store, caller.identity_id, 5).await?;
    let mut text = format!(
        "**Conflicts** (strategy: {}):\n",
        preferences::strategy_name(&core.settings)
    );
    if open.is_empty() {
        text.push_str("Nothing is waiting for your choice.\n");
    }
    for conflict in &open {
        text.push_str(&format!(
            "- `#{}` `{}`: 1 = `{}` (in effect, set on {}) · 2 = `{}` (set on {}) — `conflicts resolve {} 1|2`\n",
            conflict.id,
            conflict.key,
            conflict.kept_value,
            conflict.kept_platform,
            conflict.other_value,
            conflict.other_platform,
            conflict.id
        ));
    }
    if !resolved.is_empty() {
        text.push_str("Recently resolved:\n");
        for conflict in &resolved {
            text.push_str(&format!(
                "- `#{}` `{}`: {}\n",
                conflict.id,
                conflict.key,
                conflict.resolution.clone().unwrap_or_default()
            ));
        }
    }
    Ok(OutboundReply::private(text.trim_end().to_string()))
}
