//! Facts: a rule-based extractor for the common English ways people say things about themselves
//! ("my name is", "I live in / I moved to", "I work as", "I love", "my cat is called", "my sister
//! is called", "my goal is to", "my timezone is", ...), and storing them so a restated or
//! corrected fact UPDATES the current one (the old row is kept, marked superseded).
//!
//! Over 500 lines: the rule extractor and the versioned fact store with tests; the next to split (extractor | store).

use crate::core::Result;
use crate::store::entities::{fact, sync_conflict};
use crate::store::hot::{AccountInfo, FactRecord};
use crate::store::writer::{FactRef, FactWrite};
use crate::store::Store;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use whisperengine_contract::{ConversationContext, Visibility};

/// One fact read from a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    /// `user`, or what the fact is about (`cat`, `sister`).
    pub subject: String,
    pub attribute: &'static str,
    pub value: String,
    /// 0 ..= 1.
    pub confidence: f64,
}

/// Attributes the fact table knows (see docs/memory.md, "Memory model"); the rules and the LLM
/// extractor ([`crate::core::memory::facts_llm`]) both keep to them.
pub const ATTRIBUTES: &[&str] = &[
    "name",
    "pronouns",
    "location",
    "hometown",
    "job",
    "workplace",
    "timezone",
    "birthday",
    "pet",
    "family",
    "partner",
    "likes",
    "dislikes",
    "goal",
    "diet",
    "allergy",
    "languages",
];

/// Attributes a person has several values of at once (a new value adds to them); every other
/// known attribute has one value at a time, and a new value replaces the old one.
const MULTI_VALUED: &[&str] = &["likes", "dislikes", "goal", "allergy"];

/// Words that end a value ("I live in Lisbon with my wife" → "Lisbon").
const VALUE_ENDS: &[&str] = &[
    "what",
    "how",
    "if",
    "whether",
    "and",
    "but",
    "with",
    "because",
    "since",
    "so",
    "now",
    "for",
    "near",
    "who",
    "which",
    "where",
    "when",
    "though",
    "although",
    "anymore",
    "too",
    "lol",
    "haha",
    "last",
    "this",
    "next",
    "in",
    "on",
    "at",
    "about",
    "recently",
    "yesterday",
    "today",
    "ago",
    "back",
    "to",
    "from",
    "every",
];

const PETS: &[&str] = &[
    "cat",
    "dog",
    "puppy",
    "kitten",
    "hamster",
    "parrot",
    "rabbit",
    "bunny",
    "turtle",
    "tortoise",
    "fish",
    "goldfish",
    "horse",
    "snake",
    "lizard",
    "guinea pig",
    "ferret",
    "bird",
];

const FAMILY: &[&str] = &[
    "sister",
    "brother",
    "mother",
    "mom",
    "mum",
    "father",
    "dad",
    "son",
    "daughter",
    "grandmother",
    "grandma",
    "grandfather",
    "grandpa",
    "aunt",
    "uncle",
    "cousin",
    "niece",
    "nephew",
    "best friend",
];

const PARTNERS: &[&str] = &[
    "wife",
    "husband",
    "partner",
    "girlfriend",
    "boyfriend",
    "fiance",
    "fiancee",
];

/// Reads the facts stated in `text`.
pub fn extract(text: &str) -> Vec<Extracted> {
    let mut found = Vec::new();
    for sentence in sentences(text) {
        extract_sentence(&sentence, &mut found);
    }
    found
}

/// Lower-cased sentences with typographic apostrophes folded and "remember that" dropped.
fn sentences(text: &str) -> Vec<String> {
    text.replace(['’', '‘'], "'")
        .split_inclusive(['.', '!', '?', ';', '\n'])
        // A question states nothing ("is my cat called Miso?").
        .filter(|part| !part.trim_end().ends_with('?'))
        .map(|part| part.trim_end_matches(['.', '!', ';', '\n']))
        .map(|part| {
            let lower = part.trim().to_lowercase();
            let lower = lower
                .trim_start_matches("please ")
                .trim_start_matches("remember that ")
                .trim_start_matches("remember ")
                .trim_start_matches("just so you know, ")
                .trim_start_matches("fyi ")
                .trim_start_matches("btw ")
                .trim_start_matches("by the way, ")
                .trim_start_matches("also ")
                .trim_start_matches("oh and ")
                .trim_start_matches("and ");
            lower.to_string()
        })
        .filter(|sentence| !sentence.is_empty())
        .collect()
}

/// The value after a pattern: up to `max_words` words, stopping at a word that ends a value.
fn value_after(rest: &str, max_words: usize) -> Option<String> {
    let words: Vec<&str> = rest
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|word| !word.is_empty())
        .take_while(|word| !VALUE_ENDS.contains(word))
        .take(max_words)
        .collect();
    let value = words.join(" ");
    let value = value.trim_matches(|c: char| !c.is_alphanumeric());
    (!value.is_empty()).then(|| value.to_string())
}

/// Capitalises each word ("são paulo" → "São Paulo"), for names and places.
fn title_case(value: &str) -> String {
    value
        .split(' ')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `rest` after the first of `patterns` found at a word boundary.
fn after<'a>(sentence: &'a str, patterns: &[&str]) -> Option<&'a str> {
    patterns.iter().find_map(|pattern| {
        let mut search_from = 0;
        while let Some(index) = sentence[search_from..].find(pattern) {
            let start = search_from + index;
            let is_word_start = start == 0
                || sentence[..start]
                    .chars()
                    .last()
                    .is_some_and(|c| !c.is_alphanumeric());
            if is_word_start {
                return Some(&sentence[start + pattern.len()..]);
            }
            search_from = start + pattern.len();
        }
        None
    })
}

fn is_negated(sentence: &str) -> bool {
    [
        "don't live",
        "no longer",
        "not anymore",
        "used to",
        "i'm not",
        "i am not",
        "isn't",
        "never",
    ]
    .iter()
    .any(|marker| sentence.contains(marker))
}

fn push(
    found: &mut Vec<Extracted>,
    subject: &str,
    attribute: &'static str,
    value: String,
    confidence: f64,
) {
    if value.chars().count() > 120 {
        return;
    }
    found.push(Extracted {
        subject: subject.to_string(),
        attribute,
        value,
        confidence,
    });
}

fn extract_sentence(sentence: &str, found: &mut Vec<Extracted>) {
    let negated = is_negated(sentence);
    if !negated {
        if let Some(name) = after(
            sentence,
            &[
                "my name is ",
                "my name's ",
                "call me ",
                "i'm called ",
                "i am called ",
            ],
        )
        .and_then(|rest| value_after(rest, 3))
        {
            push(found, "user", "name", title_case(&name), 0.9);
        }
        if let Some(pronouns) = after(sentence, &["my pronouns are ", "i use the pronouns "])
            .and_then(|rest| value_after(rest, 1))
        {
            push(found, "user", "pronouns", pronouns, 0.9);
        }
        if let Some(place) = after(
            sentence,
            &[
                "i live in ",
                "i'm living in ",
                "i am living in ",
                "i moved to ",
                "i've moved to ",
                "i have moved to ",
                "i just moved to ",
                "i relocated to ",
                "i'm based in ",
                "i am based in ",
                "we moved to ",
                "i now live in ",
            ],
        )
        .and_then(|rest| value_after(rest, 3))
        {
            push(found, "user", "location", title_case(&place), 0.85);
        }
        if let Some(place) = after(
            sentence,
            &["i'm from ", "i am from ", "i grew up in ", "i was born in "],
        )
        .and_then(|rest| value_after(rest, 3))
        {
            push(found, "user", "hometown", title_case(&place), 0.8);
        }
        if let Some(job) = after(
            sentence,
            &[
                "i work as a ",
                "i work as an ",
                "i work as ",
                "my job is ",
                "i'm working as a ",
                "i am working as a ",
                "my profession is ",
            ],
        )
        .and_then(|rest| value_after(rest, 4))
        {
            let job = job
                .trim_start_matches("a ")
                .trim_start_matches("an ")
                .to_string();
            push(found, "user", "job", job, 0.85);
        }
        if let Some(employer) =
            after(sentence, &["i work at ", "i work for "]).and_then(|rest| value_after(rest, 4))
        {
            push(found, "user", "workplace", title_case(&employer), 0.8);
        }
        if let Some(zone) = after(sentence, &["my timezone is ", "my time zone is "])
            .and_then(|rest| value_after(rest, 2))
        {
            push(found, "user", "timezone", zone, 0.9);
        }
        if let Some(day) = after(sentence, &["my birthday is ", "my birthday's "])
            .and_then(|rest| value_after(rest, 4))
        {
            push(found, "user", "birthday", day, 0.9);
        }
        if let Some(goal) = after(
            sentence,
            &[
                "my goal is to ",
                "my dream is to ",
                "i want to ",
                "i'm trying to ",
                "i am trying to ",
                "i hope to ",
                "i plan to ",
                "i'm planning to ",
            ],
        )
        .and_then(|rest| value_after(rest, 6))
        {
            push(found, "user", "goal", goal, 0.7);
        }
        for diet in ["vegan", "vegetarian", "pescatarian"] {
            if after(sentence, &["i'm ", "i am "]).is_some_and(|rest| {
                rest.split(|c: char| !c.is_alphanumeric())
                    .take(3)
                    .any(|word| word == diet)
            }) {
                push(found, "user", "diet", diet.to_string(), 0.85);
            }
        }
        if let Some(allergy) = after(sentence, &["i'm allergic to ", "i am allergic to "])
            .and_then(|rest| value_after(rest, 3))
        {
            push(found, "user", "allergy", allergy, 0.9);
        }
        if let Some(languages) = after(sentence, &["i speak "]).and_then(|rest| {
            let words: Vec<&str> = rest.split_whitespace().take(6).collect();
            (!words.is_empty()).then(|| words.join(" "))
        }) {
            push(
                found,
                "user",
                "languages",
                languages
                    .trim_matches(|c: char| !c.is_alphanumeric())
                    .to_string(),
                0.8,
            );
        }
        extract_named(sentence, PETS, "pet", found);
        extract_named(sentence, FAMILY, "family", found);
        extract_named(sentence, PARTNERS, "partner", found);
    }
    // Dislikes first, so "I don't like X" is not read as liking X.
    if let Some(thing) = after(
        sentence,
        &[
            "i don't like ",
            "i do not like ",
            "i hate ",
            "i dislike ",
            "i can't stand ",
            "i cannot stand ",
        ],
    )
    .and_then(|rest| value_after(rest, 4))
    {
        push(found, "user", "dislikes", thing, 0.75);
    } else if !negated {
        if let Some(thing) = after(
            sentence,
            &[
                "i really love ",
                "i really like ",
                "i love ",
                "i like ",
                "i enjoy ",
                "i adore ",
                "i'm into ",
                "i am into ",
                "i'm a big fan of ",
                "i'm a fan of ",
            ],
        )
        .and_then(|rest| value_after(rest, 4))
        {
            if !["you", "it", "that", "this", "to"].contains(&thing.as_str()) {
                push(found, "user", "likes", thing, 0.7);
            }
        }
        if let Some(rest) = after(sentence, &["my favourite ", "my favorite "]) {
            if let Some((what, value)) = rest.split_once(" is ") {
                if let Some(value) = value_after(value, 4) {
                    push(
                        found,
                        "user",
                        "likes",
                        format!("{value} ({})", what.trim()),
                        0.8,
                    );
                }
            }
        }
    }
}

/// "my cat is called Miso", "my cat's name is Miso", "i have a cat called/named Miso".
fn extract_named(
    sentence: &str,
    kinds: &[&str],
    attribute: &'static str,
    found: &mut Vec<Extracted>,
) {
    for kind in kinds {
        let patterns = [
            format!("my {kind} is called "),
            format!("my {kind} is named "),
            format!("my {kind}'s name is "),
            format!("my {kind} is "),
            format!("a {kind} called "),
            format!("a {kind} named "),
        ];
        for (index, pattern) in patterns.iter().enumerate() {
            let Some(rest) = after(sentence, &[pattern.as_str()]) else {
                continue;
            };
            // "my sister is a nurse" is not a name: accept "my X is <Name>" only for one word.
            let max_words = if index == 3 { 1 } else { 2 };
            let Some(name) = value_after(rest, max_words) else {
                continue;
            };
            if index == 3
                && ([
                    "a", "an", "the", "very", "so", "really", "sick", "old", "young", "called",
                    "named",
                ]
                .contains(&name.as_str())
                    || rest.split_whitespace().count() > 2)
            {
                continue;
            }
            push(
                found,
                kind,
                attribute,
                title_case(&name),
                if index == 3 { 0.6 } else { 0.85 },
            );
            return;
        }
    }
}

/// Whether a new value for (subject, attribute) replaces the current one rather than adding to it.
pub fn is_single_valued(attribute: &str) -> bool {
    ATTRIBUTES.contains(&attribute) && !MULTI_VALUED.contains(&attribute)
}

/// The key under which facts replace each other.
fn same_slot(current: &FactRecord, new: &Extracted) -> bool {
    if current.subject != new.subject {
        return false;
    }
    if current.attribute == new.attribute {
        return is_single_valued(new.attribute) || current.value.eq_ignore_ascii_case(&new.value);
    }
    // Liking what you said you disliked (or the reverse) replaces it.
    matches!(
        (current.attribute.as_str(), new.attribute),
        ("likes", "dislikes") | ("dislikes", "likes")
    ) && current.value.eq_ignore_ascii_case(&new.value)
}

/// What happened to one extracted fact.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// A new fact (maybe replacing `replaced`).
    Added {
        fact: FactRecord,
        replaced: Option<FactRecord>,
    },
    /// The same value restated: only its time and confidence moved.
    Confirmed(FactRecord),
}

/// Stores extracted facts for `account`, updating `current` (the identity's current facts). A fact
/// replacing another keeps the old row as history (`superseded_at`, `superseded_by`).
///
/// The changes are planned against a copy of `current`, then committed together through the
/// group-commit writer (one commit shared with other messages' writes, not one per fact); facts
/// added here carry a placeholder id (`-1 - position`) until the writer returns the real ones.
pub async fn store(
    store: &Store,
    account: &AccountInfo,
    context: &ConversationContext,
    extracted: &[Extracted],
    current: &mut Vec<FactRecord>,
    now: DateTime<Utc>,
) -> Result<Vec<Stored>> {
    let mut working = current.clone();
    let mut writes = Vec::new();
    let mut outcomes = Vec::new();
    for new in extracted {
        let existing = working.iter().position(|fact| same_slot(fact, new));
        if let Some(index) = existing {
            let old = &mut working[index];
            if old.attribute == new.attribute && old.value.eq_ignore_ascii_case(&new.value) {
                let confidence = (old.confidence.max(new.confidence) + 0.05).min(1.0);
                writes.push(FactWrite::Confirm {
                    fact: fact_ref(old.id),
                    confidence,
                    updated_at: now,
                });
                old.confidence = confidence;
                old.updated_at = now;
                outcomes.push(Stored::Confirmed(old.clone()));
                continue;
            }
        }
        let row = fact::ActiveModel {
            account_id: Set(account.id),
            subject: Set(new.subject.clone()),
            attribute: Set(new.attribute.to_string()),
            value: Set(crate::store::crypto::sealed(
                store.cipher.as_deref(),
                &new.value,
            )),
            confidence: Set(new.confidence),
            platform: Set(account.platform.as_str().to_string()),
            scope: Set(context.scope.clone()),
            visibility: Set(context.visibility.as_str().to_string()),
            created_at: Set(now),
            updated_at: Set(now),
            superseded_at: Set(None),
            superseded_by: Set(None),
            ..Default::default()
        };
        let replaced = existing.map(|index| working.remove(index));
        let record = FactRecord {
            id: -1 - writes.len() as i64,
            account_id: account.id,
            subject: new.subject.clone(),
            attribute: new.attribute.to_string(),
            value: new.value.clone(),
            confidence: new.confidence,
            platform: account.platform,
            scope: context.scope.clone(),
            visibility: context.visibility,
            updated_at: now,
        };
        writes.push(FactWrite::Add {
            row: Box::new(row),
            replaces: replaced.as_ref().map(|old| fact_ref(old.id)),
        });
        working.push(record.clone());
        outcomes.push(Stored::Added {
            fact: record,
            replaced,
        });
    }
    let ids = store.writer.write_facts(writes).await?;
    let real = |id: i64| match fact_ref(id) {
        FactRef::Added(index) => ids.get(index).copied().unwrap_or(id),
        FactRef::Stored(id) => id,
    };
    for fact in &mut working {
        fact.id = real(fact.id);
    }
    for outcome in &mut outcomes {
        match outcome {
            Stored::Added { fact, replaced } => {
                fact.id = real(fact.id);
                if let Some(replaced) = replaced {
                    replaced.id = real(replaced.id);
                }
            }
            Stored::Confirmed(fact) => fact.id = real(fact.id),
        }
    }
    *current = working;
    Ok(outcomes)
}

/// A fact id as the writer refers to it: placeholders (negative) name this call's additions.
fn fact_ref(id: i64) -> FactRef {
    if id < 0 {
        FactRef::Added((-1 - id) as usize)
    } else {
        FactRef::Stored(id)
    }
}

/// Records, as resolved conflicts, facts that replaced a fact told on ANOTHER platform within
/// `window` (SETTINGS_SYNC_INTERVAL): the newer statement is current, the older one stays as
/// history, and the person can see the clash with `conflicts`.
pub async fn record_contradictions(
    store: &Store,
    identity: uuid::Uuid,
    outcomes: &[Stored],
    window: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<usize> {
    let window =
        chrono::Duration::from_std(window).unwrap_or_else(|_| chrono::Duration::seconds(300));
    let mut recorded = 0;
    for outcome in outcomes {
        let Stored::Added {
            fact,
            replaced: Some(old),
        } = outcome
        else {
            continue;
        };
        if old.platform == fact.platform || now - old.updated_at >= window {
            continue;
        }
        sync_conflict::ActiveModel {
            identity_id: Set(identity),
            kind: Set("fact".into()),
            key: Set(format!("{}.{}", fact.subject, fact.attribute)),
            kept_value: Set(crate::store::crypto::sealed(
                store.cipher.as_deref(),
                &fact.value,
            )),
            other_value: Set(crate::store::crypto::sealed(
                store.cipher.as_deref(),
                &old.value,
            )),
            kept_platform: Set(fact.platform.as_str().to_string()),
            other_platform: Set(old.platform.as_str().to_string()),
            strategy: Set("latest_wins".into()),
            status: Set("resolved".into()),
            resolution: Set(Some(
                "the newer statement is current; the older one is kept as history".into(),
            )),
            created_at: Set(now),
            resolved_at: Set(Some(now)),
            ..Default::default()
        }
        .insert(&store.db)
        .await?;
        metrics::counter!("whisperengine_sync_conflicts_total", "kind" => "fact").increment(1);
        recorded += 1;
    }
    Ok(recorded)
}

/// Forgets the facts a memory stated (before the memory itself is forgotten): its text is read
/// again and the matching facts of its account (current or history) are deleted. A fact that was
/// since replaced by another statement goes with it; the newer one stays.
pub async fn forget_stated_in(
    db: &impl sea_orm::ConnectionTrait,
    cipher: Option<&crate::store::crypto::ContentCipher>,
    memory_id: i64,
    account_ids: &[i64],
) -> Result<u64> {
    let Some(row) = crate::store::entities::memory::Entity::find_by_id(memory_id)
        .filter(crate::store::entities::memory::Column::AccountId.is_in(account_ids.to_vec()))
        .one(db)
        .await?
    else {
        return Ok(0);
    };
    let content = crate::store::crypto::readable(cipher, &row.content);
    let mut doomed = Vec::new();
    for stated in extract(&content) {
        // Values may be sealed (a fresh nonce each time), so they are compared once opened.
        let candidates = fact::Entity::find()
            .filter(fact::Column::AccountId.eq(row.account_id))
            .filter(fact::Column::Subject.eq(stated.subject.as_str()))
            .filter(fact::Column::Attribute.eq(stated.attribute))
            .all(db)
            .await?;
        doomed.extend(
            candidates
                .iter()
                .filter(|fact| crate::store::crypto::readable(cipher, &fact.value) == stated.value)
                .map(|fact| fact.id),
        );
    }
    if doomed.is_empty() {
        return Ok(0);
    }
    let deleted = fact::Entity::delete_many()
        .filter(fact::Column::Id.is_in(doomed))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}

/// The current facts of these accounts.
pub async fn load_current(
    db: &impl sea_orm::ConnectionTrait,
    cipher: Option<&crate::store::crypto::ContentCipher>,
    account_ids: &[i64],
) -> Result<Vec<FactRecord>> {
    let rows = fact::Entity::find()
        .filter(fact::Column::AccountId.is_in(account_ids.to_vec()))
        .filter(fact::Column::SupersededAt.is_null())
        .all(db)
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| usable_fact(row, cipher))
        .collect())
}

/// [`fact_record`], or `None` for a fact whose value cannot be used (altered, or in clear under
/// DATA_ENCRYPTION_KEY): the companion does not rely on it.
pub fn usable_fact(
    row: &fact::Model,
    cipher: Option<&crate::store::crypto::ContentCipher>,
) -> Option<FactRecord> {
    let value = crate::store::crypto::opened(cipher, &row.value)?;
    Some(FactRecord {
        value,
        ..fact_record_with(row, String::new())
    })
}

/// Maps a stored fact row, its value opened with `cipher` when DATA_ENCRYPTION_KEY is set.
pub fn fact_record(
    row: &fact::Model,
    cipher: Option<&crate::store::crypto::ContentCipher>,
) -> FactRecord {
    fact_record_with(row, crate::store::crypto::readable(cipher, &row.value))
}

fn fact_record_with(row: &fact::Model, value: String) -> FactRecord {
    FactRecord {
        id: row.id,
        account_id: row.account_id,
        subject: row.subject.clone(),
        attribute: row.attribute.clone(),
        value,
        confidence: row.confidence,
        platform: row
            .platform
            .parse()
            .unwrap_or(whisperengine_contract::Platform::Desktop),
        scope: row.scope.clone(),
        visibility: Visibility::parse(&row.visibility).unwrap_or(Visibility::Private),
        updated_at: row.updated_at,
    }
}

/// The fact as a short phrase in the second person: "you live in Lisbon", "your cat is called Miso".
pub fn phrase(fact: &FactRecord) -> String {
    let value = &fact.value;
    match fact.attribute.as_str() {
        "name" => format!("your name is {value}"),
        "pronouns" => format!("your pronouns are {value}"),
        "location" => format!("you live in {value}"),
        "hometown" => format!("you're from {value}"),
        "job" => format!("you work as {}", with_article(value)),
        "workplace" => format!("you work at {value}"),
        "timezone" => format!("your time zone is {value}"),
        "birthday" => format!("your birthday is {value}"),
        "goal" => format!("you want to {value}"),
        "likes" => format!("you like {value}"),
        "dislikes" => format!("you don't like {value}"),
        "pet" | "family" | "partner" => format!("your {} is called {value}", fact.subject),
        "diet" => format!("you're {value}"),
        "allergy" => format!("you're allergic to {value}"),
        "languages" => format!("you speak {value}"),
        other => format!("your {other} is {value}"),
    }
}

fn with_article(value: &str) -> String {
    let starts_with_vowel = value
        .chars()
        .next()
        .is_some_and(|c| "aeiou".contains(c.to_ascii_lowercase()));
    if starts_with_vowel {
        format!("an {value}")
    } else {
        format!("a {value}")
    }
}

/// Words a question about this fact may use, for ranking facts against a message.
pub fn search_text(fact: &FactRecord) -> String {
    let attribute_words = match fact.attribute.as_str() {
        "location" => "live city home",
        "hometown" => "from grew born",
        "job" => "job work",
        "workplace" => "work company",
        "timezone" => "timezone time zone",
        "birthday" => "birthday born",
        "goal" => "goal want",
        "likes" => "like",
        "dislikes" => "dislike hate",
        "pet" => "pet",
        "family" => "family",
        "partner" => "partner",
        "pronouns" => "pronouns",
        "diet" => "diet eat food",
        "allergy" => "allergic allergy",
        "languages" => "languages speak",
        other => other,
    };
    format!("{} {attribute_words} {}", fact.subject, fact.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> (String, &'static str, String) {
        let found = extract(text);
        assert_eq!(found.len(), 1, "{text}: {found:?}");
        let fact = &found[0];
        (fact.subject.clone(), fact.attribute, fact.value.clone())
    }

    #[test]
    fn common_phrasings_are_read() {
        assert_eq!(
            one("My name is ana silva."),
            ("user".into(), "name", "Ana Silva".into())
        );
        assert_eq!(
            one("I live in Porto with my wife"),
            ("user".into(), "location", "Porto".into())
        );
        assert_eq!(
            one("I moved to Lisbon last month"),
            ("user".into(), "location", "Lisbon".into())
        );
        assert_eq!(
            one("I work as a nurse"),
            ("user".into(), "job", "nurse".into())
        );
        assert_eq!(
            one("my cat is called Miso"),
            ("cat".into(), "pet", "Miso".into())
        );
        assert_eq!(
            one("My sister's name is Joana"),
            ("sister".into(), "family", "Joana".into())
        );
        assert_eq!(
            one("I love sailing"),
            ("user".into(), "likes", "sailing".into())
        );
        assert_eq!(
            one("I don't like olives"),
            ("user".into(), "dislikes", "olives".into())
        );
        assert_eq!(
            one("my pronouns are she/her"),
            ("user".into(), "pronouns", "she/her".into())
        );
        assert_eq!(
            one("Remember that my timezone is Europe/Lisbon"),
            ("user".into(), "timezone", "europe/lisbon".into())
        );
        assert_eq!(
            one("my goal is to run a marathon"),
            ("user".into(), "goal", "run a marathon".into())
        );
    }

    #[test]
    fn non_facts_are_not_read() {
        for text in [
            "what's my cat called?",
            "I don't live in Porto anymore",
            "hello there",
            "my sister is a very kind person",
        ] {
            let found = extract(text);
            assert!(
                found
                    .iter()
                    .all(|f| f.attribute != "location" && f.attribute != "family"),
                "{text}: {found:?}"
            );
        }
        assert!(extract("I love you").is_empty());
    }

    fn record(attribute: &str, subject: &str, value: &str) -> FactRecord {
        FactRecord {
            id: 1,
            account_id: 1,
            subject: subject.into(),
            attribute: attribute.into(),
            value: value.into(),
            confidence: 0.8,
            platform: whisperengine_contract::Platform::Slack,
            scope: String::new(),
            visibility: Visibility::Dm,
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn single_valued_facts_replace_and_lists_accumulate() {
        let moved = &extract("I moved to Lisbon")[0];
        assert!(same_slot(&record("location", "user", "Porto"), moved));
        let likes = &extract("I love jazz")[0];
        assert!(!same_slot(&record("likes", "user", "sailing"), likes));
        assert!(same_slot(&record("dislikes", "user", "jazz"), likes));
        // A name that is no word ("<!here>") is no fact; "called" itself is never the name.
        assert!(extract("my cat is called <!here>").is_empty());
        let dog = &extract("my dog is called Rex")[0];
        assert!(!same_slot(&record("pet", "cat", "Miso"), dog));
        assert_eq!(
            phrase(&record("pet", "cat", "Miso")),
            "your cat is called Miso"
        );
    }
}
