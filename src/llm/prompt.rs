//! Everything a reply is built from, and its rendering into OpenAI chat messages.

use super::{ChatMessage, KnownFact, Mood, RecalledMemory, Speaker, Turn};
use chrono::{DateTime, Utc};
use std::fmt::Write as _;
use whisperengine_contract::Platform;

/// Longest memory rendered into the system message, in characters; longer ones are cut at a word.
const MAX_MEMORY_CHARS: usize = 400;

/// Everything the responder needs for one reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// From [`crate::personality::Personality::system_prompt`].
    pub system: String,
    /// Where the reply goes.
    pub platform: Platform,
    /// How to address the person.
    pub user_name: String,
    /// Their role names where the platform has roles (Discord server roles such as "moderator").
    pub user_roles: Vec<String>,
    /// What they just said.
    pub user_text: String,
    /// Earlier turns, oldest first.
    pub history: Vec<Turn>,
    /// Long-term memories, best first.
    pub memories: Vec<RecalledMemory>,
    /// Current facts about the user, the most relevant first.
    pub facts: Vec<KnownFact>,
    pub mood: Option<Mood>,
    /// What the message asks about when a fact could answer it (see [`FactQuestion`]).
    pub question: Option<FactQuestion>,
    /// The person's time zone (the `timezone` preference), for the dates the reply shows.
    pub time_zone: Option<String>,
    /// How the person asked to be talked to (their preferences).
    pub style: ReplyStyle,
    /// What the language model is asked with on this platform.
    pub generation: Generation,
    /// "Now" for ages such as "3 days ago"; a field so replies are reproducible.
    pub now: DateTime<Utc>,
}

/// The model, reply length and temperature a reply is asked with: the platform's row of the
/// per-platform table (`<PLATFORM>_LLM_MODEL`, `_LLM_MAX_TOKENS`, `_LLM_TEMPERATURE`). An unset
/// field takes the client's own (LLM_MODEL, LLM_MAX_TOKENS, LLM_TEMPERATURE). The in-process model
/// keeps its own LOCAL_MODEL_* values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Generation {
    pub model: Option<String>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
}

/// How the person asked to be talked to: the `tone`, `verbosity`, `pronouns` and `language`
/// preferences in effect where the reply goes (unset ones are `None`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplyStyle {
    /// "warm", "playful", "direct", "formal", or the person's own word.
    pub tone: Option<String>,
    /// `short`, `medium` or `long`.
    pub verbosity: Option<String>,
    pub pronouns: Option<String>,
    /// The language to answer in, as the person wrote it ("Portuguese", "pt").
    pub language: Option<String>,
}

impl ReplyStyle {
    /// Whether replies should be kept short.
    pub fn is_short(&self) -> bool {
        self.verbosity.as_deref() == Some("short")
    }

    /// The language asked for when it is not English.
    pub fn other_language(&self) -> Option<&str> {
        self.language.as_deref().map(str::trim).filter(|language| {
            !matches!(
                language.to_lowercase().as_str(),
                "" | "en" | "english" | "en-us" | "en-gb" | "en_us" | "en_gb"
            )
        })
    }
}

/// A question a fact could answer ("where does my sister live?"): whose fact, and words a memory
/// that answers it holds. A memory without them is no answer, however many words it shares.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FactQuestion {
    /// Who it is about when not the person: "sister", "cat".
    pub about: Option<String>,
    /// Words of which an answering memory holds at least one ("live", "moved", "based").
    pub cues: Vec<String>,
}

impl FactQuestion {
    /// Whether `text` (a memory) can answer the question: it names whom the question is about
    /// and holds one of its cue words.
    pub fn may_be_answered_by(&self, text: &str) -> bool {
        let text = text.to_lowercase();
        let words: Vec<&str> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .collect();
        let names_whom = self.about.as_ref().is_none_or(|about| {
            let about: Vec<&str> = about.split_whitespace().collect();
            words
                .windows(about.len().max(1))
                .any(|window| window == about.as_slice())
        });
        names_whom && self.cues.iter().any(|cue| words.contains(&cue.as_str()))
    }
}

impl Prompt {
    /// The person's time zone, UTC when unset or unknown.
    pub fn zone(&self) -> super::dates::Zone {
        super::dates::Zone::named(self.time_zone.as_deref())
    }

    /// The chat messages for an OpenAI-compatible endpoint: one system message (the character, then
    /// the context: platform, memories as "- on slack, 3 days ago: ...", mood), the history as
    /// user/assistant turns (turns from other platforms prefixed "[on discord]"), then the user text.
    pub fn to_chat_messages(&self) -> Vec<ChatMessage> {
        let mut messages = Vec::with_capacity(self.history.len() + 2);
        messages.push(ChatMessage::system(self.render_system()));
        for turn in &self.history {
            let text = if turn.is_other_platform {
                format!("[on {}] {}", turn.platform.as_str(), turn.text)
            } else {
                turn.text.clone()
            };
            messages.push(match turn.speaker {
                Speaker::User => ChatMessage::user(text),
                Speaker::Companion => ChatMessage::assistant(text),
            });
        }
        messages.push(ChatMessage::user(self.user_text.clone()));
        messages
    }

    /// The person's preferences as instructions; their values are quoted, on one line each.
    fn render_style(&self, system: &mut String, name: &str) {
        let style = &self.style;
        let mut asks: Vec<String> = Vec::new();
        if let Some(tone) = &style.tone {
            asks.push(format!("Talk in a \"{}\" tone.", one_line(tone, 60)));
        }
        match style.verbosity.as_deref() {
            Some("short") => asks.push("Keep replies short: one or two sentences.".into()),
            Some("long") => {
                asks.push("They like fuller replies: take a paragraph or two when it helps.".into())
            }
            Some("medium") => asks.push("Keep replies to a few sentences.".into()),
            _ => {}
        }
        if let Some(pronouns) = &style.pronouns {
            asks.push(format!(
                "Their pronouns are \"{}\"; use them when you speak of them.",
                one_line(pronouns, 40)
            ));
        }
        if let Some(language) = &style.language {
            asks.push(format!("Answer in \"{}\".", one_line(language, 40)));
        }
        if !asks.is_empty() {
            let _ = write!(
                system,
                "\n\nHow {name} asked you to talk (their preferences): {}",
                asks.join(" ")
            );
        }
    }

    fn render_system(&self) -> String {
        let mut system = self.system.trim_end().to_string();
        let name = self.user_name.trim();
        let name = if name.is_empty() { "the user" } else { name };
        // Their own clock when they set a time zone (a morning is a morning where they are).
        let clock = match self.time_zone.as_deref().map(str::trim) {
            Some(zone) if jiff::tz::TimeZone::get(zone).is_ok() => format!(
                "{} their time, {zone}",
                self.zone().local(self.now).format("%A %-d %B %Y, %H:%M")
            ),
            _ => self.now.format("%A %-d %B %Y, %H:%M UTC").to_string(),
        };
        let _ = write!(
            system,
            "\n\nContext for this reply:\n- You are talking with {name} on {} ({clock}).",
            self.platform.as_str(),
        );
        let roles: Vec<String> = self
            .user_roles
            .iter()
            .take(10)
            .map(|role| one_line(role, 100))
            .filter(|role| !role.is_empty())
            .collect();
        if !roles.is_empty() {
            let _ = write!(
                system,
                "\n- Their roles in this server: {}.",
                roles.join(", ")
            );
        }
        if !self.memories.is_empty() {
            let _ = write!(
                system,
                "\n\nWhat {name} told you before (most relevant first; use only what fits):"
            );
            let zone = self.zone();
            for memory in &self.memories {
                let place = if memory.is_other_platform {
                    format!("on {}", memory.platform.as_str())
                } else {
                    format!("on {} (here)", memory.platform.as_str())
                };
                let _ = write!(
                    system,
                    "\n- {place}, {} ({}): {}",
                    describe_age(memory.at, self.now),
                    zone.day(memory.at),
                    one_line(&memory.text, MAX_MEMORY_CHARS)
                );
                let meant = super::dates::resolved_in(&memory.text, memory.at, &zone);
                if !meant.is_empty() {
                    let meant: Vec<String> = meant
                        .iter()
                        .map(|(said, day)| format!("\"{said}\" = {day}"))
                        .collect();
                    let _ = write!(system, " [{}]", meant.join("; "));
                }
            }
        }
        if !self.facts.is_empty() {
            let _ = write!(
                system,
                "\n\nWhat you know about {name} now (current facts; they override older memories):"
            );
            for fact in &self.facts {
                let _ = write!(
                    system,
                    "\n- {} (on {}, {})",
                    one_line(&fact.phrase, MAX_MEMORY_CHARS),
                    fact.platform.as_str(),
                    describe_age(fact.at, self.now)
                );
                if let Some((other, platform)) = &fact.disputed_by {
                    let _ = write!(
                        system,
                        " (but on {} they said `{}`; you do not know which is right: say you \
                         are unsure and ask, do not pick one)",
                        platform.as_str(),
                        one_line(other, MAX_MEMORY_CHARS)
                    );
                }
            }
        }
        self.render_style(&mut system, name);
        if let Some(mood) = &self.mood {
            let label = mood.label.trim();
            if !label.is_empty() && !label.eq_ignore_ascii_case("neutral") {
                let strength = match mood.intensity {
                    i if i >= 0.7 => "strongly",
                    i if i >= 0.4 => "noticeably",
                    _ => "slightly",
                };
                let _ = write!(
                    system,
                    "\n\n{name} seems {strength} {label} right now. Let that shape your tone \
                     without naming their feelings for them."
                );
                if let Some(trajectory) = mood.trajectory {
                    let _ = write!(
                        system,
                        " Their mood over the last messages is {}.",
                        trajectory.as_str()
                    );
                }
            }
        }
        system
    }
}

/// How long ago `at` was, in words: "just now", "5 minutes ago", "1 hour ago", "3 days ago",
/// "2 weeks ago", "4 months ago", "2 years ago". Times in the future count as "just now".
pub fn describe_age(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - at).num_seconds();
    let (count, unit) = match seconds {
        s if s < 60 => return "just now".to_string(),
        s if s < 3_600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3_600, "hour"),
        s if s < 14 * 86_400 => (s / 86_400, "day"),
        s if s < 60 * 86_400 => (s / (7 * 86_400), "week"),
        s if s < 365 * 86_400 => (s / (30 * 86_400), "month"),
        s => (s / (365 * 86_400), "year"),
    };
    if count == 1 {
        format!("1 {unit} ago")
    } else {
        format!("{count} {unit}s ago")
    }
}

/// The text on one line (so a memory cannot fake structure in the prompt), cut at a word past
/// `max_chars` with an ellipsis.
pub(crate) fn one_line(text: &str, max_chars: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max_chars {
        return flat;
    }
    let cut: String = flat.chars().take(max_chars).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > max_chars / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 3, 14, 5, 0).unwrap()
    }

    #[test]
    fn ages_read_as_words() {
        let age = |delta: Duration| describe_age(now() - delta, now());
        assert_eq!(age(Duration::seconds(5)), "just now");
        assert_eq!(age(Duration::seconds(-30)), "just now");
        assert_eq!(age(Duration::minutes(1)), "1 minute ago");
        assert_eq!(age(Duration::minutes(5)), "5 minutes ago");
        assert_eq!(age(Duration::hours(2)), "2 hours ago");
        assert_eq!(age(Duration::days(3)), "3 days ago");
        assert_eq!(age(Duration::days(15)), "2 weeks ago");
        assert_eq!(age(Duration::days(100)), "3 months ago");
        assert_eq!(age(Duration::days(800)), "2 years ago");
    }

    #[test]
    fn long_or_multiline_text_becomes_one_bounded_line() {
        assert_eq!(one_line("a\nb\n\n- c", 100), "a b - c");
        assert_eq!(one_line("alpha beta gamma delta", 12), "alpha beta…");
    }

    #[test]
    fn role_names_are_listed_on_one_bounded_line_and_only_when_known() {
        let without = prompt().to_chat_messages()[0].content.clone();
        assert!(!without.contains("roles"), "{without}");
        let mut with_roles = prompt();
        with_roles.user_roles = vec!["moderator".into(), "event\nhost".into()];
        with_roles
            .user_roles
            .extend((0..20).map(|i| format!("role{i}")));
        let system = with_roles.to_chat_messages()[0].content.clone();
        let line = system
            .lines()
            .find(|line| line.contains("Their roles in this server"))
            .expect("a roles line");
        assert!(line.contains("moderator, event host, role0"), "{line}");
        assert!(!line.contains("role8,"), "at most 10 roles: {line}");
    }

    fn prompt() -> Prompt {
        Prompt {
            system: "You are Elena.".into(),
            platform: Platform::Discord,
            user_name: "Ana".into(),
            user_roles: Vec::new(),
            user_text: "what's my cat called?".into(),
            history: vec![
                Turn {
                    speaker: Speaker::User,
                    text: "I adopted a cat".into(),
                    platform: Platform::Slack,
                    is_other_platform: true,
                    at: now() - Duration::days(3),
                },
                Turn {
                    speaker: Speaker::Companion,
                    text: "How lovely!".into(),
                    platform: Platform::Discord,
                    is_other_platform: false,
                    at: now() - Duration::minutes(1),
                },
            ],
            memories: vec![
                RecalledMemory {
                    text: "my cat is called Miso".into(),
                    platform: Platform::Slack,
                    at: now() - Duration::days(3),
                    score: 0.9,
                    is_other_platform: true,
                },
                RecalledMemory {
                    text: "I live\nin Lisbon".into(),
                    platform: Platform::Discord,
                    at: now() - Duration::minutes(5),
                    score: 0.4,
                    is_other_platform: false,
                },
            ],
            facts: Vec::new(),
            mood: Some(Mood {
                label: "happy".into(),
                intensity: 0.8,
                valence: 0.7,
                trajectory: None,
            }),
            question: None,
            time_zone: None,
            style: ReplyStyle::default(),
            generation: Generation::default(),
            now: now(),
        }
    }

    #[test]
    fn chat_messages_carry_system_context_history_and_the_new_text() {
        let messages = prompt().to_chat_messages();
        let roles: Vec<&str> = messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
        let system = &messages[0].content;
        assert!(system.starts_with("You are Elena."));
        let three_days_ago = (now() - Duration::days(3)).format("%a %-d %B %Y");
        assert!(
            system.contains(&format!(
                "- on slack, 3 days ago ({three_days_ago}): my cat is called Miso"
            )),
            "{system}"
        );
        assert!(
            system.contains("- on discord (here), 5 minutes ago (")
                && system.contains("): I live in Lisbon"),
            "{system}"
        );
        assert!(system.contains("Ana seems strongly happy"), "{system}");
        assert_eq!(messages[1].content, "[on slack] I adopted a cat");
        assert_eq!(messages[2].content, "How lovely!");
        assert_eq!(messages[3].content, "what's my cat called?");
    }

    #[test]
    fn a_neutral_mood_and_no_memories_add_nothing() {
        let mut prompt = prompt();
        prompt.memories.clear();
        prompt.mood = Some(Mood {
            label: "neutral".into(),
            intensity: 0.9,
            valence: 0.0,
            trajectory: None,
        });
        let system = &prompt.to_chat_messages()[0].content;
        assert!(!system.contains("told you before"));
        assert!(!system.contains("seems"));
    }
}
