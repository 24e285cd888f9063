//! What each platform's replies are tuned for (the per-platform table of
//! PLATFORM_SPECIFIC_OPTIMIZATIONS): the response-time target adaptive tuning aims at, the
//! language model, its reply length and temperature, how many memories and history turns a reply
//! gets, whether a typing indicator shows, and whether the mood is written with each message or
//! with the next periodic sync.
//!
//! Every value has a default that suits the platform, built on the host-wide settings
//! (`LLM_MODEL`, `LLM_MAX_TOKENS`, `LLM_TEMPERATURE`, `MEMORY_TOP_K`, `HISTORY_TURNS`), and one
//! variable per platform and value overrides it: `<PLATFORM>_<VALUE>`, the platform being
//! `DISCORD`, `SLACK`, `TEAMS` or `DESKTOP` (the local chat), e.g. `SLACK_LLM_MODEL`,
//! `DISCORD_RESPONSE_TARGET_MS`, `TEAMS_MEMORY_TOP_K`. In `whisperengine.toml` the same names are
//! written in lower case. With PLATFORM_SPECIFIC_OPTIMIZATIONS=false every platform uses the local
//! chat's values (its defaults and `DESKTOP_*`); only the typing indicator stays per platform.

use super::{Settings, UnknownValue};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;
use whisperengine_contract::Platform;

/// The platforms with a column in the table, in the order shown by `doctor`.
pub const PLATFORMS: [Platform; 4] = [
    Platform::Discord,
    Platform::Slack,
    Platform::Teams,
    Platform::Desktop,
];

/// Every per-platform variable (the TOML file uses the same names in lower case).
pub const PLATFORM_VARIABLES: &[&str] = &[
    "DISCORD_RESPONSE_TARGET_MS",
    "DISCORD_LLM_MODEL",
    "DISCORD_LLM_MAX_TOKENS",
    "DISCORD_LLM_TEMPERATURE",
    "DISCORD_MEMORY_TOP_K",
    "DISCORD_HISTORY_TURNS",
    "DISCORD_SHOW_TYPING",
    "DISCORD_EMOTION_WRITES",
    "SLACK_RESPONSE_TARGET_MS",
    "SLACK_LLM_MODEL",
    "SLACK_LLM_MAX_TOKENS",
    "SLACK_LLM_TEMPERATURE",
    "SLACK_MEMORY_TOP_K",
    "SLACK_HISTORY_TURNS",
    "SLACK_EMOTION_WRITES",
    "TEAMS_RESPONSE_TARGET_MS",
    "TEAMS_LLM_MODEL",
    "TEAMS_LLM_MAX_TOKENS",
    "TEAMS_LLM_TEMPERATURE",
    "TEAMS_MEMORY_TOP_K",
    "TEAMS_HISTORY_TURNS",
    "TEAMS_SHOW_TYPING",
    "TEAMS_EMOTION_WRITES",
    "DESKTOP_RESPONSE_TARGET_MS",
    "DESKTOP_LLM_MODEL",
    "DESKTOP_LLM_MAX_TOKENS",
    "DESKTOP_LLM_TEMPERATURE",
    "DESKTOP_MEMORY_TOP_K",
    "DESKTOP_HISTORY_TURNS",
    "DESKTOP_EMOTION_WRITES",
];

/// When a message's effect on the mood reaches SQL (and so the other host processes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmotionWrites {
    /// With the message: another process reads the new mood at once; one more write per message
    /// that moves the mood.
    Realtime,
    /// With the next periodic flush (EMOTIONAL_SYNC_INTERVAL) or at shutdown.
    Batched,
}

impl EmotionWrites {
    pub fn as_str(self) -> &'static str {
        match self {
            EmotionWrites::Realtime => "realtime",
            EmotionWrites::Batched => "batched",
        }
    }
}

impl fmt::Display for EmotionWrites {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EmotionWrites {
    type Err = UnknownValue;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "realtime" | "real-time" | "real_time" => Ok(EmotionWrites::Realtime),
            "batched" | "batch" => Ok(EmotionWrites::Batched),
            _ => Err(UnknownValue {
                expected: "realtime, batched".into(),
                got: text.to_string(),
            }),
        }
    }
}

/// One platform's values, as a reply on it uses them.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformProfile {
    /// What adaptive tuning aims at: replies slower than this on average shrink the context.
    pub response_target: Duration,
    /// The model asked at LLM_BASE_URL.
    pub llm_model: String,
    /// The longest reply, in tokens (the endpoint's `max_tokens`).
    pub llm_max_tokens: u32,
    pub llm_temperature: f32,
    /// Long-term memories recalled per reply.
    pub memory_top_k: usize,
    /// Recent turns of the conversation put in the prompt.
    pub history_turns: usize,
    /// Whether a typing indicator shows while a reply is written; `None` where the platform has
    /// none for bots (Slack, the local chat).
    pub show_typing: Option<bool>,
    pub emotion_writes: EmotionWrites,
}

/// The per-platform table as `doctor` prints it: a header and one row per platform. `model` is
/// left out (shown as `-`) when no LLM endpoint is set, since the values then ask nothing of one.
pub fn table(settings: &Settings) -> Vec<String> {
    let mut rows = vec![format!(
        "{:<9} {:>9} {:<20} {:>6} {:>5} {:>8} {:>7} {:<6} {}",
        "platform", "target", "model", "tokens", "temp", "memories", "history", "typing", "mood"
    )];
    for platform in PLATFORMS {
        let profile = settings.profile(platform);
        let model = if settings.llm_base_url.is_some() {
            profile.llm_model.clone()
        } else {
            "-".to_string()
        };
        rows.push(format!(
            "{:<9} {:>7}ms {:<20} {:>6} {:>5.2} {:>8} {:>7} {:<6} {}",
            platform.as_str(),
            profile.response_target.as_millis(),
            model,
            profile.llm_max_tokens,
            profile.llm_temperature,
            profile.memory_top_k,
            profile.history_turns,
            match profile.show_typing {
                Some(true) => "on",
                Some(false) => "off",
                None => "-",
            },
            profile.emotion_writes,
        ));
    }
    rows
}

/// The values set for one platform; unset ones take the platform's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileOverrides {
    pub response_target: Option<Duration>,
    pub llm_model: Option<String>,
    pub llm_max_tokens: Option<u32>,
    pub llm_temperature: Option<f32>,
    pub memory_top_k: Option<usize>,
    pub history_turns: Option<usize>,
    pub show_typing: Option<bool>,
    pub emotion_writes: Option<EmotionWrites>,
}

/// The `<PLATFORM>_*` variables that were set, per platform.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlatformOverrides {
    pub discord: ProfileOverrides,
    pub slack: ProfileOverrides,
    pub teams: ProfileOverrides,
    pub desktop: ProfileOverrides,
}

impl PlatformOverrides {
    pub fn of(&self, platform: Platform) -> &ProfileOverrides {
        match platform {
            Platform::Discord => &self.discord,
            Platform::Slack => &self.slack,
            Platform::Teams => &self.teams,
            Platform::Desktop => &self.desktop,
        }
    }

    pub fn of_mut(&mut self, platform: Platform) -> &mut ProfileOverrides {
        match platform {
            Platform::Discord => &mut self.discord,
            Platform::Slack => &mut self.slack,
            Platform::Teams => &mut self.teams,
            Platform::Desktop => &mut self.desktop,
        }
    }
}

/// The variable prefix of `platform`.
pub fn prefix(platform: Platform) -> &'static str {
    match platform {
        Platform::Discord => "DISCORD",
        Platform::Slack => "SLACK",
        Platform::Teams => "TEAMS",
        Platform::Desktop => "DESKTOP",
    }
}

/// Whether the platform shows bots typing (Slack has no typing indicator for apps; the local chat
/// shows the reply as it is written instead).
pub fn has_typing_indicator(platform: Platform) -> bool {
    matches!(platform, Platform::Discord | Platform::Teams)
}

/// The platform's defaults on top of the host-wide settings:
/// - response target: Discord 3 s (people expect an answer within a few seconds), Slack 2.5 s
///   (work chat; its own events must be acknowledged within 3 s), Teams 5 s (a typing
///   indicator shows and people wait longer), the local chat 2 s;
/// - replies: Slack and Teams at most 300 tokens (workplace messages are read in a glance),
///   Discord and the local chat LLM_MAX_TOKENS;
/// - context: Teams at most 3 memories and 8 turns (its cards and busy channels favour short,
///   focused replies), the others MEMORY_TOP_K and HISTORY_TURNS;
/// - the mood: written with each message on Slack and Teams (people move between the two within a
///   working day, often through different host processes), batched on Discord (many short
///   messages) and in the local chat (one process, nothing to share).
fn defaults(settings: &Settings, platform: Platform) -> PlatformProfile {
    const WORKPLACE_MAX_TOKENS: u32 = 300;
    let base = PlatformProfile {
        response_target: Duration::from_secs(2),
        llm_model: settings.llm_model.clone(),
        llm_max_tokens: settings.llm_max_tokens,
        llm_temperature: settings.llm_temperature,
        memory_top_k: settings.memory_top_k,
        history_turns: settings.history_turns,
        show_typing: has_typing_indicator(platform).then_some(true),
        emotion_writes: EmotionWrites::Batched,
    };
    match platform {
        Platform::Discord => PlatformProfile {
            response_target: Duration::from_secs(3),
            ..base
        },
        Platform::Slack => PlatformProfile {
            response_target: Duration::from_millis(2_500),
            llm_max_tokens: base.llm_max_tokens.min(WORKPLACE_MAX_TOKENS),
            emotion_writes: EmotionWrites::Realtime,
            ..base
        },
        Platform::Teams => PlatformProfile {
            response_target: Duration::from_secs(5),
            llm_max_tokens: base.llm_max_tokens.min(WORKPLACE_MAX_TOKENS),
            memory_top_k: base.memory_top_k.min(3),
            history_turns: base.history_turns.min(8),
            emotion_writes: EmotionWrites::Realtime,
            ..base
        },
        Platform::Desktop => base,
    }
}

/// `defaults` with the platform's own variables applied.
fn with_overrides(mut profile: PlatformProfile, set: &ProfileOverrides) -> PlatformProfile {
    if let Some(target) = set.response_target {
        profile.response_target = target;
    }
    if let Some(model) = &set.llm_model {
        profile.llm_model = model.clone();
    }
    if let Some(tokens) = set.llm_max_tokens {
        profile.llm_max_tokens = tokens;
    }
    if let Some(temperature) = set.llm_temperature {
        profile.llm_temperature = temperature;
    }
    if let Some(top_k) = set.memory_top_k {
        profile.memory_top_k = top_k;
    }
    if let Some(turns) = set.history_turns {
        profile.history_turns = turns;
    }
    if let (Some(show), Some(_)) = (set.show_typing, profile.show_typing) {
        profile.show_typing = Some(show);
    }
    if let Some(writes) = set.emotion_writes {
        profile.emotion_writes = writes;
    }
    profile
}

impl Settings {
    /// What a reply on `platform` is tuned for: the platform's row of the table, or the local
    /// chat's for every platform when PLATFORM_SPECIFIC_OPTIMIZATIONS is off.
    pub fn profile(&self, platform: Platform) -> PlatformProfile {
        let row = if self.platform_specific_optimizations {
            platform
        } else {
            Platform::Desktop
        };
        let mut profile = with_overrides(defaults(self, row), self.platform_overrides.of(row));
        if row != platform {
            // The typing indicator is what the platform can show, not a tuning choice.
            profile.show_typing = with_overrides(
                defaults(self, platform),
                self.platform_overrides.of(platform),
            )
            .show_typing;
        }
        profile
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platform_variable_is_named_by_its_prefix_and_value() {
        for platform in PLATFORMS {
            let own = PLATFORM_VARIABLES
                .iter()
                .filter(|name| name.starts_with(&format!("{}_", prefix(platform))))
                .count();
            let expected = if has_typing_indicator(platform) { 8 } else { 7 };
            assert_eq!(own, expected, "{platform:?}");
        }
        assert_eq!(PLATFORM_VARIABLES.len(), 30);
    }

    #[test]
    fn defaults_differ_where_the_platform_does_and_follow_the_host_settings() {
        let settings = Settings {
            memory_top_k: 7,
            llm_max_tokens: 500,
            ..Settings::default()
        };
        let teams = settings.profile(Platform::Teams);
        assert_eq!(teams.memory_top_k, 3);
        assert_eq!(teams.llm_max_tokens, 300);
        assert_eq!(teams.emotion_writes, EmotionWrites::Realtime);
        assert_eq!(teams.show_typing, Some(true));
        let discord = settings.profile(Platform::Discord);
        assert_eq!(discord.memory_top_k, 7);
        assert_eq!(discord.llm_max_tokens, 500);
        assert_eq!(discord.response_target, Duration::from_secs(3));
        assert_eq!(settings.profile(Platform::Slack).show_typing, None);
    }

    #[test]
    fn overrides_apply_to_their_platform_only_and_off_means_the_local_chat_for_all() {
        let mut settings = Settings::default();
        settings.platform_overrides.slack.llm_model = Some("small-fast".into());
        settings.platform_overrides.desktop.memory_top_k = Some(9);
        settings.platform_overrides.discord.show_typing = Some(false);
        assert_eq!(settings.profile(Platform::Slack).llm_model, "small-fast");
        assert_eq!(settings.profile(Platform::Discord).llm_model, "gpt-4o-mini");
        assert_eq!(settings.profile(Platform::Teams).memory_top_k, 3);

        settings.platform_specific_optimizations = false;
        for platform in PLATFORMS {
            let profile = settings.profile(platform);
            assert_eq!(profile.memory_top_k, 9, "{platform:?}");
            assert_eq!(profile.llm_model, "gpt-4o-mini", "{platform:?}");
            assert_eq!(profile.response_target, Duration::from_secs(2));
        }
        assert_eq!(settings.profile(Platform::Discord).show_typing, Some(false));
        assert_eq!(settings.profile(Platform::Teams).show_typing, Some(true));
    }

    #[test]
    fn emotion_writes_read_both_spellings_and_refuse_others() {
        assert_eq!("Real-time".parse(), Ok(EmotionWrites::Realtime));
        assert_eq!("batched".parse(), Ok(EmotionWrites::Batched));
        assert!("sometimes".parse::<EmotionWrites>().is_err());
    }
}
