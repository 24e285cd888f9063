//! The lexicon-based emotion detector: ten labels (Plutchik's eight, love, and neutral), with
//! intensity, confidence, negation ("not happy") and intensifiers ("so sad") read from one message.

/// The labels the detector and the state use (Plutchik's eight, love, and neutral).
pub const LABELS: [&str; 10] = [
    "joy",
    "sadness",
    "anger",
    "fear",
    "surprise",
    "disgust",
    "trust",
    "anticipation",
    "love",
    "neutral",
];

/// What the detector read in one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Detected {
    /// One of [`LABELS`].
    pub label: &'static str,
    /// -1 (negative) ..= 1 (positive).
    pub valence: f64,
    /// 0 (calm) ..= 1 (agitated).
    pub arousal: f64,
    /// 0 ..= 1.
    pub intensity: f64,
    /// 0 ..= 1: how sure the detector is (lower for mixed or weak signals).
    pub confidence: f64,
}

impl Detected {
    pub fn is_neutral(&self) -> bool {
        self.label == "neutral"
    }

    fn neutral() -> Detected {
        Detected {
            label: "neutral",
            valence: 0.0,
            arousal: 0.0,
            intensity: 0.0,
            confidence: 0.5,
        }
    }
}

/// (label, valence, arousal, words). Stems match word starts ("excit" matches "excited", "exciting").
const LEXICON: &[(&str, f64, f64, &[&str])] = &[
    (
        "joy",
        0.8,
        0.6,
        &[
            "happy",
            "glad",
            "great",
            "wonderful",
            "awesome",
            "joy",
            "delight",
            "good",
            "fantastic",
            "amazing",
            "yay",
            "proud",
            "cheerful",
            "ecstatic",
        ],
    ),
    (
        "sadness",
        -0.7,
        0.3,
        &[
            "sad",
            "unhappy",
            "depress",
            "miserable",
            "cry",
            "crying",
            "heartbroken",
            "down",
            "upset",
            "grief",
            "griev",
            "lonely",
            "alone",
            "hopeless",
            "miss him",
            "miss her",
            "lost my",
            "tired",
            "exhausted",
            "drained",
            "awful",
        ],
    ),
    (
        "anger",
        -0.8,
        0.85,
        &[
            "angry", "furious", "mad", "annoy", "hate", "irritat", "pissed", "frustrat", "rage",
            "outrag",
        ],
    ),
    (
        "fear",
        -0.6,
        0.75,
        &[
            "anxious",
            "worried",
            "worry",
            "nervous",
            "scared",
            "afraid",
            "stress",
            "panic",
            "overwhelm",
            "fear",
            "terrif",
            "dread",
        ],
    ),
    (
        "surprise",
        0.2,
        0.8,
        &[
            "surpris",
            "shock",
            "wow",
            "unexpected",
            "astonish",
            "can't believe",
            "cant believe",
        ],
    ),
    (
        "disgust",
        -0.7,
        0.5,
        &[
            "disgust",
            "gross",
            "revolting",
            "nasty",
            "yuck",
            "sick of",
            "repuls",
        ],
    ),
    (
        "trust",
        0.5,
        0.3,
        &[
            "trust",
            "rely on",
            "count on",
            "believe in",
            "safe with",
            "confident",
        ],
    ),
    (
        "anticipation",
        0.6,
        0.75,
        &[
            "excit",
            "thrill",
            "can't wait",
            "cant wait",
            "looking forward",
            "pumped",
            "stoked",
            "eager",
        ],
    ),
    (
        "love",
        0.9,
        0.5,
        &[
            "love",
            "loving",
            "adore",
            "cherish",
            "grateful",
            "thank",
            "appreciat",
        ],
    ),
];

const INTENSIFIERS: &[&str] = &[
    "very",
    "so",
    "really",
    "extremely",
    "incredibly",
    "super",
    "totally",
    "completely",
];
const NEGATIONS: &[&str] = &[
    "not", "no", "never", "don't", "dont", "isn't", "isnt", "wasn't", "barely", "hardly",
];

/// The (valence, arousal) of a label.
pub fn coordinates(label: &str) -> (f64, f64) {
    LEXICON
        .iter()
        .find(|(own, ..)| *own == label)
        .map_or((0.0, 0.0), |(_, valence, arousal, _)| (*valence, *arousal))
}

/// Reads the dominant emotion of a message. A negated feeling ("not happy") is not that feeling:
/// a negated positive one counts as a weak sadness, a negated negative one as nothing.
pub fn detect(text: &str) -> Detected {
    let lower = text.to_lowercase().replace('’', "'");
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|word| !word.is_empty())
        .collect();
    let mut scores: Vec<(&'static str, f64)> =
        LEXICON.iter().map(|(label, ..)| (*label, 0.0)).collect();
    for (index_label, (_, valence, _, stems)) in LEXICON.iter().enumerate() {
        for stem in *stems {
            if stem.contains(' ') {
                if lower.contains(stem) {
                    scores[index_label].1 += 1.0;
                }
                continue;
            }
            for (index, word) in words.iter().enumerate() {
                if word.starts_with(stem) && (stem.len() >= 4 || *word == *stem) {
                    let before = &words[index.saturating_sub(3)..index];
                    let boost = if before.iter().any(|w| INTENSIFIERS.contains(w)) {
                        1.5
                    } else {
                        1.0
                    };
                    if before.iter().any(|w| NEGATIONS.contains(w)) {
                        if *valence > 0.0 {
                            scores[1].1 += 0.5 * boost; // "not happy" leans sad
                        }
                        continue;
                    }
                    scores[index_label].1 += boost;
                }
            }
        }
    }
    scores.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
    let (label, hits) = scores[0];
    if hits <= 0.0 {
        return Detected::neutral();
    }
    let runner_up = scores[1].1;
    let exclamations = text.matches('!').count().min(3) as f64;
    let shouting = text.len() > 8
        && text
            .chars()
            .filter(|c| c.is_alphabetic())
            .all(|c| c.is_uppercase());
    let intensity = (0.25 + 0.2 * hits + 0.08 * exclamations + if shouting { 0.15 } else { 0.0 })
        .clamp(0.0, 1.0);
    // Sure when the signal is strong and one-sided; less so when mixed or a single weak word.
    let confidence = (0.45 + 0.15 * hits - 0.25 * (runner_up / hits)).clamp(0.2, 0.95);
    let (valence, arousal) = coordinates(label);
    Detected {
        label,
        valence,
        arousal,
        intensity,
        confidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_ten_labels() {
        assert_eq!(detect("I'm so sad today, I miss her").label, "sadness");
        assert_eq!(detect("This is amazing, I'm really happy!").label, "joy");
        assert_eq!(detect("I'm worried about my exam").label, "fear");
        assert_eq!(detect("I'm furious, it's so frustrating").label, "anger");
        assert_eq!(detect("Wow, what a surprise").label, "surprise");
        assert_eq!(detect("That was disgusting and gross").label, "disgust");
        assert_eq!(detect("I trust you, I can count on you").label, "trust");
        assert_eq!(
            detect("I can't wait for the trip, so excited").label,
            "anticipation"
        );
        assert_eq!(
            detect("I adore my grandmother, I'm so grateful for her").label,
            "love"
        );
        assert_eq!(detect("What's the weather like?").label, "neutral");
    }

    #[test]
    fn negation_intensity_and_confidence_are_read() {
        let not_happy = detect("I'm not happy about it");
        assert_eq!(not_happy.label, "sadness");
        assert!(not_happy.intensity < detect("I am sad").intensity + 0.01);
        assert_eq!(detect("I'm not worried at all").label, "neutral");
        assert!(detect("I am very very sad!!!").intensity > detect("I am sad").intensity);
        assert!(
            detect("so sad, heartbroken, crying").confidence
                > detect("sad but also happy").confidence
        );
    }
}
