//! The evaluation set's generator: deterministic (a seeded [`StdRng`]), so every run of
//! `--recall` evaluates the same conversations and questions.
//!
//! Each conversation is one person talking to the companion over [`SESSIONS`] evenings a few
//! weeks apart. The person gets a profile — a home city they later move away from, a job, a
//! morning drink they give up, an allergy, a favourite book, three hobbies, a sibling, a parent,
//! a partner, a pet and three friends, each relative, friend and pet with attributes of their own
//! (a sibling's city is never the person's) — and every attribute is said in exactly one turn,
//! in one of several phrasings, placed in a session after the one that introduced whom it is
//! about. Around those turns: greetings, small talk, reactions, everyday stories, questions to
//! the companion itself. About a fifth of the statements end with a question of their own ("…
//! have you ever tried it?"), as people write. Every turn's text is unique within its
//! conversation, so evidence is found again by its text.
//!
//! Questions are written as people ask them later, not copied from the turn: single hop ("What do
//! I do for a living?"), multi hop (the turn introducing "my sister Ines" and the turn saying
//! "Ines lives in Porto" for "Which city does my sister live in?"), temporal ("When did Pixel
//! come to live with me?", evidence the turn that told it with its relative date) and open domain
//! ("Would a week in the Dolomites be my kind of holiday?", evidence every climbing turn).
//!
//! Over 500 lines: one conversation's whole plan — profile, statements, placement and questions —
//! reads best in one place; the words themselves are in [`super::vocabulary`].

use super::vocabulary::{self as words, fill, Hobby};
use super::{Category, Conversation, Question, Session, Turn, QUESTION_DAY};
use chrono::{Days, NaiveDate};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};

/// Sessions per conversation.
pub const SESSIONS: usize = 12;
/// Turns per session, before the planned statements are counted in (each session gets at least
/// this many, give or take [`SESSION_SPREAD`]).
const SESSION_TURNS: usize = 27;
const SESSION_SPREAD: usize = 3;
/// Share of statements that end with a question of their own.
const TAIL_SHARE: f64 = 0.2;
/// Share of the filler that is a question to the companion.
const QUESTION_SHARE: f64 = 0.17;
/// Share of the filler that is a short reaction (the rest: everyday statements).
const REACTION_SHARE: f64 = 0.34;

/// `count` conversations with their questions, the same for the same `seed`.
pub fn evaluation_set(count: usize, seed: u64) -> Vec<Conversation> {
    (0..count)
        .map(|index| {
            let mut rng = StdRng::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x9E37_79B9));
            conversation(index, &mut rng)
        })
        .collect()
}

/// A statement planned for a session, with the tags questions name it by.
struct Planned {
    text: String,
    tags: Vec<String>,
}

/// A question before its tags are turned into turn indices.
struct Asked {
    category: Category,
    text: String,
    /// Tags of the evidence turns; a tag ending with `*` names every turn whose tag starts so.
    tags: Vec<String>,
}

/// A person of the conversation other than the speaker: name and pronouns.
#[derive(Clone, Copy)]
struct Someone {
    name: &'static str,
    they: &'static str,
    their: &'static str,
    them: &'static str,
}

impl Someone {
    fn slots(&self) -> [(&'static str, &'static str); 4] {
        [
            ("name", self.name),
            ("they", self.they),
            ("their", self.their),
            ("them", self.them),
        ]
    }
}

struct Planner<'r> {
    rng: &'r mut StdRng,
    sessions: Vec<Vec<Planned>>,
    asked: Vec<Asked>,
    used: HashSet<String>,
}

impl Planner<'_> {
    fn pick<T: Copy>(&mut self, list: &[T]) -> T {
        list[self.rng.gen_range(0..list.len())]
    }

    /// A session in `low..=high` (clamped to the conversation).
    fn session(&mut self, low: usize, high: usize) -> usize {
        let high = high.min(SESSIONS - 1);
        let low = low.min(high);
        self.rng.gen_range(low..=high)
    }

    /// Plans `text` in session `session` under `tags`; returns the session.
    fn say(&mut self, session: usize, text: String, tags: &[&str]) -> usize {
        let text = self.with_tail(text);
        self.used.insert(text.clone());
        self.sessions[session].push(Planned {
            text,
            tags: tags.iter().map(|tag| tag.to_string()).collect(),
        });
        session
    }

    /// One of `templates`, filled.
    fn phrase(&mut self, templates: &[&str], slots: &[(&str, &str)]) -> String {
        fill(self.pick(templates), slots)
    }

    /// Sometimes a statement ends with a question of its own.
    fn with_tail(&mut self, text: String) -> String {
        if self.rng.gen_bool(TAIL_SHARE) {
            let join = self.pick(words::TAIL_JOINS);
            let tail = self.pick(words::STATEMENT_QUESTION_TAILS);
            format!("{text}{join}{tail}")
        } else {
            text
        }
    }

    fn ask(
        &mut self,
        category: Category,
        templates: &[&str],
        slots: &[(&str, &str)],
        tags: &[&str],
    ) {
        let text = self.phrase(templates, slots);
        self.asked.push(Asked {
            category,
            text,
            tags: tags.iter().map(|tag| tag.to_string()).collect(),
        });
    }
}

/// `count` distinct items of `list`, in random order.
fn distinct<T: Copy>(rng: &mut StdRng, list: &[T], count: usize) -> Vec<T> {
    let mut all = list.to_vec();
    all.shuffle(rng);
    all.truncate(count);
    all
}

fn someone(entry: (&'static str, &'static str, &'static str, &'static str)) -> Someone {
    Someone {
        name: entry.0,
        they: entry.1,
        their: entry.2,
        them: entry.3,
    }
}

fn conversation(index: usize, rng: &mut StdRng) -> Conversation {
    let mut planner = Planner {
        rng,
        sessions: (0..SESSIONS).map(|_| Vec::new()).collect(),
        asked: Vec::new(),
        used: HashSet::new(),
    };
    plan(&mut planner);
    let Planner {
        rng,
        sessions: planned,
        asked,
        mut used,
    } = planner;
    let sessions = dates(rng);
    let mut filler = Filler::new(rng);
    let mut turns: Vec<Turn> = Vec::new();
    let mut tags: Vec<(String, usize)> = Vec::new();
    for (session, items) in planned.into_iter().enumerate() {
        let size = (SESSION_TURNS + rng.gen_range(0..=2 * SESSION_SPREAD) - SESSION_SPREAD)
            .max(items.len() + 8);
        let fill_count = size - items.len() - 2;
        let mut texts: Vec<(String, Vec<String>)> = Vec::new();
        texts.push((filler.next(rng, FillerKind::Opener, &mut used), Vec::new()));
        let mut items = items.into_iter().peekable();
        let mut remaining_fill = fill_count;
        while items.peek().is_some() || remaining_fill > 0 {
            let remaining_items = items.len();
            let take_item = remaining_fill == 0
                || (remaining_items > 0
                    && rng.gen_range(0..remaining_items + remaining_fill) < remaining_items);
            if take_item {
                if let Some(item) = items.next() {
                    texts.push((item.text, item.tags));
                }
            } else {
                remaining_fill -= 1;
                let kind = FillerKind::draw(rng);
                texts.push((filler.next(rng, kind, &mut used), Vec::new()));
            }
        }
        texts.push((filler.next(rng, FillerKind::Closer, &mut used), Vec::new()));
        let mut minute = 0;
        for (text, turn_tags) in texts {
            for tag in turn_tags {
                tags.push((tag, turns.len()));
            }
            turns.push(Turn {
                text,
                session,
                minute,
            });
            minute += rng.gen_range(1..=4);
        }
    }
    let mut questions: Vec<Question> = asked
        .into_iter()
        .map(|asked| Question {
            category: asked.category,
            text: asked.text,
            about: asked.tags.join("+"),
            evidence: evidence(&tags, &asked.tags),
        })
        .filter(|question| !question.evidence.is_empty())
        .collect();
    questions.shuffle(rng);
    Conversation {
        user: format!("recall-person-{index}"),
        sessions,
        turns,
        questions,
    }
}

/// The turns tagged with any of `wanted` (a tag ending with `*` is a prefix), in order.
fn evidence(tags: &[(String, usize)], wanted: &[String]) -> Vec<usize> {
    let mut found: Vec<usize> = tags
        .iter()
        .filter(|(tag, _)| {
            wanted.iter().any(|want| match want.strip_suffix('*') {
                Some(prefix) => tag.starts_with(prefix),
                None => tag == want,
            })
        })
        .map(|(_, turn)| *turn)
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

/// Session dates: the last a few days before [`QUESTION_DAY`], each earlier one two to four weeks
/// before the next, so a conversation spans about seven months.
fn dates(rng: &mut StdRng) -> Vec<Session> {
    let (year, month, day) = QUESTION_DAY;
    let question_day = NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default();
    let mut back = rng.gen_range(2..=9);
    let mut offsets = Vec::with_capacity(SESSIONS);
    for _ in 0..SESSIONS {
        offsets.push(back);
        back += rng.gen_range(12..=28);
    }
    offsets.reverse();
    offsets
        .into_iter()
        .map(|offset| Session {
            date: question_day
                .checked_sub_days(Days::new(offset))
                .unwrap_or(question_day),
            hour: rng.gen_range(8..=21),
        })
        .collect()
}

#[derive(Clone, Copy)]
enum FillerKind {
    Opener,
    Closer,
    Reaction,
    Daily,
    Question,
}

impl FillerKind {
    fn draw(rng: &mut StdRng) -> FillerKind {
        let roll: f64 = rng.gen();
        if roll < QUESTION_SHARE {
            FillerKind::Question
        } else if roll < QUESTION_SHARE + REACTION_SHARE {
            FillerKind::Reaction
        } else {
            FillerKind::Daily
        }
    }
}

/// The conversation's small talk, each line used once and each base at most once or twice (a
/// reaction a few times, as people repeat "haha").
struct Filler {
    openers: Vec<String>,
    closers: Vec<String>,
    reactions: Vec<String>,
    daily: Vec<String>,
    questions: Vec<String>,
}

impl Filler {
    fn new(rng: &mut StdRng) -> Filler {
        let affixed = |rng: &mut StdRng, bases: &[&str], affixes: &[&str], uses: usize| {
            let mut all: Vec<String> = Vec::new();
            for base in bases {
                let mut chosen = distinct(rng, affixes, uses);
                chosen.sort_unstable();
                chosen.dedup();
                for affix in chosen {
                    all.push(format!("{base}{affix}"));
                }
            }
            all.shuffle(rng);
            all
        };
        let mut daily: Vec<String> = words::DAILY
            .iter()
            .map(|base| {
                format!(
                    "{}{base}",
                    words::DAILY_PREFIXES[rng.gen_range(0..words::DAILY_PREFIXES.len())]
                )
            })
            .collect();
        for activity in words::ACTIVITIES {
            for when in distinct(rng, words::WHEN, 2) {
                let comment = words::COMMENTS[rng.gen_range(0..words::COMMENTS.len())];
                daily.push(format!("{when} I {activity}, {comment}"));
            }
        }
        daily.shuffle(rng);
        let mut questions: Vec<String> = words::COMPANION_QUESTIONS
            .iter()
            .map(|base| {
                format!(
                    "{}{base}",
                    words::QUESTION_PREFIXES[rng.gen_range(0..words::QUESTION_PREFIXES.len())]
                )
            })
            .collect();
        questions.shuffle(rng);
        Filler {
            openers: affixed(rng, words::OPENERS, &["", " :)"], 1),
            closers: affixed(rng, words::CLOSERS, &["", " x"], 1),
            reactions: affixed(rng, words::REACTIONS, words::REACTION_TAILS, 3),
            daily,
            questions,
        }
    }

    fn has(&self, kind: FillerKind) -> bool {
        !match kind {
            FillerKind::Opener => &self.openers,
            FillerKind::Closer => &self.closers,
            FillerKind::Reaction => &self.reactions,
            FillerKind::Daily => &self.daily,
            FillerKind::Question => &self.questions,
        }
        .is_empty()
    }

    /// The next unused line of `kind` (statements sometimes with a question tail).
    fn next(&mut self, rng: &mut StdRng, kind: FillerKind, used: &mut HashSet<String>) -> String {
        loop {
            let (pool, tails) = match kind {
                FillerKind::Opener => (&mut self.openers, None),
                FillerKind::Closer => (&mut self.closers, None),
                FillerKind::Reaction => (&mut self.reactions, Some(words::REACTION_QUESTION_TAILS)),
                FillerKind::Daily => (&mut self.daily, Some(words::GENERIC_TAILS)),
                FillerKind::Question => (&mut self.questions, None),
            };
            let Some(mut text) = pool.pop() else {
                // A used-up pool borrows from the others; past all of them (never with the
                // pools' sizes) a numbered line keeps texts unique.
                let others = [
                    FillerKind::Daily,
                    FillerKind::Reaction,
                    FillerKind::Question,
                ];
                if let Some(other) = others.into_iter().find(|other| self.has(*other)) {
                    return self.next(rng, other, used);
                }
                let text = format!("ok, moving on ({})", used.len());
                used.insert(text.clone());
                return text;
            };
            if let Some(tails) = tails {
                if rng.gen_bool(TAIL_SHARE) {
                    if text.ends_with('!') {
                        text.pop();
                    }
                    let join = if matches!(kind, FillerKind::Reaction) {
                        ", "
                    } else {
                        words::TAIL_JOINS[rng.gen_range(0..words::TAIL_JOINS.len())]
                    };
                    text = format!("{text}{join}{}", tails[rng.gen_range(0..tails.len())]);
                }
            }
            if used.insert(text.clone()) {
                return text;
            }
        }
    }
}

/// Plans one person's statements and the questions about them.
fn plan(p: &mut Planner<'_>) {
    let people = distinct(p.rng, words::PEOPLE, 7);
    let [sibling, parent, partner, f0, f1, f2, _] =
        [0, 1, 2, 3, 4, 5, 6].map(|i| someone(people[i]));
    let cities = distinct(p.rng, words::CITIES, 7);
    let [old_city, new_city, sibling_city, parent_city, f0_city, f1_city, f2_city] =
        [0, 1, 2, 3, 4, 5, 6].map(|i| cities[i]);
    let jobs = distinct(p.rng, words::JOBS, 6);
    let workplaces = distinct(p.rng, words::WORKPLACES, 2);
    let hobbies: Vec<&Hobby> = {
        let mut all: Vec<&Hobby> = words::HOBBIES.iter().collect();
        all.shuffle(p.rng);
        all.truncate(3);
        all
    };
    let friends = [
        (f0, f0_city, jobs[3]),
        (f1, f1_city, jobs[4]),
        (f2, f2_city, jobs[5]),
    ];

    // Home: a city, then the move away from it.
    let landmark = p.pick(words::LANDMARKS);
    let s = p.session(0, 2);
    let text = p.phrase(
        &[
            "I've been living in {old} for about six years, in a tiny flat near the {landmark}",
            "my flat in {old} is small but the view of the {landmark} makes up for it",
            "{old} has been home since uni, I know every street around the {landmark}",
        ],
        &[("old", old_city), ("landmark", landmark)],
    );
    p.say(s, text, &["home.old"]);
    let rel = p.pick(words::RELATIVE_DATES);
    let slots = [("old", old_city), ("new", new_city), ("rel", rel)];
    let s_move = p.session(4, 7);
    let text = p.phrase(
        &[
            "I moved from {old} to {new} {rel}, still living out of boxes",
            "big change: I left {old} and moved to {new} {rel}",
            "the move from {old} to {new} happened {rel}, my back is destroyed",
        ],
        &slots,
    );
    p.say(s_move, text, &["move"]);
    let s = p.session(s_move + 1, s_move + 3);
    let text = p.phrase(
        &[
            "the new neighbourhood is growing on me, the bakery downstairs is dangerous",
            "still getting lost in the new neighbourhood, but the park nearby is lovely",
        ],
        &[],
    );
    p.say(s, text, &[]);
    p.ask(
        Category::SingleHop,
        &[
            "Which city do I live in now?",
            "Where am I based these days?",
            "Where's home for me at the moment?",
        ],
        &[],
        &["move"],
    );
    p.ask(
        Category::Temporal,
        &[
            "When did I relocate to {new}?",
            "When did I pack up and go to {new}?",
        ],
        &slots,
        &["move"],
    );

    // Work.
    let s = p.session(0, 3);
    let text = p.phrase(
        &[
            "I work as a {job} at {workplace}, most days I love it",
            "for work I'm a {job} at {workplace}, long shifts but good people",
            "I've been a {job} at {workplace} for four years now",
        ],
        &[("job", jobs[0]), ("workplace", workplaces[0])],
    );
    p.say(s, text, &["job"]);
    p.ask(
        Category::SingleHop,
        &[
            "What do I do for a living?",
            "What's my line of work?",
            "What's my profession?",
        ],
        &[],
        &["job"],
    );

    // The morning drink, and the change.
    let drink = p.pick(words::NEW_DRINKS);
    let s = p.session(0, 3);
    let text = p.phrase(
        &[
            "can't function before my double espresso in the morning",
            "first thing every day: a double espresso, no sugar",
            "my espresso machine is the most important thing I own",
        ],
        &[],
    );
    p.say(s, text, &["drink.old"]);
    let s = p.session(6, 10);
    let text = p.phrase(
        &[
            "these days I drink {drink}, not espresso any more, and I sleep so much better",
            "I switched to {drink} in the mornings, espresso was making me jittery",
            "gave up espresso for {drink} a while back, my hands don't shake any more",
        ],
        &[("drink", drink)],
    );
    p.say(s, text, &["drink.new"]);
    p.ask(
        Category::SingleHop,
        &[
            "What do I have in the mornings now instead of coffee?",
            "What's my wake-up drink these days?",
        ],
        &[],
        &["drink.new"],
    );
    p.ask(
        Category::Temporal,
        &[
            "When did I quit espresso?",
            "When did I stop having coffee first thing?",
        ],
        &[],
        &["drink.new"],
    );

    // Allergy, book, dislike.
    let allergen = p.pick(words::ALLERGENS);
    let s = p.session(1, 10);
    let text = p.phrase(
        &[
            "I'm allergic to {allergen}, so restaurants are always a bit of a gamble",
            "had a reaction at lunch, someone put {allergen} in the salad and I'm allergic",
            "always have to check labels for {allergen}, my allergy is no joke",
        ],
        &[("allergen", allergen)],
    );
    p.say(s, text, &["allergy"]);
    p.ask(
        Category::SingleHop,
        &[
            "Is there any food I need to avoid?",
            "What can't I eat without getting ill?",
            "What should a chef know before cooking for me?",
        ],
        &[],
        &["allergy"],
    );
    let (title, author) = p.pick(words::BOOKS);
    let s = p.session(1, 11);
    let text = p.phrase(
        &[
            "I'm rereading {title} by {author}, it's still my favourite novel",
            "nothing beats {title}, I've read it five times",
            "{author} wrote my all-time favourite book, {title}",
        ],
        &[("title", title), ("author", author)],
    );
    p.say(s, text, &["book"]);
    p.ask(
        Category::SingleHop,
        &[
            "Which book do I keep coming back to?",
            "What's my favourite read?",
            "Which story do I love the most?",
        ],
        &[],
        &["book"],
    );
    let (dislike, dislike_question) = p.pick(words::DISLIKES);
    let s = p.session(1, 11);
    p.say(s, dislike.to_string(), &["dislike"]);
    p.ask(Category::OpenDomain, &[dislike_question], &[], &["dislike"]);

    // Things that happened, with relative dates.
    let band = p.pick(words::BANDS);
    let rel = p.pick(words::RELATIVE_DATES);
    let slots = [("band", band), ("rel", rel)];
    let s = p.session(2, 11);
    let text = p.phrase(
        &[
            "saw {band} live {rel}, my ears are still ringing",
            "{band} played the best gig I've ever been to {rel}",
            "went to the {band} concert {rel} and cried during the encore",
        ],
        &slots,
    );
    p.say(s, text, &["concert"]);
    p.ask(
        Category::Temporal,
        &[
            "When did I see {band} play live?",
            "When was the {band} show I went to?",
        ],
        &slots,
        &["concert"],
    );
    let place = p.pick(words::TRIPS);
    let rel = p.pick(words::RELATIVE_DATES);
    let slots = [("place", place), ("rel", rel)];
    let s = p.session(1, 11);
    let text = p.phrase(
        &[
            "got back from {place} {rel}, I miss the food already",
            "spent a week in {place}, we flew home {rel}",
            "{place} was magical, we only got home {rel}",
        ],
        &slots,
    );
    p.say(s, text, &["trip"]);
    p.ask(
        Category::Temporal,
        &["When was I in {place}?", "When did I travel to {place}?"],
        &slots,
        &["trip"],
    );
    let part = p.pick(words::INJURIES);
    let rel = p.pick(words::RELATIVE_DATES);
    let slots = [("part", part), ("rel", rel)];
    let s = p.session(1, 11);
    let text = p.phrase(
        &[
            "I sprained my {part} {rel} stepping off a tram",
            "hurt my {part} {rel} carrying a sofa up the stairs",
            "my {part} has been bad since I slipped on the ice {rel}",
        ],
        &slots,
    );
    p.say(s, text, &["injury"]);
    p.ask(
        Category::Temporal,
        &[
            "When did I injure my {part}?",
            "When did my {part} get hurt?",
        ],
        &slots,
        &["injury"],
    );

    plan_family(p, sibling, sibling_city, jobs[1], parent, parent_city);
    plan_partner(p, partner, jobs[2], workplaces[1]);
    plan_pet(p);

    // Hobbies, each with a friend who shares it.
    for (number, hobby) in hobbies.iter().enumerate() {
        let hobby_tag = format!("hobby.{}", hobby.key);
        let (friend, city, job) = friends[number];
        let rel = p.pick(words::RELATIVE_DATES);
        let s_start = p.session(0, 4);
        let text = fill(hobby.start.0, &[("rel", rel)]);
        let start_tag = format!("{hobby_tag}.start");
        p.say(s_start, text, &[&hobby_tag, &start_tag]);
        if number < 2 {
            p.ask(Category::Temporal, hobby.start.1, &[], &[&start_tag]);
        }
        for statement in hobby.statements {
            let s = p.session(s_start, 11);
            p.say(s, statement.to_string(), &[&hobby_tag]);
        }
        let s = p.session(s_start, 11);
        let detail_tag = format!("{hobby_tag}.detail");
        p.say(s, hobby.detail.0.to_string(), &[&hobby_tag, &detail_tag]);
        p.ask(Category::SingleHop, &[hobby.detail.1], &[], &[&detail_tag]);
        let open_questions = if number == 0 { 2 } else { 1 };
        for question in hobby.open.iter().take(open_questions) {
            p.ask(
                Category::OpenDomain,
                &[question],
                &[],
                &[&format!("{hobby_tag}*")],
            );
        }
        plan_friend(p, number, hobby, &hobby_tag, friend, city, job);
    }
}

fn plan_friend(
    p: &mut Planner<'_>,
    number: usize,
    hobby: &Hobby,
    hobby_tag: &str,
    friend: Someone,
    city: &str,
    job: &str,
) {
    let tag = format!("friend{number}");
    let activity_tag = format!("{tag}.activity");
    let rel = p.pick(words::RELATIVE_DATES);
    let mut slots = friend.slots().to_vec();
    slots.extend([
        ("friend", friend.name),
        ("rel", rel),
        ("city", city),
        ("job", job),
    ]);
    let s_met = p.session(0, 6);
    let text = p.phrase(hobby.with_friend, &slots);
    p.say(s_met, text, &[hobby_tag, &activity_tag]);
    let city_tag = format!("{tag}.city");
    let s = p.session(s_met, 11);
    let text = p.phrase(
        &[
            "{name} lives in {city}, so we only meet every few weeks",
            "{name} took the train back to {city} tonight",
            "{name} has been based in {city} since last year",
        ],
        &slots,
    );
    p.say(s, text, &[&city_tag]);
    let job_tag = format!("{tag}.job");
    let s = p.session(s_met, 11);
    let text = p.phrase(
        &[
            "{name} is a {job}, {their} stories from work are wild",
            "{name} works as a {job} and is always exhausted",
            "{name} just qualified as a {job}",
        ],
        &slots,
    );
    p.say(s, text, &[&job_tag]);
    let s = p.session(s_met, 11);
    let text = p.phrase(
        &[
            "{name} finally texted me back after a week",
            "{name} sent me a voice message that was just singing",
        ],
        &slots,
    );
    p.say(s, text, &[]);
    let buddy = [("buddy", hobby.buddy)];
    let needs_city = [activity_tag.as_str(), city_tag.as_str()];
    let needs_job = [activity_tag.as_str(), job_tag.as_str()];
    match number {
        0 => p.ask(
            Category::MultiHop,
            &[
                "Where does {buddy} live?",
                "Which city is {buddy} based in?",
            ],
            &buddy,
            &needs_city,
        ),
        1 => p.ask(
            Category::MultiHop,
            &[
                "What does {buddy} do for work?",
                "What's the job of {buddy}?",
            ],
            &buddy,
            &needs_job,
        ),
        _ => {
            p.ask(
                Category::MultiHop,
                &["Which city is {buddy} from?", "Where does {buddy} live?"],
                &buddy,
                &needs_city,
            );
            p.ask(
                Category::SingleHop,
                &[
                    "What is {name}'s job?",
                    "What does {name} do all day at work?",
                ],
                &slots,
                &[&job_tag],
            );
        }
    }
}

fn plan_family(
    p: &mut Planner<'_>,
    sibling: Someone,
    sibling_city: &str,
    sibling_job: &str,
    parent: Someone,
    parent_city: &str,
) {
    let sib = match sibling.they {
        "she" => "sister",
        "he" => "brother",
        _ => "sibling",
    };
    let (baby, sex) = p.pick(words::BABY_NAMES);
    let niece = if sex == "girl" { "niece" } else { "nephew" };
    let order = p.pick(&["older", "younger", "little", "big"]);
    let rel = p.pick(words::RELATIVE_DATES);
    let mut slots = sibling.slots().to_vec();
    slots.extend([
        ("sib", sib),
        ("order", order),
        ("city", sibling_city),
        ("job", sibling_job),
        ("baby", baby),
        ("sex", sex),
        ("niece", niece),
        ("rel", rel),
    ]);
    let s_intro = p.session(0, 3);
    let text = p.phrase(
        &[
            "my {order} {sib} {name} called me for two hours tonight, we never run out of things to say",
            "{name}, my {order} {sib}, came over for dinner and beat me at cards",
            "my {sib} {name} is the funniest person I know",
        ],
        &slots,
    );
    p.say(s_intro, text, &["sibling.intro"]);
    let s = p.session(s_intro + 1, 10);
    let text = p.phrase(
        &[
            "{name} lives in {city} and loves it there",
            "{name} has a flat in {city} right above a bakery",
            "{name} just renewed the lease on {their} place in {city}",
        ],
        &slots,
    );
    p.say(s, text, &["sibling.city"]);
    let s = p.session(s_intro + 1, 10);
    let text = p.phrase(
        &[
            "{name} got promoted, head {job} now",
            "{name} works as a {job} and is run off {their} feet",
            "{name} started a new job as a {job} in the spring",
        ],
        &slots,
    );
    p.say(s, text, &["sibling.job"]);
    let s = p.session(s_intro + 1, 11);
    let text = p.phrase(
        &[
            "spent the weekend at {name}'s place, we ate far too much",
            "{name} sent me the worst meme today",
        ],
        &slots,
    );
    p.say(s, text, &[]);
    let s = p.session(s_intro + 2, 11);
    let text = p.phrase(
        &[
            "my {sib} {name} became a parent {rel}, a little {sex} called {baby}",
            "{baby} arrived {rel}! my {sib}'s first, a tiny {sex} with loads of hair",
        ],
        &slots,
    );
    p.say(s, text, &["sibling.baby"]);
    p.ask(
        Category::MultiHop,
        &[
            "Which city does my {sib} live in?",
            "Where is my {sib} living these days?",
        ],
        &slots,
        &["sibling.intro", "sibling.city"],
    );
    p.ask(
        Category::MultiHop,
        &["What does my {sib} do for work?", "What's my {sib}'s job?"],
        &slots,
        &["sibling.intro", "sibling.job"],
    );
    p.ask(
        Category::SingleHop,
        &[
            "What's my {niece}'s name?",
            "What did my {sib} call the baby?",
        ],
        &slots,
        &["sibling.baby"],
    );
    p.ask(
        Category::Temporal,
        &[
            "When was my {niece} born?",
            "When did my {sib} have the baby?",
        ],
        &slots,
        &["sibling.baby"],
    );

    let mum = if parent.they == "he" { "dad" } else { "mum" };
    let rel = p.pick(words::RELATIVE_DATES);
    let mut slots = parent.slots().to_vec();
    slots.extend([("mum", mum), ("city", parent_city), ("rel", rel)]);
    let s_intro = p.session(0, 4);
    let text = p.phrase(
        &[
            "my {mum} {name} sent me a voice note that lasted nine minutes",
            "{name}, my {mum}, has discovered emojis and uses all of them",
            "my {mum} {name} is coming to stay next weekend, I need to clean",
        ],
        &slots,
    );
    p.say(s_intro, text, &["parent.intro"]);
    let s = p.session(s_intro + 1, 10);
    let text = p.phrase(
        &[
            "{name} still lives in {city}, in the house I grew up in",
            "{name} refuses to leave {city} and the house I grew up in",
        ],
        &slots,
    );
    p.say(s, text, &["parent.city"]);
    let s = p.session(s_intro, 11);
    let text = p.phrase(
        &[
            "my {mum}'s sixtieth birthday party was {rel}, the whole family came",
            "we threw my {mum} a surprise party for turning sixty {rel}",
        ],
        &slots,
    );
    p.say(s, text, &["parent.birthday"]);
    p.ask(
        Category::SingleHop,
        &["Where did I grow up?", "Which town was I a kid in?"],
        &slots,
        &["parent.city"],
    );
    p.ask(
        Category::MultiHop,
        &["Which city is my {mum} in?", "Where does my {mum} live?"],
        &slots,
        &["parent.intro", "parent.city"],
    );
    p.ask(
        Category::Temporal,
        &[
            "When did my {mum} celebrate turning 60?",
            "When was the big party for my {mum}?",
        ],
        &slots,
        &["parent.birthday"],
    );
}

fn plan_partner(p: &mut Planner<'_>, partner: Someone, job: &str, workplace: &str) {
    let word = match partner.they {
        "she" => p.pick(&["partner", "girlfriend", "wife"]),
        "he" => p.pick(&["partner", "boyfriend", "husband"]),
        _ => "partner",
    };
    let rel = p.pick(words::RELATIVE_DATES);
    let mut slots = partner.slots().to_vec();
    slots.extend([
        ("partner", word),
        ("job", job),
        ("workplace", workplace),
        ("rel", rel),
    ]);
    let s_intro = p.session(0, 2);
    let text = p.phrase(
        &[
            "my {partner} {name} made us a three-course dinner tonight",
            "{name}, my {partner}, surprised me with tickets to the theatre",
            "{name} and I have been together five years now, best {partner} ever",
        ],
        &slots,
    );
    p.say(s_intro, text, &["partner.intro"]);
    let s = p.session(s_intro + 1, 9);
    let text = p.phrase(
        &[
            "{name} works as a {job} at {workplace}, the hours are brutal",
            "{name} just started as a {job} at {workplace}",
        ],
        &slots,
    );
    p.say(s, text, &["partner.job"]);
    let s = p.session(s_intro, 11);
    let text = p.phrase(
        &[
            "{name} is snoring on the sofa right now",
            "{name} ate the last of the ice cream, again",
        ],
        &slots,
    );
    p.say(s, text, &[]);
    p.ask(
        Category::MultiHop,
        &[
            "Where does my {partner} work?",
            "What's my {partner}'s job?",
        ],
        &slots,
        &["partner.intro", "partner.job"],
    );
    if p.rng.gen_bool(0.5) {
        let s = p.session(s_intro + 3, 11);
        let text = p.phrase(
            &[
                "{name} proposed {rel}, I said yes obviously",
                "we got engaged {rel}, {name} hid the ring in a croissant",
            ],
            &slots,
        );
        p.say(s, text, &["engaged"]);
        p.ask(
            Category::Temporal,
            &[
                "When did I get engaged?",
                "When did {name} pop the question?",
            ],
            &slots,
            &["engaged"],
        );
    }
}

fn plan_pet(p: &mut Planner<'_>) {
    let (species, fear, steals) = p.pick(words::PETS);
    let name = p.pick(words::PET_NAMES);
    let colour = p.pick(words::PET_COLOURS);
    let (they, their, them) = if p.rng.gen_bool(0.5) {
        ("she", "her", "her")
    } else {
        ("he", "his", "him")
    };
    let rel = p.pick(words::RELATIVE_DATES);
    let slots = [
        ("pet", name),
        ("species", species),
        ("fear", fear),
        ("steals", steals),
        ("colour", colour),
        ("they", they),
        ("their", their),
        ("them", them),
        ("rel", rel),
    ];
    let s_adopt = p.session(1, 5);
    let text = p.phrase(
        &[
            "we adopted a {colour} {species} from the shelter {rel}, {their} name is {pet}",
            "say hi to {pet}! we brought {them} home from the rescue centre {rel}, a {colour} {species}",
            "{pet} joined the family {rel}, a little {colour} {species} from the shelter",
        ],
        &slots,
    );
    p.say(s_adopt, text, &["pet.adopt"]);
    let s = p.session(s_adopt + 1, 11);
    let text = p.phrase(
        &[
            "{pet} is terrified of {fear}",
            "nothing scares {pet} like {fear}, {they} bolted straight under the sofa",
            "{pet} hid behind the curtains again, {their} worst enemy: {fear}",
        ],
        &slots,
    );
    p.say(s, text, &["pet.fear"]);
    let s = p.session(s_adopt, 11);
    let text = p.phrase(
        &[
            "caught {pet} stealing {steals} off the counter again",
            "{pet} has a thing for {steals}, I found a stash under the bed",
        ],
        &slots,
    );
    p.say(s, text, &["pet.steals"]);
    let s = p.session(s_adopt, 11);
    let text = p.phrase(
        &[
            "{pet} woke me up at five demanding breakfast",
            "{pet} fell asleep on my keyboard during a meeting",
        ],
        &slots,
    );
    p.say(s, text, &[]);
    p.ask(
        Category::Temporal,
        &[
            "When did {pet} come to live with me?",
            "When did I get {pet}?",
        ],
        &slots,
        &["pet.adopt"],
    );
    p.ask(
        Category::SingleHop,
        &["What kind of animal is {pet}?", "What species is {pet}?"],
        &slots,
        &["pet.adopt"],
    );
    p.ask(
        Category::MultiHop,
        &[
            "What is my {species} scared of?",
            "What frightens my {species}?",
        ],
        &slots,
        &["pet.adopt", "pet.fear"],
    );
    p.ask(
        Category::SingleHop,
        &[
            "What does {pet} keep pinching?",
            "What is {pet} always running off with?",
        ],
        &slots,
        &["pet.steals"],
    );
}

/// What a conversation holds, for checks and the report: statements that end with "?" and turns
/// that are questions to the companion.
pub fn shape(conversation: &Conversation) -> HashMap<&'static str, usize> {
    let mut counts = HashMap::new();
    for turn in &conversation.turns {
        let text = turn.text.trim_end();
        let is_companion_question = words::COMPANION_QUESTIONS
            .iter()
            .any(|question| text.ends_with(question));
        let kind = if is_companion_question {
            "question"
        } else if text.ends_with('?') {
            "statement_with_question"
        } else {
            "statement"
        };
        *counts.entry(kind).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_is_the_same_for_the_same_seed_and_has_every_category() {
        let first = evaluation_set(3, 7);
        let second = evaluation_set(3, 7);
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(
                a.turns.iter().map(|t| &t.text).collect::<Vec<_>>(),
                b.turns.iter().map(|t| &t.text).collect::<Vec<_>>()
            );
        }
        for conversation in &first {
            assert!(
                conversation.turns.len() >= 300,
                "{}",
                conversation.turns.len()
            );
            assert!(conversation.questions.len() >= 25);
            for category in Category::ALL {
                assert!(conversation
                    .questions
                    .iter()
                    .any(|q| q.category == category));
            }
            let texts: HashSet<&str> = conversation.turns.iter().map(|t| t.text.as_str()).collect();
            assert_eq!(
                texts.len(),
                conversation.turns.len(),
                "turn texts are unique"
            );
            let spread = conversation.sessions[SESSIONS - 1].date - conversation.sessions[0].date;
            assert!(spread.num_days() > 120, "sessions span months");
            for question in &conversation.questions {
                assert!(question.text.ends_with('?'));
                if question.category == Category::MultiHop {
                    assert!(question.evidence.len() >= 2, "{}", question.text);
                }
            }
        }
    }

    #[test]
    fn about_a_fifth_of_the_statements_end_with_a_question() {
        let mut with_question = 0;
        let mut statements = 0;
        for conversation in evaluation_set(10, 7) {
            let counts = shape(&conversation);
            with_question += counts.get("statement_with_question").copied().unwrap_or(0);
            statements += counts.get("statement").copied().unwrap_or(0)
                + counts.get("statement_with_question").copied().unwrap_or(0);
        }
        let share = with_question as f64 / statements as f64;
        assert!((0.15..0.25).contains(&share), "{share}");
    }

    #[test]
    fn a_multi_hop_question_needs_the_introduction_and_the_attribute() {
        let conversation = &evaluation_set(1, 11)[0];
        let Some(question) = conversation.questions.iter().find(|q| {
            q.category == Category::MultiHop
                && ["my sister", "my brother", "my sibling"]
                    .iter()
                    .any(|relation| q.text.contains(relation))
        }) else {
            panic!("no multi-hop question about the sibling");
        };
        assert_eq!(question.evidence.len(), 2, "{}", question.text);
        let [intro, attribute] = [question.evidence[0], question.evidence[1]];
        assert!(intro < attribute, "introduced first");
    }
}
