//! Platform ids and platform accounts, with the `<platform>:<scope>/<user>` notation used in commands.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A chat platform the companion lives on. `Desktop` is the local chat (terminal and localhost page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Discord,
    Slack,
    Teams,
    Desktop,
}

impl Platform {
    /// Every platform, in a stable order.
    pub const ALL: [Platform; 4] = [
        Platform::Discord,
        Platform::Slack,
        Platform::Teams,
        Platform::Desktop,
    ];

    /// The id used in data and commands (`discord`, `slack`, `teams`, `desktop`).
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Discord => "discord",
            Platform::Slack => "slack",
            Platform::Teams => "teams",
            Platform::Desktop => "desktop",
        }
    }

    /// The name shown to people ("Discord", "Slack", "Teams", "the local chat").
    pub fn display_name(self) -> &'static str {
        match self {
            Platform::Discord => "Discord",
            Platform::Slack => "Slack",
            Platform::Teams => "Teams",
            Platform::Desktop => "the local chat",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a platform or account string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountParseError {
    #[error("unknown platform `{0}` (expected discord, slack, teams or desktop)")]
    UnknownPlatform(String),
    #[error("`{0}` is not an account: write it as <platform>:<user id> or <platform>:<scope>/<user id>, e.g. slack:T0123/U0456")]
    Malformed(String),
}

impl FromStr for Platform {
    type Err = AccountParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "discord" => Ok(Platform::Discord),
            "slack" => Ok(Platform::Slack),
            "teams" | "msteams" => Ok(Platform::Teams),
            "desktop" | "local" => Ok(Platform::Desktop),
            other => Err(AccountParseError::UnknownPlatform(other.to_string())),
        }
    }
}

/// An account on one platform: who is talking, as the platform knows them.
///
/// `scope` is the platform's namespace for user ids: the Slack team id, the Teams tenant id, empty
/// for Discord (user ids are global) and for the local chat. Two accounts are the same account when
/// platform, scope and user id are equal; the display name is informational only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlatformAccount {
    pub platform: Platform,
    /// Workspace/team/tenant the user id lives in; empty where user ids are global.
    pub scope: String,
    pub user_id: String,
    /// The name the platform shows for this user, when known.
    pub display_name: Option<String>,
}

impl PlatformAccount {
    /// An account with no display name.
    pub fn new(platform: Platform, scope: impl Into<String>, user_id: impl Into<String>) -> Self {
        PlatformAccount {
            platform,
            scope: scope.into(),
            user_id: user_id.into(),
            display_name: None,
        }
    }

    /// The same account with a display name.
    pub fn with_display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// Whether both name the same account (display names are ignored).
    pub fn is_same_account(&self, other: &PlatformAccount) -> bool {
        self.platform == other.platform
            && self.scope == other.scope
            && self.user_id == other.user_id
    }

    /// A name to address the person by: the display name, else the user id.
    pub fn name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.user_id)
    }
}

impl PartialEq for PlatformAccount {
    fn eq(&self, other: &Self) -> bool {
        self.is_same_account(other)
    }
}

impl Eq for PlatformAccount {}

impl std::hash::Hash for PlatformAccount {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.platform.hash(state);
        self.scope.hash(state);
        self.user_id.hash(state);
    }
}

impl fmt::Display for PlatformAccount {
    /// `discord:80351110224678912`, `slack:T0123/U0456`, `teams:<tenant>/<aad object id>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scope.is_empty() {
            write!(f, "{}:{}", self.platform, self.user_id)
        } else {
            write!(f, "{}:{}/{}", self.platform, self.scope, self.user_id)
        }
    }
}

impl FromStr for PlatformAccount {
    type Err = AccountParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (platform, rest) = text
            .split_once(':')
            .ok_or_else(|| AccountParseError::Malformed(text.to_string()))?;
        let platform: Platform = platform.parse()?;
        let (scope, user) = match rest.rsplit_once('/') {
            Some((scope, user)) => (scope, user),
            None => ("", rest),
        };
        let is_valid_part = |part: &str| {
            part.len() <= 128 && part.chars().all(|c| !c.is_whitespace() && !c.is_control())
        };
        if user.is_empty() || !is_valid_part(user) || !is_valid_part(scope) {
            return Err(AccountParseError::Malformed(text.to_string()));
        }
        Ok(PlatformAccount::new(platform, scope, user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_round_trip_through_their_notation() {
        for text in [
            "discord:80351110224678912",
            "slack:T0123/U0456",
            "teams:72f988bf-86f1/29:1abc",
            "desktop:alice",
        ] {
            let account: PlatformAccount = text.parse().expect("valid account");
            assert_eq!(account.to_string(), text);
        }
    }

    #[test]
    fn malformed_accounts_are_refused_with_the_reason() {
        assert_eq!(
            "myspace:1".parse::<PlatformAccount>(),
            Err(AccountParseError::UnknownPlatform("myspace".into()))
        );
        assert!(matches!(
            "slack".parse::<PlatformAccount>(),
            Err(AccountParseError::Malformed(_))
        ));
        assert!(matches!(
            "slack:T1/".parse::<PlatformAccount>(),
            Err(AccountParseError::Malformed(_))
        ));
    }

    #[test]
    fn display_names_do_not_change_identity() {
        let a = PlatformAccount::new(Platform::Slack, "T1", "U1").with_display_name("Ann");
        let b = PlatformAccount::new(Platform::Slack, "T1", "U1");
        assert_eq!(a, b);
        assert_ne!(a, PlatformAccount::new(Platform::Slack, "T2", "U1"));
    }
}
