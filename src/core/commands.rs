//! The command set every platform shares. Connectors only map their way of invoking a command
//! (slash commands, `/whisper …`, typed text, `/…` locally) to a [`CommandInvocation`]; parsing,
//! permission checks and the answers live here.

use crate::config::SyncCategory;
use crate::core::audit::{self, AuditEntry};
use crate::core::erasure;
use crate::core::identity::{self, account_label};
use crate::core::isolation::{self, IsolationTarget};
use crate::core::linking::{self, display_code};
use crate::core::{pipeline, preferences, Core, Result};
use crate::store::entities::{memory, processed_event, sync_conflict};
use crate::store::hot::AccountInfo;
use crate::store::writer::WriteJob;
use crate::telemetry::names;
use chrono::Utc;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use whisperengine_contract::{
    Capabilities, Card, CommandInvocation, HandlerOutcome, OutboundReply, Platform,
    PlatformAccount, Visibility,
};

/// Memories shown per page of `memory`.
const MEMORY_PAGE: u64 = 10;

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    WhoAmI,
    LinkStart,
    LinkRedeem(String),
    Unlink(Platform),
    Memory { page: u64 },
    Forget(ForgetTarget),
    Prefs,
    PrefsSet { key: String, value: String },
    Privacy,
    PrivacySet { category: SyncCategory, on: bool },
    SyncStatus,
    Conflicts,
    ConflictsResolve { id: i64, choice: String },
    AdminLink(PlatformAccount, PlatformAccount),
    AdminUnlink(PlatformAccount),
    AdminAudit(u64),
    Export,
    Feedback { score: u8, comment: Option<String> },
    AdminIsolate(IsolationTarget),
    AdminCacheClear(IsolationTarget),
    AdminRelease(IsolationTarget),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForgetTarget {
    One(i64),
    /// `forget all`: asks for the confirmation.
    All,
    /// `forget all confirm`: erases the identity everywhere.
    AllConfirmed,
}

impl Command {
    /// Whether only admins may run it.
    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Command::AdminLink(..)
                | Command::AdminUnlink(_)
                | Command::AdminAudit(_)
                | Command::AdminIsolate(_)
                | Command::AdminRelease(_)
                | Command::AdminCacheClear(_)
        )
    }

    /// A short name for metrics.
    pub fn metric_name(&self) -> &'static str {
        match self {
            Command::Help => "help",
            Command::WhoAmI => "whoami",
            Command::LinkStart => "link_start",
            Command::LinkRedeem(_) => "link_redeem",
            Command::Unlink(_) => "unlink",
            Command::Memory { .. } => "memory",
            Command::Forget(_) => "forget",
            Command::Prefs | Command::PrefsSet { .. } => "prefs",
            Command::Privacy | Command::PrivacySet { .. } => "privacy",
            Command::SyncStatus => "sync_status",
            Command::Conflicts | Command::ConflictsResolve { .. } => "conflicts",
            Command::AdminLink(..) => "admin_link",
            Command::AdminUnlink(_) => "admin_unlink",
            Command::AdminAudit(_) => "admin_audit",
            Command::Export => "export",
            Command::Feedback { .. } => "feedback",
            Command::AdminCacheClear(_) => "admin_cache_clear",
            Command::AdminIsolate(_) => "admin_isolate",
            Command::AdminRelease(_) => "admin_release",
        }
    }
}

/// Reads a command name and its arguments; the error is the usage line to show.
pub fn parse(name: &str, args: &[String]) -> std::result::Result<Command, String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let name = name.trim_start_matches('/').to_ascii_lowercase();
    match (name.as_str(), args.as_slice()) {
        ("help" | "start", _) => Ok(Command::Help),
        ("whoami", []) => Ok(Command::WhoAmI),
        ("link", ["start"]) => Ok(Command::LinkStart),
        ("link", ["code", code]) | ("link", [code]) => Ok(Command::LinkRedeem(code.to_string())),
        ("link", [first, second]) if first.len() + second.len() <= 12 => {
            Ok(Command::LinkRedeem(format!("{first}{second}")))
        }
        ("link", _) => Err("Usage: `link start` (get a code) or `link <code>` (use a code from your other account).".into()),
        ("unlink", [platform]) => platform
            .parse()
            .map(Command::Unlink)
            .map_err(|error| format!("{error}. Usage: `unlink <discord|slack|teams|desktop>`.")),
        ("unlink", _) => Err("Usage: `unlink <discord|slack|teams|desktop>`.".into()),
        ("memory" | "memories", []) => Ok(Command::Memory { page: 1 }),
        ("memory" | "memories", [page]) => page
            .parse::<u64>()
            .ok()
            .filter(|page| *page >= 1)
            .map(|page| Command::Memory { page })
            .ok_or_else(|| "Usage: `memory [page]` with a page number from 1.".into()),
        ("forget", ["all"]) => Ok(Command::Forget(ForgetTarget::All)),
        ("forget", ["all", "confirm"]) => Ok(Command::Forget(ForgetTarget::AllConfirmed)),
        ("forget", [id]) => id
            .trim_start_matches('#')
            .parse::<i64>()
            .map(|id| Command::Forget(ForgetTarget::One(id)))
            .map_err(|_| "Usage: `forget <id>` (ids are shown by `memory`) or `forget all`.".into()),
        ("forget", _) => Err("Usage: `forget <id>` (ids are shown by `memory`) or `forget all`.".into()),
        ("prefs" | "preferences", []) => Ok(Command::Prefs),
        ("prefs" | "preferences", ["set", key, value @ ..]) if !value.is_empty() => {
            let key = key.to_ascii_lowercase();
            let value = value.join(" ");
            preferences::validate(&key, &value)?;
            Ok(Command::PrefsSet { key, value })
        }
        ("prefs" | "preferences", _) => Err("Usage: `prefs` or `prefs set <key> <value>`.".into()),
        ("privacy", []) => Ok(Command::Privacy),
        ("privacy", ["set", category, switch]) => {
            let category: SyncCategory = category.parse().map_err(|_| {
                let names: Vec<&str> = SyncCategory::ALL.iter().map(|c| c.as_str()).collect();
                format!("Unknown category `{category}`. Categories: {}.", names.join(", "))
            })?;
            let on = match switch.to_ascii_lowercase().as_str() {
                "on" | "true" | "yes" => true,
                "off" | "false" | "no" => false,
                _ => return Err("Usage: `privacy set <category> on|off`.".into()),
            };
            Ok(Command::PrivacySet { category, on })
        }
        ("privacy", _) => Err("Usage: `privacy` or `privacy set <category> on|off`.".into()),
        ("sync", ["status"]) | ("sync", []) | ("status", []) => Ok(Command::SyncStatus),
        ("sync", _) => Err("Usage: `sync status`.".into()),
        ("conflicts" | "conflict", []) => Ok(Command::Conflicts),
        ("conflicts" | "conflict", ["resolve", id, choice @ ..]) if !choice.is_empty() => id
            .trim_start_matches('#')
            .parse::<i64>()
            .map(|id| Command::ConflictsResolve { id, choice: choice.join(" ") })
            .map_err(|_| "Usage: `conflicts resolve <id> <1|2>` (ids are shown by `conflicts`).".into()),
        ("conflicts" | "conflict", _) => Err("Usage: `conflicts` or `conflicts resolve <id> <1|2>`.".into()),
        ("admin", ["link", first, second]) => Ok(Command::AdminLink(
            parse_account(first)?,
            parse_account(second)?,
        )),
        ("admin", ["unlink", account]) => Ok(Command::AdminUnlink(parse_account(account)?)),
        ("admin", ["audit"]) => Ok(Command::AdminAudit(20)),
        ("admin", ["audit", count]) => count
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .map(Command::AdminAudit)
            .ok_or_else(|| "Usage: `admin audit [n]` with n from 1 to 200.".into()),
        ("export", []) => Ok(Command::Export),
        ("export", _) => Err("Usage: `export` (a download link to everything I know about you).".into()),
        ("feedback", args) => crate::core::maintenance::parse_feedback(args)
            .map(|(score, comment)| Command::Feedback { score, comment }),
        ("admin", ["cache", "clear"]) => Ok(Command::AdminCacheClear(IsolationTarget::All)),
        ("admin", ["cache", "clear", target]) => {
            IsolationTarget::parse(target).map(Command::AdminCacheClear)
        }
        ("admin", ["isolate", target]) => IsolationTarget::parse(target).map(Command::AdminIsolate),
        ("admin", ["release", target]) => IsolationTarget::parse(target).map(Command::AdminRelease),
        ("admin", _) => Err("Usage: `admin link <account> <account>`, `admin unlink <account>`, `admin audit [n]`, `admin isolate <account|identity id|all>`, `admin release <account|identity id|all>`, `admin cache clear [account|identity id]`. Accounts look like `slack:T0123/U0456` or `discord:80351110224678912`.".into()),
        (other, _) => Err(format!("I don't know the command `{other}`. Try `help`.")),
    }
}

fn parse_account(text: &str) -> std::result::Result<PlatformAccount, String> {
    text.parse().map_err(|error| format!("{error}"))
}

/// The help text.
pub fn help_text(core: &Core) -> String {
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

/// Runs one command.
pub async fn handle_command(
    core: &Core,
    invocation: CommandInvocation,
    capabilities: Capabilities,
) -> Result<HandlerOutcome> {
    let platform = invocation.invoker.platform;
    if !pipeline::dedupe(core, platform, &invocation.event_id).await? {
        metrics::counter!(names::DUPLICATES, "platform" => platform.as_str()).increment(1);
        return Ok(HandlerOutcome::Duplicate);
    }
    core.store
        .writer
        .write(WriteJob {
            processed_events: vec![processed_event::ActiveModel {
                platform: Set(platform.as_str().to_string()),
                event_id: Set(invocation.event_id.clone()),
                created_at: Set(Utc::now()),
            }],
            ..WriteJob::default()
        })
        .await?;
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
                outcome: "refused",
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
                display_code(&issued.code),
                display_code(&issued.code),
                linking::CODE_TTL_MINUTES
            )))
        }
        Command::LinkRedeem(code) => match linking::redeem(store, caller, &code).await? {
            Ok(_) => {
                let accounts = identity::linked_accounts(
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
            let host = crate::core::kpi::host_figures(core).await?;
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
            let text = preferences::resolve(store, caller, &state, id, &choice).await?;
            Ok(OutboundReply::private(text))
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
            let Some(account) = identity::find_account(&store.db, &account).await? else {
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
            crate::core::maintenance::record_feedback(store, caller, score, comment).await?;
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
            let answer = crate::core::maintenance::clear_cache(store, actor, &target).await?;
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
                    outcome: "ok",
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

/// `export` and `forget all` reach every linked account, so they wait while the identity is isolated
/// (an isolation may mean one of its accounts is not in its owner's hands).
async fn refuse_while_isolated(
    core: &Core,
    caller: &AccountInfo,
    action: &str,
) -> Result<OutboundReply> {
    let label = account_label(caller);
    audit::record(
        &core.store.db,
        AuditEntry::new(&label, caller.platform.as_str(), action, "refused").detail("isolated"),
    )
    .await?;
    Ok(OutboundReply::private(
        "Your accounts are isolated by an admin right now, so `export` and `forget all` (which reach \
         every linked account) are paused. `forget <id>` still works; ask an admin if you need more.",
    ))
}

/// `export`: a single-use download link to everything about the caller.
async fn export_link(core: &Core, caller: &AccountInfo) -> Result<OutboundReply> {
    let (token, _expires) = crate::core::export::issue_link(&core.store, caller).await?;
    let base = match &core.settings.public_url {
        Some(url) => url.as_str().trim_end_matches('/').to_string(),
        None => format!("http://{}", core.settings.http_bind),
    };
    Ok(OutboundReply::private(format!(
        "Here is everything I know about you, as one JSON file: {base}/export/{token}\n\
         The link works once, for {} minutes. Don't share it.",
        crate::core::export::LINK_TTL_MINUTES
    )))
}

/// `admin isolate …` / `admin release …`.
async fn admin_isolation(
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

impl AccountInfo {
    /// The identity this account points at now (after a link it may have changed).
    async fn identity_id_after_link(&self, store: &crate::store::Store) -> Result<uuid::Uuid> {
        let account = PlatformAccount::new(self.platform, &self.scope, &self.user_id);
        Ok(identity::find_account(&store.db, &account)
            .await?
            .map_or(self.identity_id, |found| found.identity_id))
    }
}

fn platforms_phrase(accounts: &[AccountInfo]) -> String {
    let mut names: Vec<&str> = accounts.iter().map(|a| a.platform.display_name()).collect();
    names.dedup();
    match names.as_slice() {
        [] => "your accounts".into(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {}", rest.join(", "), last),
    }
}

async fn whoami(core: &Core, caller: &AccountInfo) -> Result<OutboundReply> {
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

async fn memory_page(
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
    let account_ids: Vec<i64> = if shares {
        state.accounts.iter().map(|a| a.id).collect()
    } else {
        vec![caller.id]
    };
    let mut query = memory::Entity::find()
        .filter(memory::Column::AccountId.is_in(account_ids))
        .filter(memory::Column::Role.eq("user"));
    // What may be brought up here (the rule of `context::is_origin_visible`).
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
async fn forget_one(core: &Core, caller: &AccountInfo, id: i64) -> Result<OutboundReply> {
    let store = &core.store;
    let _guard = store.hot.lock_identity(caller.identity_id).await;
    // While the identity is isolated, each account reaches only its own memories.
    let account_ids: Vec<i64> = if isolation::is_isolated(&store.db, caller.identity_id).await? {
        vec![caller.id]
    } else {
        identity::linked_accounts(&store.db, caller.identity_id)
            .await?
            .iter()
            .map(|a| a.id)
            .collect()
    };
    // The facts that message stated go with it; other processes hear of it in the same commit.
    let transaction = store.db.begin().await?;
    crate::store::changes::record(&transaction, store.origin, &[caller.identity_id]).await?;
    crate::core::facts::forget_stated_in(&transaction, store.cipher.as_deref(), id, &account_ids)
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
            if deleted > 0 { "ok" } else { "refused" },
        )
        .target(&target)
        .detail(format!("{deleted} memories removed")),
    )
    .await?;
    transaction.commit().await?;
    // Drop the hot state first, unsaved emotion included, so the invalidation below cannot write
    // back state that was just changed.
    store.hot.invalidate_identity(caller.identity_id);
    identity::invalidate(store, &[caller.identity_id]).await;
    Ok(OutboundReply::private(if deleted == 0 {
        format!("I couldn't find memory #{id} among your memories. `memory` shows their ids.")
    } else {
        format!("Done. I've forgotten memory #{id}.")
    }))
}

async fn privacy(core: &Core, caller: &AccountInfo) -> Result<OutboundReply> {
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

async fn sync_status(core: &Core, caller: &AccountInfo) -> Result<OutboundReply> {
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
            .filter(memory::Column::Role.eq("user"))
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
            .filter(sync_conflict::Column::Status.eq("open"))
            .count(&store.db)
            .await?;
        let resolved = sync_conflict::Entity::find()
            .filter(sync_conflict::Column::IdentityId.eq(caller.identity_id))
            .filter(sync_conflict::Column::Status.eq("resolved"))
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
    if let Some(line) = crate::core::lifecycle::expiry_line(core, caller.identity_id).await? {
        lines.push(line);
    }
    let limits = core.tuner.limits(&core.settings, caller.platform);
    lines.push(format!(
        "Context per reply on {}: up to {} memories and {} recent turns ({}).",
        caller.platform.display_name(),
        limits.memories,
        limits.history_turns,
        if core.settings.adaptive_performance_tuning {
            format!(
                "adaptive tuning on: {:.0}% of the configured context to stay within {} ms",
                core.tuner.scale(caller.platform) * 100.0,
                crate::core::tuning::response_time_target(caller.platform).as_millis()
            )
        } else {
            "adaptive tuning off".to_string()
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
const ISOLATED_CONFLICTS: &str =
    "Your accounts are kept apart for now, so conflicts between them are not shown or resolved here.";

/// `conflicts`: what is waiting for the person's choice, and what was resolved lately.
async fn conflicts(core: &Core, caller: &AccountInfo) -> Result<OutboundReply> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn commands_parse_with_their_arguments() {
        assert_eq!(parse("link", &args(&["start"])), Ok(Command::LinkStart));
        assert_eq!(
            parse("/link", &args(&["abcd-ef2345"])),
            Ok(Command::LinkRedeem("abcd-ef2345".into()))
        );
        assert_eq!(
            parse("unlink", &args(&["Slack"])),
            Ok(Command::Unlink(Platform::Slack))
        );
        assert_eq!(
            parse("memory", &args(&["2"])),
            Ok(Command::Memory { page: 2 })
        );
        assert_eq!(
            parse("forget", &args(&["#12"])),
            Ok(Command::Forget(ForgetTarget::One(12)))
        );
        assert_eq!(
            parse("forget", &args(&["all"])),
            Ok(Command::Forget(ForgetTarget::All))
        );
        assert_eq!(
            parse("prefs", &args(&["set", "timezone", "Europe/Lisbon"])),
            Ok(Command::PrefsSet {
                key: "timezone".into(),
                value: "Europe/Lisbon".into()
            })
        );
        assert_eq!(
            parse("privacy", &args(&["set", "conversation_history", "off"])),
            Ok(Command::PrivacySet {
                category: SyncCategory::ConversationHistory,
                on: false
            })
        );
        assert_eq!(parse("sync", &args(&["status"])), Ok(Command::SyncStatus));
        assert_eq!(parse("conflicts", &args(&[])), Ok(Command::Conflicts));
        assert_eq!(
            parse("conflicts", &args(&["resolve", "#7", "2"])),
            Ok(Command::ConflictsResolve {
                id: 7,
                choice: "2".into()
            })
        );
        assert!(matches!(
            parse("admin", &args(&["link", "slack:T1/U1", "discord:42"])),
            Ok(Command::AdminLink(..))
        ));
        assert_eq!(
            parse("admin", &args(&["audit", "5"])),
            Ok(Command::AdminAudit(5))
        );
    }

    #[test]
    fn wrong_options_get_a_usage_line() {
        for (name, words) in [
            ("unlink", vec!["myspace"]),
            ("memory", vec!["0"]),
            ("forget", vec!["yesterday"]),
            ("prefs", vec!["set", "favourite_colour", "blue"]),
            ("privacy", vec!["set", "everything", "off"]),
            ("privacy", vec!["set", "conversation_history", "maybe"]),
            ("admin", vec!["link", "slack:T1/U1", "nonsense"]),
            ("admin", vec!["audit", "100000"]),
            ("dance", vec![]),
            ("conflicts", vec!["resolve", "seven", "1"]),
            ("conflicts", vec!["resolve", "7"]),
        ] {
            let result = parse(name, &args(&words));
            assert!(
                result.is_err(),
                "{name} {words:?} should be refused, got {result:?}"
            );
        }
    }
}
