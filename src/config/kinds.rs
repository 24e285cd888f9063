//! The small enums settings are made of: deployment mode, conflict strategy, sync categories, Discord shards.

use std::fmt;
use std::str::FromStr;

/// How the host runs (`DEPLOYMENT_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DeploymentMode {
    /// The local chat only, on loopback, with no platform connectors (the embedded default).
    #[default]
    Desktop,
    /// Every configured connector on one shared state.
    Cloud,
    /// Cloud plus data-lifecycle warnings and expiry of demo data.
    Demo,
}

impl DeploymentMode {
    /// Every mode, in the order shown in error messages.
    pub const ALL: [DeploymentMode; 3] = [
        DeploymentMode::Desktop,
        DeploymentMode::Cloud,
        DeploymentMode::Demo,
    ];

    /// The value written in `DEPLOYMENT_MODE` (`desktop`, `cloud`, `demo`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentMode::Desktop => "desktop",
            DeploymentMode::Cloud => "cloud",
            DeploymentMode::Demo => "demo",
        }
    }

    /// Whether platform connectors may run (cloud and demo).
    pub fn runs_connectors(self) -> bool {
        !matches!(self, DeploymentMode::Desktop)
    }
}

impl fmt::Display for DeploymentMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not one of an enum's accepted values; the caller names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected one of {expected} (got {got:?})")]
pub struct UnknownValue {
    /// The accepted values, comma-separated.
    pub expected: String,
    /// What was given.
    pub got: String,
}

impl UnknownValue {
    fn new(accepted: &[&str], got: &str) -> Self {
        UnknownValue {
            expected: accepted.join(", "),
            got: got.to_string(),
        }
    }
}

/// Lower case, `-` and spaces read as `_`, so `Latest-Wins` and `latest_wins` are the same word.
fn normalise(text: &str) -> String {
    text.trim().to_ascii_lowercase().replace(['-', ' '], "_")
}

impl FromStr for DeploymentMode {
    type Err = UnknownValue;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let word = normalise(text);
        DeploymentMode::ALL
            .into_iter()
            .find(|mode| mode.as_str() == word)
            .ok_or_else(|| UnknownValue::new(&["desktop", "cloud", "demo"], text))
    }
}

/// What happens when two platforms change the same person's state at once, or two histories are
/// linked (`CONFLICT_RESOLUTION_STRATEGY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ConflictStrategy {
    /// The most recent write wins.
    #[default]
    LatestWins,
    /// The write from the platform listed first in `PLATFORM_PRIORITY` wins.
    PlatformPriority,
    /// Conflicts are recorded and wait for the person or an admin to choose.
    Manual,
}

impl ConflictStrategy {
    /// Every strategy, in the order shown in error messages.
    pub const ALL: [ConflictStrategy; 3] = [
        ConflictStrategy::LatestWins,
        ConflictStrategy::PlatformPriority,
        ConflictStrategy::Manual,
    ];

    /// The value written in `CONFLICT_RESOLUTION_STRATEGY`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictStrategy::LatestWins => "latest_wins",
            ConflictStrategy::PlatformPriority => "platform_priority",
            ConflictStrategy::Manual => "manual",
        }
    }
}

impl fmt::Display for ConflictStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConflictStrategy {
    type Err = UnknownValue;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let word = normalise(text);
        ConflictStrategy::ALL
            .into_iter()
            .find(|strategy| strategy.as_str() == word)
            .ok_or_else(|| UnknownValue::new(&["latest_wins", "platform_priority", "manual"], text))
    }
}

/// Who extracts facts from what people say (`FACT_EXTRACTION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FactExtraction {
    /// The LLM when `LLM_BASE_URL` is set, the rules otherwise.
    #[default]
    Auto,
    /// The LLM (JSON facts, validated); the rules when it fails or answers something invalid.
    Llm,
    /// The rule-based extractor only.
    Rules,
}

impl FactExtraction {
    /// Every value, in the order shown in error messages.
    pub const ALL: [FactExtraction; 3] = [
        FactExtraction::Auto,
        FactExtraction::Llm,
        FactExtraction::Rules,
    ];

    /// The value written in `FACT_EXTRACTION`.
    pub fn as_str(self) -> &'static str {
        match self {
            FactExtraction::Auto => "auto",
            FactExtraction::Llm => "llm",
            FactExtraction::Rules => "rules",
        }
    }
}

impl fmt::Display for FactExtraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FactExtraction {
    type Err = UnknownValue;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let word = normalise(text);
        FactExtraction::ALL
            .into_iter()
            .find(|mode| mode.as_str() == word)
            .ok_or_else(|| UnknownValue::new(&["auto", "llm", "rules"], text))
    }
}

/// A category of personal data that linked accounts may share (the seed's `SYNC_*` switches).
///
/// The settings hold the host default for each; a person may override it for themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SyncCategory {
    ConversationHistory,
    MemoryImportance,
    EmotionalMemories,
    EmotionalState,
    EmotionalPatterns,
    AdaptationStrategies,
    UiPreferences,
    AiSettings,
    PrivacySettings,
}

impl SyncCategory {
    /// Every category, in the order of the `SYNC_*` variables.
    pub const ALL: [SyncCategory; 9] = [
        SyncCategory::ConversationHistory,
        SyncCategory::MemoryImportance,
        SyncCategory::EmotionalMemories,
        SyncCategory::EmotionalState,
        SyncCategory::EmotionalPatterns,
        SyncCategory::AdaptationStrategies,
        SyncCategory::UiPreferences,
        SyncCategory::AiSettings,
        SyncCategory::PrivacySettings,
    ];

    /// The category's id without the `sync_` prefix (`conversation_history`, `memory_importance`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SyncCategory::ConversationHistory => "conversation_history",
            SyncCategory::MemoryImportance => "memory_importance",
            SyncCategory::EmotionalMemories => "emotional_memories",
            SyncCategory::EmotionalState => "emotional_state",
            SyncCategory::EmotionalPatterns => "emotional_patterns",
            SyncCategory::AdaptationStrategies => "adaptation_strategies",
            SyncCategory::UiPreferences => "ui_preferences",
            SyncCategory::AiSettings => "ai_settings",
            SyncCategory::PrivacySettings => "privacy_settings",
        }
    }

    /// The environment variable holding the host default (`SYNC_CONVERSATION_HISTORY`, ...).
    pub fn variable(self) -> &'static str {
        match self {
            SyncCategory::ConversationHistory => "SYNC_CONVERSATION_HISTORY",
            SyncCategory::MemoryImportance => "SYNC_MEMORY_IMPORTANCE",
            SyncCategory::EmotionalMemories => "SYNC_EMOTIONAL_MEMORIES",
            SyncCategory::EmotionalState => "SYNC_EMOTIONAL_STATE",
            SyncCategory::EmotionalPatterns => "SYNC_EMOTIONAL_PATTERNS",
            SyncCategory::AdaptationStrategies => "SYNC_ADAPTATION_STRATEGIES",
            SyncCategory::UiPreferences => "SYNC_UI_PREFERENCES",
            SyncCategory::AiSettings => "SYNC_AI_SETTINGS",
            SyncCategory::PrivacySettings => "SYNC_PRIVACY_SETTINGS",
        }
    }
}

impl fmt::Display for SyncCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SyncCategory {
    type Err = UnknownValue;

    /// Accepts `conversation_history`, `sync_conversation_history`, `SYNC_CONVERSATION_HISTORY`, ...
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let word = normalise(text);
        let word = word.strip_prefix("sync_").unwrap_or(&word);
        SyncCategory::ALL
            .into_iter()
            .find(|category| category.as_str() == word)
            .ok_or_else(|| {
                let accepted: Vec<&str> = SyncCategory::ALL.iter().map(|c| c.as_str()).collect();
                UnknownValue::new(&accepted, text)
            })
    }
}

/// How many Discord gateway shards to run (`DISCORD_SHARDS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShardSetting {
    /// Ask Discord for the recommended count.
    #[default]
    Auto,
    /// Exactly this many shards (at least 1).
    Count(u32),
    /// Shards `first` to `last` (inclusive) of `total`, the others running in other host processes
    /// (`DISCORD_SHARDS=0-3/8`).
    Range { first: u32, last: u32, total: u32 },
}

impl ShardSetting {
    /// Reads `auto`, a count (`4`) or a range of a total (`0-3/8`, `4-7/8`); `None` when invalid.
    pub fn parse(text: &str) -> Option<ShardSetting> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("auto") {
            return Some(ShardSetting::Auto);
        }
        if let Some((range, total)) = text.split_once('/') {
            let (first, last) = range.split_once('-')?;
            let first: u32 = first.trim().parse().ok()?;
            let last: u32 = last.trim().parse().ok()?;
            let total: u32 = total.trim().parse().ok()?;
            return (first <= last && last < total).then_some(ShardSetting::Range {
                first,
                last,
                total,
            });
        }
        text.parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .map(ShardSetting::Count)
    }
}

impl fmt::Display for ShardSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShardSetting::Auto => f.write_str("auto"),
            ShardSetting::Count(count) => write!(f, "{count}"),
            ShardSetting::Range { first, last, total } => write!(f, "{first}-{last} of {total}"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_strategies_read_their_own_names_in_any_case() {
        for mode in DeploymentMode::ALL {
            assert_eq!(mode.as_str().to_uppercase().parse(), Ok(mode));
        }
        for strategy in ConflictStrategy::ALL {
            assert_eq!(strategy.as_str().parse(), Ok(strategy));
        }
        assert_eq!("Latest-Wins".parse(), Ok(ConflictStrategy::LatestWins));
    }

    #[test]
    fn an_unknown_mode_lists_what_is_accepted() {
        let error = "clod".parse::<DeploymentMode>().unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"expected one of desktop, cloud, demo (got "clod")"#
        );
    }

    #[test]
    fn sync_categories_read_with_or_without_the_prefix() {
        for category in SyncCategory::ALL {
            assert_eq!(category.as_str().parse(), Ok(category));
            assert_eq!(category.variable().parse(), Ok(category));
            assert_eq!(format!("sync_{}", category.as_str()).parse(), Ok(category));
        }
        assert!("sync_everything".parse::<SyncCategory>().is_err());
    }

    #[test]
    fn shard_settings_read_auto_counts_and_ranges_of_a_total() {
        assert_eq!(ShardSetting::parse("AUTO"), Some(ShardSetting::Auto));
        assert_eq!(ShardSetting::parse("4"), Some(ShardSetting::Count(4)));
        assert_eq!(
            ShardSetting::parse("4-7/8"),
            Some(ShardSetting::Range {
                first: 4,
                last: 7,
                total: 8
            })
        );
        for bad in ["0", "many", "3-1/8", "0-8/8", "0-3", "-1/4", "a-b/c"] {
            assert_eq!(ShardSetting::parse(bad), None, "{bad}");
        }
    }
}
