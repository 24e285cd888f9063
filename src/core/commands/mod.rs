//! The command set every platform shares. Connectors only map their way of invoking a command
//! (slash commands, `/whisper …`, typed text, `/…` locally) to a [`CommandInvocation`]; parsing,
//! permission checks and the answers live here.
//!
//! - [`parse`](mod@parse): the [`parse::Command`] set and the parser that reads an invocation.
//! - `answers`: the answer of each command that reports or changes something about the caller.
//!
//! [`handle_command`] is the entry point: dedupe, parse, permission and visibility checks, then the
//! dispatch to the answer.

mod answers;
pub mod parse;

use crate::core::identity;
use crate::core::identity::linking;
use crate::core::privacy::audit::{self, AuditEntry};
use crate::core::privacy::{erasure, isolation, preferences};
use crate::core::turn::pipeline;
use crate::core::{Core, Result};
use crate::store::accounts::{self, account_label};
use crate::store::entities::processed_event;
use crate::store::hot::AccountInfo;
use crate::store::ids::IdentityId;
use crate::store::kinds::AuditOutcome;
use crate::store::writer::WriteJob;
use crate::telemetry::names;
use answers::{
    admin_isolation, conflicts, export_link, forget_one, help_text, memory_page, platforms_phrase,
    privacy, refuse_while_isolated, sync_status, whoami, ISOLATED_CONFLICTS,
};
use chrono::Utc;
use parse::{parse, Command, ForgetTarget};
use sea_orm::Set;
use whisperengine_contract::{
    Capabilities, CommandInvocation, HandlerOutcome, OutboundReply, PlatformAccount, Visibility,
};

/// Runs one command.
pub async fn handle_command(
    core: &Core,
    invocation: CommandInvocation,
    capabilities: Capabilities,
) -> Result<HandlerOutcome> {
    let platform = invocation.invoker.platform;
    let is_new = match pipeline::dedupe(core, platform, &invocation.event_id).await {
        Ok(is_new) => is_new,
        Err(error) => {
            pipeline::forget_event(core, platform, &invocation.event_id).await;
            return Err(error);
        }
    };
    if !is_new {
        metrics::counter!(names::DUPLICATES, "platform" => platform.as_str()).increment(1);
        return Ok(HandlerOutcome::Duplicate);
    }
    let event_id = invocation.event_id.to_string();
    // The processed mark is written once the command has run: a command whose process stopped
    // mid-run (or whose run failed) leaves none, so the taking-over process or the platform's
    // retry runs it instead of dropping it as a duplicate.
    // Boxed: the commands' future is large, and callers run it on small test-thread stacks too.
    let outcome = match Box::pin(answer_command(core, invocation, capabilities)).await {
        Ok(outcome) => outcome,
        Err(error) => {
            pipeline::forget_event(core, platform, &event_id).await;
            return Err(error);
        }
    };
    let marked = core
        .store
        .writer
        .write(WriteJob {
            processed_events: vec![processed_event::ActiveModel {
                platform: Set(platform.as_str().to_string()),
                event_id: Set(event_id.clone()),
                created_at: Set(Utc::now()),
            }],
            ..WriteJob::default()
        })
        .await;
    if let Err(error) = marked {
        // It ran; without its mark a redelivery may run it again, which beats losing the answer.
        tracing::warn!(%error, "command ran but its processed mark was not written");
    }
    Ok(outcome)
}

/// Parses, checks and runs a command that is not a duplicate.
async fn answer_command(
    core: &Core,
    invocation: CommandInvocation,
    capabilities: Capabilities,
) -> Result<HandlerOutcome> {
    let platform = invocation.invoker.platform;
    let command = match parse(&invocation.name, &invocation.args) {
        Ok(command) => command,
        Err(usage) => return Ok(HandlerOutcome::Reply(OutboundReply::private(usage))),
    };
    metrics::counter!(names::COMMANDS, "command" => command.metric_name()).increment(1);
    let caller = identity::resolve_account(&core.store, &invocation.invoker).await?;
    if command.is_admin() && !invocation.invoker_is_admin {
        audit::record(
            &core.store.db,
            AuditEntry {
                actor: &account_label(&caller),
                actor_platform: platform.as_str(),
                action: command.metric_name(),
                target: None,
                outcome: AuditOutcome::Refused,
                detail: Some("not an admin".into()),
            },
        )
        .await?;
        return Ok(HandlerOutcome::Reply(OutboundReply::private(
            "Only admins can do that.",
        )));
    }
    // Personal answers (codes, links, memories, settings) go only to a 1:1 DM or an ephemeral
    // message: in a group chat every member would read them, and the first to use a link code or
    // an export link would win.
    let is_personal = !matches!(command, Command::Help);
    if is_personal
        && invocation.context.visibility != Visibility::Dm
        && !capabilities.supports_ephemeral
    {
        return Ok(HandlerOutcome::Reply(OutboundReply::text(
            "That answer is personal, so let's keep it between us: ask me in a direct message.",
        )));
    }
    let reply = run(core, &caller, &invocation, command).await?;
    Ok(HandlerOutcome::Reply(OutboundReply {
        ephemeral: is_personal,
        ..reply
    }))
}

async fn run(
    core: &Core,
    caller: &AccountInfo,
    invocation: &CommandInvocation,
    command: Command,
) -> Result<OutboundReply> {
    let store = &core.store;
    match command {
        Command::Help => Ok(OutboundReply::text(help_text(core))),
        Command::WhoAmI => whoami(core, caller).await,
        Command::LinkStart => {
            let issued = linking::start(store, caller).await?;
            Ok(OutboundReply::private(format!(
                "Your link code is **{}**. On your other account, say `link {}` within {} minutes. \
                 It works once; don't share it with anyone else.",
                issued.code,
                issued.code,
                linking::CODE_TTL_MINUTES
            )))
        }
        Command::LinkRedeem(code) => match linking::redeem(store, caller, &code).await? {
            Ok(_) => {
                let accounts = accounts::linked_accounts(
                    &store.db,
                    caller.identity_id_after_link(store).await?,
                )
                .await?;
                Ok(OutboundReply::private(format!(
                    "Linked! I now know you as one person across {}. What you tell me on one, I remember on the others (you control this with `privacy`).",
                    platforms_phrase(&accounts)
                )))
            }
            Err(refusal) => Ok(OutboundReply::private(refusal.to_string())),
        },
        Command::Unlink(platform) => {
            match linking::unlink_platform(store, caller, platform).await? {
                Ok(accounts) => Ok(OutboundReply::private(format!(
                "Unlinked {}. Each keeps its own history; nothing is shared between them any more.",
                accounts.iter().map(account_label).collect::<Vec<_>>().join(", ")
            ))),
                Err(refusal) => Ok(OutboundReply::private(refusal.to_string())),
            }
        }
        Command::Memory { page } => memory_page(core, caller, invocation, page).await,
        Command::Export if isolation::is_isolated(&store.db, caller.identity_id).await? => {
            refuse_while_isolated(core, caller, "export").await
        }
        Command::Forget(ForgetTarget::All | ForgetTarget::AllConfirmed)
            if isolation::is_isolated(&store.db, caller.identity_id).await? =>
        {
            refuse_while_isolated(core, caller, "forget.all").await
        }
        Command::Forget(ForgetTarget::All) => Ok(OutboundReply::private(
            erasure::request_forget_all(store, caller).await?,
        )),
        Command::Forget(ForgetTarget::AllConfirmed) => {
            let answer = erasure::confirm_forget_all(store, caller).await?;
            if let Some(semantic) = &core.semantic {
                semantic.forget_identity(caller.identity_id);
            }
            Ok(OutboundReply::private(answer))
        }
        Command::Forget(ForgetTarget::One(id)) => forget_one(core, caller, id).await,
        Command::Prefs => {
            let _guard = store.hot.lock_identity(caller.identity_id).await;
            let state = isolation::origin_view(
                identity::hot_identity(store, caller.identity_id).await?,
                caller,
            );
            let effective = preferences::effective(&core.settings, &state);
            let mut text = String::from("**Your preferences**\n");
            for (key, meaning) in preferences::KNOWN_KEYS {
                match effective.get(*key) {
                    Some((value, platform)) => {
                        text.push_str(&format!("- `{key}`: {value} _(set on {platform})_\n"))
                    }
                    None => text.push_str(&format!("- `{key}`: not set — {meaning}\n")),
                }
            }
            text.push_str("Change one with `prefs set <key> <value>`.");
            Ok(OutboundReply::private(text))
        }
        Command::PrefsSet { key, value } => {
            let _guard = store.hot.lock_identity(caller.identity_id).await;
            let state = identity::hot_identity(store, caller.identity_id).await?;
            let note =
                preferences::set(store, &core.settings, caller, &state, &key, &value).await?;
            let mut text = format!("Saved: `{key}` = {value}.");
            if let Some(note) = note {
                text.push(' ');
                text.push_str(&note);
            }
            Ok(OutboundReply::private(text))
        }
        Command::Privacy => privacy(core, caller).await,
        Command::PrivacySet { category, on } => {
            let _guard = store.hot.lock_identity(caller.identity_id).await;
            let state = identity::hot_identity(store, caller.identity_id).await?;
            let key = format!("{}{}", preferences::PRIVACY_PREFIX, category.as_str());
            preferences::set(
                store,
                &core.settings,
                caller,
                &state,
                &key,
                if on { "on" } else { "off" },
            )
            .await?;
            let mut text = format!(
                "`{}` is now **{}** between your linked accounts.",
                category.as_str(),
                if on { "shared" } else { "not shared" }
            );
            if !core.settings.cross_platform_sync_enabled {
                text.push_str(
                    " (Note: this host has cross-platform sharing turned off for everyone.)",
                );
            }
            Ok(OutboundReply::private(text))
        }
        Command::SyncStatus if invocation.invoker_is_admin => {
            let mine = sync_status(core, caller).await?;
            let host = crate::core::ops::kpi::host_figures(core).await?;
            Ok(OutboundReply::private(format!("{}\n{host}", mine.text)))
        }
        Command::SyncStatus => sync_status(core, caller).await,
        Command::Conflicts => conflicts(core, caller).await,
        Command::ConflictsResolve { .. }
            if isolation::is_isolated(&store.db, caller.identity_id).await? =>
        {
            Ok(OutboundReply::private(ISOLATED_CONFLICTS))
        }
        Command::ConflictsResolve { id, choice } => {
            let _guard = store.hot.lock_identity(caller.identity_id).await;
            let state = identity::hot_identity(store, caller.identity_id).await?;
            let resolution = resolve_conflict(
                store,
                caller,
                &state,
                id,
                &choice,
                preferences::Resolver::Person,
            )
            .await?;
            Ok(OutboundReply::private(resolution.text))
        }
        Command::AdminConflictsResolve { id, choice } => {
            admin_resolve_conflict(store, caller, id, &choice).await
        }
        Command::AdminLink(first, second) => {
            let first = identity::resolve_account(store, &first).await?;
            let second = identity::resolve_account(store, &second).await?;
            Ok(OutboundReply::private(
                match linking::admin_link(store, caller, &first, &second).await? {
                    Ok(_) => format!(
                        "Linked {} and {}.",
                        account_label(&first),
                        account_label(&second)
                    ),
                    Err(refusal) => refusal.to_string(),
                },
            ))
        }
        Command::AdminUnlink(account) => {
            let Some(account) = accounts::find_account(&store.db, &account).await? else {
                return Ok(OutboundReply::private(format!(
                    "I don't know the account {account}."
                )));
            };
            Ok(OutboundReply::private(
                match linking::admin_unlink(store, caller, &account).await? {
                    Ok(_) => format!("Unlinked {}.", account_label(&account)),
                    Err(refusal) => refusal.to_string(),
                },
            ))
        }
        Command::Export => export_link(core, caller).await,
        Command::Feedback { score, comment } => {
            crate::core::ops::maintenance::record_feedback(store, caller, score, comment).await?;
            Ok(OutboundReply::private(format!(
                "Thank you! I've noted your {score}/5."
            )))
        }
        Command::AdminCacheClear(target) => {
            let label = account_label(caller);
            let actor = isolation::Actor {
                label: &label,
                platform: caller.platform.as_str(),
            };
            let answer = crate::core::ops::maintenance::clear_cache(store, actor, &target).await?;
            Ok(OutboundReply::private(
                answer.unwrap_or_else(|refusal| refusal),
            ))
        }
        Command::AdminIsolate(target) => admin_isolation(core, caller, &target, true).await,
        Command::AdminRelease(target) => admin_isolation(core, caller, &target, false).await,
        Command::AdminAudit(count) => {
            audit::record(
                &store.db,
                AuditEntry {
                    actor: &account_label(caller),
                    actor_platform: caller.platform.as_str(),
                    action: "admin.audit",
                    target: None,
                    outcome: AuditOutcome::Ok,
                    detail: Some(format!("read {count}")),
                },
            )
            .await?;
            let entries = audit::latest(&store.db, count).await?;
            let mut text = format!("**Audit log** (latest {}):\n", entries.len());
            for entry in entries {
                text.push_str(&format!(
                    "- {} `{}` {} {}{}{}\n",
                    entry.at.format("%Y-%m-%d %H:%M:%S"),
                    entry.action,
                    entry.outcome,
                    entry.actor,
                    entry.target.map(|t| format!(" → {t}")).unwrap_or_default(),
                    entry.detail.map(|d| format!(" ({d})")).unwrap_or_default(),
                ));
            }
            Ok(OutboundReply::private(text))
        }
    }
}
impl AccountInfo {
    /// The identity this account points at now (after a link it may have changed).
    async fn identity_id_after_link(&self, store: &crate::store::Store) -> Result<IdentityId> {
        let account = PlatformAccount::new(self.platform, &self.scope, &self.user_id);
        Ok(accounts::find_account(&store.db, &account)
            .await?
            .map_or(self.identity_id, |found| found.identity_id))
    }
}

/// `admin conflicts resolve <id> <choice>`: an operator settles open conflict `id` of whoever it
/// belongs to, as that person would (`conflicts resolve`), audited.
async fn admin_resolve_conflict(
    store: &crate::store::Store,
    admin: &AccountInfo,
    id: i64,
    choice: &str,
) -> Result<OutboundReply> {
    use crate::store::entities::sync_conflict;
    use sea_orm::EntityTrait;
    let conflict = sync_conflict::Entity::find_by_id(id).one(&store.db).await?;
    let owner = match &conflict {
        Some(conflict) => accounts::linked_accounts(&store.db, conflict.identity_id.into())
            .await?
            .into_iter()
            .next(),
        None => None,
    };
    let (Some(conflict), Some(owner)) = (conflict, owner) else {
        return Ok(OutboundReply::private(format!(
            "There is no conflict #{id}."
        )));
    };
    let resolution = {
        let _guard = store.hot.lock_identity(owner.identity_id).await;
        let state = identity::hot_identity(store, owner.identity_id).await?;
        resolve_conflict(
            store,
            &owner,
            &state,
            id,
            choice,
            preferences::Resolver::Admin,
        )
        .await?
    };
    let identity = conflict.identity_id.to_string();
    audit::record(
        &store.db,
        AuditEntry {
            actor: &account_label(admin),
            actor_platform: admin.platform.as_str(),
            action: "admin.conflicts.resolve",
            target: Some(&identity),
            outcome: if resolution.done {
                AuditOutcome::Ok
            } else {
                AuditOutcome::Refused
            },
            detail: Some(format!("#{id} {}", conflict.key)),
        },
    )
    .await?;
    Ok(OutboundReply::private(resolution.text))
}

/// Resolves conflict `id` of the caller's identity, a preference's or a fact's.
async fn resolve_conflict(
    store: &crate::store::Store,
    caller: &AccountInfo,
    state: &crate::store::hot::IdentityHot,
    id: i64,
    choice: &str,
    by: preferences::Resolver,
) -> Result<preferences::Resolution> {
    use crate::store::entities::sync_conflict;
    use crate::store::kinds::ConflictKind;
    use sea_orm::EntityTrait;
    let kind = sync_conflict::Entity::find_by_id(id)
        .one(&store.db)
        .await?
        .map(|row| row.kind);
    if kind.as_deref() == Some(ConflictKind::Fact.as_str()) {
        crate::core::memory::facts::conflicts::resolve(store, caller, state, id, choice, by).await
    } else {
        preferences::resolve(store, caller, state, id, choice, by).await
    }
}
