//! The words the rule-based extractor knows: where a value ends, pets, family, partners.

/// Words that end a value ("I live in Lisbon with my wife" → "Lisbon").
pub(crate) const VALUE_ENDS: &[&str] = &[
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
    // "matcha, not espresso": what follows "not" is what the value is not.
    "not",
    "instead",
    "rather",
];

pub(crate) const PETS: &[&str] = &[
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

pub(crate) const FAMILY: &[&str] = &[
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

pub(crate) const PARTNERS: &[&str] = &[
    "wife",
    "husband",
    "partner",
    "girlfriend",
    "boyfriend",
    "fiance",
    "fiancee",
];

/// Every relation, partner and animal the rules know ("sister", "best friend", "cat").
pub(crate) fn kinds() -> impl Iterator<Item = &'static str> {
    PETS.iter().chain(FAMILY).chain(PARTNERS).copied()
}

/// Whether `subject` is a relation, a partner or an animal the rules know ("sister", "cat").
pub(crate) fn is_relation_or_animal(subject: &str) -> bool {
    kinds().any(|kind| kind == subject)
}

/// The attribute a kind's name is kept under: `pet`, `partner`, else `family`.
pub(crate) fn naming_attribute(kind: &str) -> &'static str {
    if PETS.contains(&kind) {
        "pet"
    } else if PARTNERS.contains(&kind) {
        "partner"
    } else {
        "family"
    }
}
