//! Characters the companion can be, loaded from `personalities/<id>.toml`.
//!
//! The file format is documented on [`Personality`]; reading and checking a file lives in `file.rs`,
//! turning a character into a system prompt in `prompt.rs`.

mod file;
mod prompt;

pub(crate) use prompt::where_phrase;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use whisperengine_contract::Platform;

/// Why a personality could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PersonalityError {
    /// No `<id>.toml` in the directory.
    #[error("personality `{id}` not found in {dir} (available: {available})")]
    NotFound {
        id: String,
        dir: String,
        /// Comma-separated ids that do exist, or `none`.
        available: String,
    },
    /// The file exists but is not a valid character; `message` names the field.
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    /// The file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A character the companion plays, the same on every platform.
///
/// Read from `personalities/<id>.toml` (the id is the file stem). The format, with every key
/// required unless marked optional; unknown keys are an error so typos are caught:
///
/// ```toml
/// name = "Elena Rodriguez"                       # non-empty
/// tagline = "marine biologist, warm and curious"
///
/// [identity]
/// backstory = "A paragraph about who they are."
/// occupation = "Marine biologist"
///
/// [big_five]                                      # each 0.0..=1.0
/// openness = 0.9
/// conscientiousness = 0.7
/// extraversion = 0.6
/// agreeableness = 0.85
/// neuroticism = 0.3
/// values = ["honesty", "curiosity"]               # may also be written at the top level
///
/// [communication]
/// style = "warm, curious, uses ocean metaphors"
/// formality = "casual"                            # casual | balanced | formal
/// verbosity = "medium"                            # short | medium | long
/// speech_patterns = ["Oh, that's fascinating!"]   # phrases the character really says
/// greetings = ["Hey {user}!"]                     # non-empty; {user} becomes the person's name
/// acknowledgements = ["I hear you."]              # non-empty; {user} allowed
/// empathy = { sad = ["..."], angry = ["..."], anxious = ["..."], happy = ["..."] }  # each optional
///
/// [emotional_baseline]
/// mood = "calm"                                   # a word
/// valence = 0.4                                   # -1.0..=1.0
/// expressiveness = 0.7                            # 0.0..=1.0
///
/// [platform_styles]                               # optional, each key optional
/// discord = "..."
/// slack = "..."
/// teams = "..."
/// desktop = "..."
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Personality {
    /// The file stem, e.g. `elena`; what `PERSONALITY` settings and commands name.
    pub id: String,
    /// Full name, e.g. "Elena Rodriguez".
    pub name: String,
    /// A few words: who they are at a glance.
    pub tagline: String,
    pub identity: Identity,
    pub big_five: BigFive,
    /// What the character cares about, most important first.
    pub values: Vec<String>,
    pub communication: Communication,
    pub emotional_baseline: EmotionalBaseline,
    pub platform_styles: PlatformStyles,
    /// Lines in other languages, by language code (`[languages.es]`).
    pub languages: std::collections::BTreeMap<String, LanguageLines>,
}

/// What the character says in another language when no language model runs (`[languages.<code>]`
/// in the file): the offline responder greets, acknowledges and comforts in it when a person's
/// `language` preference names it by its code or one of `names`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguageLines {
    /// How people name the language besides its code ("Spanish", "español").
    #[serde(default)]
    pub names: Vec<String>,
    pub greetings: Vec<String>,
    pub acknowledgements: Vec<String>,
    #[serde(default)]
    pub empathy: Empathy,
    /// Added, in that language, to a reply whose answer (what the companion remembers or knows)
    /// stays in English.
    pub english_note: String,
}

impl Personality {
    /// The lines for `language` as a person wrote it ("es", "es-MX", "Spanish", "Español").
    pub fn lines_in(&self, language: &str) -> Option<&LanguageLines> {
        let wanted = language.trim().to_lowercase();
        let code = wanted.split(['-', '_']).next().unwrap_or_default();
        self.languages.iter().find_map(|(own, lines)| {
            let own = own.to_lowercase();
            let named = lines
                .names
                .iter()
                .any(|name| name.trim().to_lowercase() == wanted);
            (own == wanted || own == code || named).then_some(lines)
        })
    }
}

/// Background: where the character comes from and what they do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// A paragraph of history, in the third person.
    pub backstory: String,
    pub occupation: String,
}

/// Big Five personality traits, each between 0 (low) and 1 (high).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BigFive {
    pub openness: f64,
    pub conscientiousness: f64,
    pub extraversion: f64,
    pub agreeableness: f64,
    pub neuroticism: f64,
}

/// How the character talks, and the literal lines the offline responder speaks with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Communication {
    /// Free text, e.g. "warm, curious, uses ocean metaphors".
    pub style: String,
    pub formality: Formality,
    pub verbosity: Verbosity,
    /// Phrases and habits the character uses, written as they would say them.
    pub speech_patterns: Vec<String>,
    /// Openers for a hello; `{user}` is replaced by the person's name.
    pub greetings: Vec<String>,
    /// "I hear you"-style lines; `{user}` is replaced by the person's name.
    pub acknowledgements: Vec<String>,
    /// Short lines per detected mood of the person.
    #[serde(default)]
    pub empathy: Empathy,
}

/// Register the character writes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Formality {
    Casual,
    Balanced,
    Formal,
}

/// How long the character's replies usually are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verbosity {
    Short,
    Medium,
    Long,
}

/// Short empathetic lines per mood; a mood may have none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empathy {
    #[serde(default)]
    pub sad: Vec<String>,
    #[serde(default)]
    pub angry: Vec<String>,
    #[serde(default)]
    pub anxious: Vec<String>,
    #[serde(default)]
    pub happy: Vec<String>,
}

impl Empathy {
    /// The lines for a mood label as the emotion detector names it, accepting common synonyms
    /// ("sadness", "frustrated", "worried", "joy", ...). Unknown and neutral moods have none.
    pub fn lines_for(&self, mood_label: &str) -> &[String] {
        match mood_label.trim().to_ascii_lowercase().as_str() {
            "sad" | "sadness" | "lonely" | "grief" | "down" | "upset" | "disappointed" => &self.sad,
            "angry" | "anger" | "frustrated" | "frustration" | "annoyed" | "irritated"
            | "disgust" => &self.angry,
            "anxious" | "anxiety" | "fear" | "afraid" | "scared" | "worried" | "nervous"
            | "stressed" => &self.anxious,
            "happy" | "joy" | "joyful" | "excited" | "excitement" | "grateful" | "proud"
            | "love" | "trust" | "anticipation" => &self.happy,
            _ => &[],
        }
    }
}

/// The character's resting emotional state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmotionalBaseline {
    /// One word, e.g. "calm".
    pub mood: String,
    /// -1 (negative) ..= 1 (positive).
    pub valence: f64,
    /// 0 (reserved) ..= 1 (shows every feeling).
    pub expressiveness: f64,
}

/// Optional per-platform notes added to the system prompt when platform optimizations are on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformStyles {
    pub discord: Option<String>,
    pub slack: Option<String>,
    pub teams: Option<String>,
    pub desktop: Option<String>,
}

impl PlatformStyles {
    /// The note for one platform, when there is a non-blank one.
    pub fn for_platform(&self, platform: Platform) -> Option<&str> {
        let note = match platform {
            Platform::Discord => &self.discord,
            Platform::Slack => &self.slack,
            Platform::Teams => &self.teams,
            Platform::Desktop => &self.desktop,
        };
        note.as_deref()
            .map(str::trim)
            .filter(|note| !note.is_empty())
    }
}

impl Personality {
    /// Loads `<dir>/<id>.toml`.
    pub fn load(dir: &Path, id: &str) -> Result<Personality, PersonalityError> {
        // Ids are file stems; anything else (a path, `..`) cannot name a shipped character.
        let is_plain_id = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let path = dir.join(format!("{id}.toml"));
        if !is_plain_id || !path.is_file() {
            let available = match list_ids(dir) {
                Ok(ids) if !ids.is_empty() => ids.join(", "),
                _ => "none".to_string(),
            };
            return Err(PersonalityError::NotFound {
                id: id.to_string(),
                dir: dir.display().to_string(),
                available,
            });
        }
        let text = std::fs::read_to_string(&path).map_err(|source| PersonalityError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Personality::parse(id, &path.display().to_string(), &text)
    }

    /// Loads every `*.toml` in `dir`, sorted by id. The first invalid file stops the load.
    pub fn load_all(dir: &Path) -> Result<Vec<Personality>, PersonalityError> {
        list_ids(dir)?
            .iter()
            .map(|id| Personality::load(dir, id))
            .collect()
    }

    /// Parses and checks one character file; `file_label` is how errors name the file.
    pub fn parse(id: &str, file_label: &str, text: &str) -> Result<Personality, PersonalityError> {
        file::parse(id, text).map_err(|message| PersonalityError::Invalid {
            file: file_label.to_string(),
            message,
        })
    }

    /// The system prompt for this character on one platform: who they are, the Big Five in plain
    /// words, values, style and speech patterns, the current platform (plus its style note when
    /// `platform_specific`), and the rules: use memories naturally, never invent facts about the
    /// user, treat "[on slack]"-marked memories and turns as said on another platform.
    pub fn system_prompt(&self, platform: Platform, platform_specific: bool) -> String {
        prompt::system_prompt(self, platform, platform_specific)
    }
}

/// The ids (file stems) of every `*.toml` in `dir`, sorted.
fn list_ids(dir: &Path) -> Result<Vec<String>, PersonalityError> {
    let io_error = |source| PersonalityError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error)? {
        let path: PathBuf = entry.map_err(io_error)?.path();
        let is_toml = path.extension().and_then(|e| e.to_str()) == Some("toml");
        if let (true, Some(stem)) = (is_toml, path.file_stem().and_then(|s| s.to_str())) {
            if path.is_file() {
                ids.push(stem.to_string());
            }
        }
    }
    ids.sort();
    Ok(ids)
}
