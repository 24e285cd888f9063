//! Reading a command: the [`Command`] every platform's invocation becomes, and [`parse`], which turns
//! a command name and its words into one or into the usage line to show.

use crate::config::SyncCategory;
use crate::core::privacy::isolation::IsolationTarget;
use crate::core::privacy::preferences;
use whisperengine_contract::{Platform, PlatformAccount};

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    WhoAmI,
    LinkStart,
    LinkRedeem(String),
    Unlink(Platform),
    Memory {
        page: u64,
    },
    Forget(ForgetTarget),
    Prefs,
    PrefsSet {
        key: String,
        value: String,
    },
    Privacy,
    PrivacySet {
        category: SyncCategory,
        on: bool,
    },
    SyncStatus,
    Conflicts,
    ConflictsResolve {
        id: i64,
        choice: String,
    },
    AdminLink(PlatformAccount, PlatformAccount),
    AdminUnlink(PlatformAccount),
    AdminAudit(u64),
    Export,
    Feedback {
        score: u8,
        comment: Option<String>,
    },
    AdminIsolate(IsolationTarget),
    AdminCacheClear(IsolationTarget),
    AdminRelease(IsolationTarget),
    /// `admin conflicts resolve <id> <1|2>`: an operator settles someone's open conflict.
    AdminConflictsResolve {
        id: i64,
        choice: String,
    },
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
                | Command::AdminConflictsResolve { .. }
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
            Command::AdminConflictsResolve { .. } => "admin_conflicts_resolve",
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
        ("feedback", args) => crate::core::ops::maintenance::parse_feedback(args)
            .map(|(score, comment)| Command::Feedback { score, comment }),
        ("admin", ["cache", "clear"]) => Ok(Command::AdminCacheClear(IsolationTarget::All)),
        ("admin", ["cache", "clear", target]) => {
            IsolationTarget::parse(target).map(Command::AdminCacheClear)
        }
        ("admin", ["isolate", target]) => IsolationTarget::parse(target).map(Command::AdminIsolate),
        ("admin", ["conflicts" | "conflict", "resolve", id, choice @ ..]) if !choice.is_empty() => id
            .trim_start_matches('#')
            .parse::<i64>()
            .map(|id| Command::AdminConflictsResolve { id, choice: choice.join(" ") })
            .map_err(|_| "Usage: `admin conflicts resolve <id> <1|2>`.".into()),
        ("admin", ["release", target]) => IsolationTarget::parse(target).map(Command::AdminRelease),
        ("admin", _) => Err("Usage: `admin link <account> <account>`, `admin unlink <account>`, `admin audit [n]`, `admin isolate <account|identity id|all>`, `admin release <account|identity id|all>`, `admin cache clear [account|identity id]`, `admin conflicts resolve <id> <1|2>`. Accounts look like `slack:T0123/U0456` or `discord:80351110224678912`.".into()),
        (other, _) => Err(format!("I don't know the command `{other}`. Try `help`.")),
    }
}

fn parse_account(text: &str) -> std::result::Result<PlatformAccount, String> {
    text.parse().map_err(|error| format!("{error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn an_admin_resolves_a_conflict_by_its_id() {
        assert_eq!(
            parse("admin", &args(&["conflicts", "resolve", "#7", "2"])),
            Ok(Command::AdminConflictsResolve {
                id: 7,
                choice: "2".into()
            })
        );
        assert!(Command::AdminConflictsResolve {
            id: 7,
            choice: "2".into()
        }
        .is_admin());
        assert!(parse("admin", &args(&["conflicts", "resolve", "seven", "1"])).is_err());
        assert!(parse("admin", &args(&["conflicts", "resolve", "7"])).is_err());
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
