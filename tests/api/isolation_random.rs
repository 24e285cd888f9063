//! A long, seeded, random sequence of operations across hundreds of identities on every platform
//! (messages in DMs, private and public channels; admin link and unlink; privacy toggles; isolation
//! and release; `forget all`), checking after every step that no built prompt and no reply contains
//! content the rules forbid:
//! - another identity's content;
//! - in a public channel, anything said in a DM, a private channel, or another platform's or
//!   workspace's public channels;
//! - content of a forgotten (erased) identity;
//! - other accounts' content of an isolated identity, or of one whose `conversation_history`
//!   sharing is off.
//!
//! The test keeps its own model of who is linked to whom (it predicts every link, unlink, isolate,
//! release and forget outcome and checks the reply agrees), and every statement carries a unique
//! marker word (`mk<n>q`), so the check is exact: each marker in a prompt or reply must have an
//! origin the rules allow. The companion's replies quote memories back and are stored on the
//! account they answered, so a marker that appeared (allowed) in a reply to account A in place P is
//! from then on also A's content said in P: after an unlink, A's own history still holds it.
//!
//! Runs on SQLite and on PostgreSQL + Redis. `ISOLATION_RANDOM_SEED` and `ISOLATION_RANDOM_OPS`
//! change the seed and length; the number of operations run is printed.
//!
//! Over 500 lines: the random model and its checker belong together.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::place::Place;
use common::prompt_text;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;
use whisperengine::core::Core;
use whisperengine_contract::{InboundEvent, InboundMessage, Platform, PlatformAccount};

const PLATFORMS: [Platform; 4] = [
    Platform::Discord,
    Platform::Slack,
    Platform::Teams,
    Platform::Desktop,
];
/// People, each with one account per platform: 480 accounts, each its own identity at first.
const PEOPLE: usize = 120;
/// The people most messages come from, so linked groups gather content worth recalling.
const ACTIVE_PEOPLE: usize = 24;
const TOPICS: [&str; 4] = ["cat", "dog", "sister", "job"];
/// Operations per database by default: about half a minute each in a debug build.
const DEFAULT_OPERATIONS_SQLITE: usize = 4000;
const DEFAULT_OPERATIONS_POSTGRES: usize = 800;
const DEFAULT_SEED: u64 = 0x5eed_2026;

/// One place a marker was said (or quoted back) in, on one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Origin {
    account: usize,
    place: Place,
}

/// The test's model of the host.
struct Model {
    /// account index → group id (an identity).
    group_of: Vec<u64>,
    /// Isolated groups.
    isolated: BTreeSet<u64>,
    /// Whether the account exists in the database (it is created on first contact, deleted by erasure).
    exists: Vec<bool>,
    /// account → its latest `privacy set conversation_history` (value, step).
    history_switch: Vec<Option<(bool, usize)>>,
    /// marker number → where it may legitimately come from.
    origins: HashMap<u64, Vec<Origin>>,
    /// Markers said by each account (to forget them on erasure).
    said_by: Vec<Vec<u64>>,
    next_group: u64,
}

impl Model {
    fn new(accounts: usize) -> Model {
        Model {
            group_of: (0..accounts as u64).collect(),
            isolated: BTreeSet::new(),
            exists: vec![false; accounts],
            history_switch: vec![None; accounts],
            origins: HashMap::new(),
            said_by: vec![Vec::new(); accounts],
            next_group: accounts as u64,
        }
    }

    fn members(&self, group: u64) -> Vec<usize> {
        (0..self.group_of.len())
            .filter(|account| self.group_of[*account] == group)
            .collect()
    }

    fn fresh_group(&mut self, account: usize) {
        self.group_of[account] = self.next_group;
        self.next_group += 1;
    }

    /// Whether other accounts' content is shared with `account`: not isolated, and the latest
    /// `conversation_history` switch among its group's accounts (LatestWins, the default) is on.
    fn shares_history(&self, account: usize) -> bool {
        let group = self.group_of[account];
        if self.isolated.contains(&group) {
            return false;
        }
        self.members(group)
            .iter()
            .filter_map(|member| self.history_switch[*member])
            .max_by_key(|(_, step)| *step)
            .is_none_or(|(on, _)| on)
    }

    /// Whether content from `origin` may appear for `account` in `place`.
    fn may_appear(&self, origin: Origin, account: usize, place: Place) -> bool {
        if self.group_of[origin.account] != self.group_of[account] {
            return false;
        }
        if origin.account != account && !self.shares_history(account) {
            return false;
        }
        let is_same_platform = platform_of(origin.account) == platform_of(account);
        match place {
            // A DM sees everything sharing allows.
            Place::Dm => true,
            // The private channel (in workspace 0) sees itself and workspace 0's public content.
            Place::Private => {
                is_same_platform && matches!(origin.place, Place::Private | Place::Public(0))
            }
            Place::Public(workspace) => {
                is_same_platform && origin.place == Place::Public(workspace)
            }
        }
    }

    fn add_origin(&mut self, marker: u64, origin: Origin) {
        let origins = self.origins.entry(marker).or_default();
        if !origins.contains(&origin) {
            origins.push(origin);
            self.said_by[origin.account].push(marker);
        }
    }

    /// Erases every account of `account`'s group: their markers are forgotten for good.
    fn erase(&mut self, account: usize) {
        let group = self.group_of[account];
        self.isolated.remove(&group);
        for member in self.members(group) {
            for marker in std::mem::take(&mut self.said_by[member]) {
                if let Some(origins) = self.origins.get_mut(&marker) {
                    origins.retain(|origin| origin.account != member);
                }
            }
            self.history_switch[member] = None;
            self.exists[member] = false;
            self.fresh_group(member);
        }
    }
}

fn platform_of(account: usize) -> Platform {
    PLATFORMS[account % PLATFORMS.len()]
}

fn account(account: usize) -> PlatformAccount {
    PlatformAccount::new(
        platform_of(account),
        "",
        format!("p{}", account / PLATFORMS.len()),
    )
}

fn admin() -> PlatformAccount {
    PlatformAccount::new(Platform::Desktop, "", "operator")
}

/// Marker numbers in `text` (words `mk<digits>q`, any case).
fn markers_in(text: &str) -> BTreeSet<u64> {
    text.to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter_map(|word| word.strip_prefix("mk")?.strip_suffix('q')?.parse().ok())
        .collect()
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

async fn command(core: &Core, from: &PlatformAccount, text: &str, is_admin: bool) -> String {
    common::say(core, common::command(from, text, is_admin)).await
}

/// Counts of what ran, printed at the end.
#[derive(Debug, Default)]
struct Counts {
    messages: usize,
    links: usize,
    unlinks: usize,
    privacy: usize,
    isolations: usize,
    releases: usize,
    forgets: usize,
    /// Markers found in prompts and replies, each checked against its origins.
    markers_checked: usize,
    /// Of those, markers only another account of the identity said (linking at work).
    from_linked_accounts: usize,
}

impl Counts {
    fn operations(&self) -> usize {
        self.messages
            + self.links
            + self.unlinks
            + self.privacy
            + self.isolations
            + self.releases
            + self.forgets
    }
}

/// Runs `operations` random operations against `core`, checking every prompt and reply.
async fn run(
    name: &str,
    core: &Core,
    recorder: &common::Recorder,
    seed: u64,
    operations: usize,
) -> Counts {
    let mut rng = StdRng::seed_from_u64(seed);
    let accounts = PEOPLE * PLATFORMS.len();
    let mut model = Model::new(accounts);
    let mut counts = Counts::default();
    let existing = |model: &Model, rng: &mut StdRng| -> Option<usize> {
        let candidates: Vec<usize> = (0..accounts).filter(|a| model.exists[*a]).collect();
        (!candidates.is_empty()).then(|| candidates[rng.gen_range(0..candidates.len())])
    };
    for step in 0..operations {
        let roll = rng.gen_range(0..100);
        let fail = |what: String| -> ! {
            panic!("{name}: seed {seed:#x}, step {step}: {what}");
        };
        if roll < 70 {
            // A message from an account (mostly of the active people) in a random place.
            let person = if rng.gen_bool(0.7) {
                rng.gen_range(0..ACTIVE_PEOPLE)
            } else {
                rng.gen_range(0..PEOPLE)
            };
            let speaker = person * PLATFORMS.len() + rng.gen_range(0..PLATFORMS.len());
            let place = match rng.gen_range(0..4) {
                0 => Place::Dm,
                1 => Place::Private,
                workspace => Place::Public(workspace as u8 - 2),
            };
            let topic = TOPICS[rng.gen_range(0..TOPICS.len())];
            let marker = step as u64;
            let is_question = rng.gen_bool(0.4);
            let text = if is_question {
                format!("what is my {topic} called? {}", TOPICS.join(" "))
            } else {
                model.add_origin(
                    marker,
                    Origin {
                        account: speaker,
                        place,
                    },
                );
                format!("my {topic} is mk{marker}q")
            };
            model.exists[speaker] = true;
            let event = InboundEvent::Message(InboundMessage {
                event_id: format!("s{seed}e{step}").into(),
                author: account(speaker),
                context: place.context(&format!("c{}", rng.gen_range(0..3))),
                text,
                is_addressed: true,
                mentions: Vec::new(),
                author_roles: Vec::new(),
                inbox: None,
            });
            let reply = common::say(core, event).await;
            let Some(prompt) = recorder.take_last() else {
                fail(format!("no prompt was built for {}", account(speaker)));
            };
            recorder.prompts.lock().unwrap().clear();
            let rendered = prompt_text(&prompt);
            for (what, text) in [("prompt", &rendered), ("reply", &reply)] {
                for found in markers_in(text) {
                    counts.markers_checked += 1;
                    let origins = model.origins.get(&found).cloned().unwrap_or_default();
                    let is_allowed = origins
                        .iter()
                        .any(|origin| model.may_appear(*origin, speaker, place));
                    if origins.iter().all(|origin| origin.account != speaker) {
                        counts.from_linked_accounts += 1;
                    }
                    if !is_allowed {
                        fail(format!(
                            "the {what} for {} in {place:?} (group {}, shares history: {}) shows mk{found}q, \
                             whose origins are {origins:?} (groups {:?}):\n{text}",
                            account(speaker),
                            model.group_of[speaker],
                            model.shares_history(speaker),
                            origins
                                .iter()
                                .map(|origin| model.group_of[origin.account])
                                .collect::<Vec<_>>()
                        ));
                    }
                }
            }
            // What the companion said back is stored on this account, in this place.
            for found in markers_in(&reply) {
                model.add_origin(
                    found,
                    Origin {
                        account: speaker,
                        place,
                    },
                );
            }
            counts.messages += 1;
        } else if roll < 80 {
            // Link: mostly two accounts of one person, sometimes two people.
            let Some(first) = existing(&model, &mut rng) else {
                continue;
            };
            let second = if rng.gen_bool(0.8) {
                let person = first / PLATFORMS.len();
                person * PLATFORMS.len() + rng.gen_range(0..PLATFORMS.len())
            } else {
                rng.gen_range(0..accounts)
            };
            let (group, other) = (model.group_of[first], model.group_of[second]);
            let expected = group != other
                && !model.isolated.contains(&group)
                && !model.isolated.contains(&other);
            let reply = command(
                core,
                &admin(),
                &format!("admin link {} {}", account(first), account(second)),
                true,
            )
            .await;
            model.exists[second] = true;
            if reply.starts_with("Linked") != expected {
                fail(format!(
                    "linking {} and {}: expected {}, got: {reply}",
                    account(first),
                    account(second),
                    if expected { "a link" } else { "a refusal" }
                ));
            }
            if expected {
                for member in model.members(other) {
                    model.group_of[member] = group;
                }
            }
            counts.links += 1;
        } else if roll < 86 {
            let Some(target) = existing(&model, &mut rng) else {
                continue;
            };
            let expected = model.members(model.group_of[target]).len() >= 2;
            let reply = command(
                core,
                &admin(),
                &format!("admin unlink {}", account(target)),
                true,
            )
            .await;
            if reply.starts_with("Unlinked") != expected {
                fail(format!("unlinking {}: got: {reply}", account(target)));
            }
            if expected {
                model.fresh_group(target);
            }
            counts.unlinks += 1;
        } else if roll < 93 {
            let Some(target) = existing(&model, &mut rng) else {
                continue;
            };
            let on = rng.gen_bool(0.4);
            let switch = if on { "on" } else { "off" };
            let reply = command(
                core,
                &account(target),
                &format!("privacy set conversation_history {switch}"),
                false,
            )
            .await;
            if reply.is_empty() {
                fail(format!("privacy set by {} had no reply", account(target)));
            }
            model.history_switch[target] = Some((on, step));
            counts.privacy += 1;
        } else if roll < 96 {
            let Some(target) = existing(&model, &mut rng) else {
                continue;
            };
            let group = model.group_of[target];
            if model.isolated.contains(&group) {
                continue;
            }
            let reply = command(
                core,
                &admin(),
                &format!("admin isolate {}", account(target)),
                true,
            )
            .await;
            if !reply.starts_with("Isolated") {
                fail(format!("isolating {}: got: {reply}", account(target)));
            }
            model.isolated.insert(group);
            counts.isolations += 1;
        } else if roll < 98 {
            let isolated: Vec<usize> = (0..accounts)
                .filter(|a| model.exists[*a] && model.isolated.contains(&model.group_of[*a]))
                .collect();
            if isolated.is_empty() {
                continue;
            }
            let target = isolated[rng.gen_range(0..isolated.len())];
            let reply = command(
                core,
                &admin(),
                &format!("admin release {}", account(target)),
                true,
            )
            .await;
            if !reply.starts_with("Released") {
                fail(format!("releasing {}: got: {reply}", account(target)));
            }
            model.isolated.remove(&model.group_of[target]);
            counts.releases += 1;
        } else {
            let Some(target) = existing(&model, &mut rng) else {
                continue;
            };
            let who = account(target);
            let is_isolated = model.isolated.contains(&model.group_of[target]);
            command(core, &who, "forget all", false).await;
            let reply = command(core, &who, "forget all confirm", false).await;
            let erased = reply.starts_with("Done. I've forgotten everything");
            if erased == is_isolated {
                fail(format!(
                    "forget all by {who} (isolated: {is_isolated}): got: {reply}"
                ));
            }
            if erased {
                model.erase(target);
            }
            counts.forgets += 1;
        }
    }
    counts
}

#[tokio::test]
async fn no_random_sequence_of_operations_lets_forbidden_content_into_a_prompt_or_reply() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn")
            .with_test_writer()
            .try_init();
    }
    let seed = env_or("ISOLATION_RANDOM_SEED", DEFAULT_SEED);
    for (db, settings) in common::test_setups().await {
        let default_operations = match db.name {
            "sqlite" => DEFAULT_OPERATIONS_SQLITE,
            _ => DEFAULT_OPERATIONS_POSTGRES,
        };
        let operations = env_or("ISOLATION_RANDOM_OPS", default_operations);
        let mut core = common::core_for(settings).await;
        let recorder = common::Recorder::install(&mut core);
        let started = Instant::now();
        let counts = run(db.name, &core, &recorder, seed, operations).await;
        eprintln!(
            "{}: {} operations in {:.1} s (seed {seed:#x}): {counts:?}",
            db.name,
            counts.operations(),
            started.elapsed().as_secs_f64()
        );
        assert!(
            counts.from_linked_accounts > 0 && counts.links > 0 && counts.forgets > 0,
            "{}: the sequence must exercise recall, linking and forgetting: {counts:?}",
            db.name
        );
        drop(core);
        db.cleanup().await;
    }
}

#[test]
fn markers_are_read_exactly() {
    assert_eq!(
        markers_in("my cat is mk12q. MK7Q, mk12qq mk3 xmk4q mk5q"),
        BTreeSet::from([12, 7, 5])
    );
}
