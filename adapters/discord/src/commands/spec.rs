//! The slash commands as data: what each command, subcommand and option is called, what it accepts,
//! and which words of the core's command syntax it stands for. [`super`] registers them from this
//! table and checks every interaction against it.

/// Largest integer Discord accepts as an option bound (2^53 - 1).
pub const MAX_SAFE_INTEGER: u64 = 9_007_199_254_740_991;

/// Longest free-text option accepted (Discord allows 6,000; nothing here needs more).
pub const MAX_TEXT_OPTION: u16 = 200;

/// What an option accepts.
#[derive(Debug, Clone, Copy)]
pub enum OptionKind {
    /// Free text up to `max_length` characters.
    Text { max_length: u16 },
    /// A link code: letters, digits, dashes and spaces, 4 to 16 characters.
    LinkCode,
    /// An account like `slack:T0123/U0456`: no spaces, up to 200 characters.
    Account,
    /// One of a fixed list.
    Choice(&'static [&'static str]),
    /// A whole number in `min..=max`.
    Integer { min: u64, max: u64 },
    /// On or off (passed to the core as `on` / `off`).
    Switch,
}

/// One option of a command or subcommand.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub kind: OptionKind,
    pub required: bool,
}

/// A subcommand, and the words it stands for in the core's command syntax.
#[derive(Debug, Clone, Copy)]
pub struct SubcommandSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// Arguments put before the options' values (`/link start` → `["start"]`, `/link code` → `[]`).
    pub args: &'static [&'static str],
    pub options: &'static [OptionSpec],
}

/// A top-level command: either options or subcommands (Discord allows one or the other).
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub options: &'static [OptionSpec],
    pub subcommands: &'static [SubcommandSpec],
    /// Registered with default-member-permissions Manage Server.
    pub is_admin: bool,
    /// The answer is personal: deferred (and answered) as ephemeral.
    pub is_personal: bool,
}

const PLATFORMS: &[&str] = &["discord", "slack", "teams", "desktop"];
const PREFERENCE_KEYS: &[&str] = &[
    "name",
    "pronouns",
    "timezone",
    "language",
    "tone",
    "verbosity",
];
const SYNC_CATEGORIES: &[&str] = &[
    "conversation_history",
    "memory_importance",
    "emotional_memories",
    "emotional_state",
    "emotional_patterns",
    "adaptation_strategies",
    "ui_preferences",
    "ai_settings",
    "privacy_settings",
];

const fn required(name: &'static str, description: &'static str, kind: OptionKind) -> OptionSpec {
    OptionSpec {
        name,
        description,
        kind,
        required: true,
    }
}

const fn optional(name: &'static str, description: &'static str, kind: OptionKind) -> OptionSpec {
    OptionSpec {
        name,
        description,
        kind,
        required: false,
    }
}

const fn subcommand(
    name: &'static str,
    description: &'static str,
    args: &'static [&'static str],
    options: &'static [OptionSpec],
) -> SubcommandSpec {
    SubcommandSpec {
        name,
        description,
        args,
        options,
    }
}

const fn personal(
    name: &'static str,
    description: &'static str,
    options: &'static [OptionSpec],
    subcommands: &'static [SubcommandSpec],
) -> CommandSpec {
    CommandSpec {
        name,
        description,
        options,
        subcommands,
        is_admin: false,
        is_personal: true,
    }
}

/// Every slash command the bot registers.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "help",
        description: "What I can do, and how to link your accounts",
        options: &[],
        subcommands: &[],
        is_admin: false,
        is_personal: false,
    },
    personal(
        "whoami",
        "Who I think you are: identity, linked accounts, sharing",
        &[],
        &[],
    ),
    personal(
        "link",
        "Link your accounts on other platforms so I know you everywhere",
        &[],
        &[
            subcommand(
                "start",
                "Get a one-time code to use on your other account",
                &["start"],
                &[],
            ),
            subcommand(
                "code",
                "Use a code from your other account",
                &[],
                &[required(
                    "code",
                    "The code, like ABCD-EF2345",
                    OptionKind::LinkCode,
                )],
            ),
        ],
    ),
    personal(
        "unlink",
        "Stop sharing with your account on a platform",
        &[required(
            "platform",
            "The platform to unlink",
            OptionKind::Choice(PLATFORMS),
        )],
        &[],
    ),
    personal(
        "memory",
        "What I remember about you",
        &[optional(
            "page",
            "Page number",
            OptionKind::Integer { min: 1, max: 1000 },
        )],
        &[],
    ),
    personal(
        "forget",
        "Make me forget one memory, or everything",
        &[],
        &[
            subcommand(
                "memory",
                "Forget one memory (ids are shown by /memory)",
                &[],
                &[required(
                    "id",
                    "The memory's id",
                    OptionKind::Integer {
                        min: 1,
                        max: MAX_SAFE_INTEGER,
                    },
                )],
            ),
            subcommand(
                "all",
                "Forget everything you told me, on every linked platform (asks to confirm)",
                &["all"],
                &[],
            ),
            subcommand(
                "confirm",
                "Confirm forgetting everything (after /forget all)",
                &["all", "confirm"],
                &[],
            ),
        ],
    ),
    personal(
        "export",
        "A download link to everything I know about you",
        &[],
        &[],
    ),
    personal(
        "feedback",
        "Tell us how I'm doing",
        &[
            required(
                "score",
                "1 (poor) to 5 (great)",
                OptionKind::Integer { min: 1, max: 5 },
            ),
            optional(
                "comment",
                "Anything you'd like to add",
                OptionKind::Text {
                    max_length: MAX_TEXT_OPTION,
                },
            ),
        ],
        &[],
    ),
    personal(
        "conflicts",
        "Settings your linked accounts disagree on",
        &[],
        &[
            subcommand("show", "What is waiting for your choice", &[], &[]),
            subcommand(
                "resolve",
                "Pick the value that should hold",
                &["resolve"],
                &[
                    required(
                        "id",
                        "The conflict's id (shown by /conflicts show)",
                        OptionKind::Integer {
                            min: 1,
                            max: MAX_SAFE_INTEGER,
                        },
                    ),
                    required(
                        "choice",
                        "1 or 2 (as listed), a platform, or the value itself",
                        OptionKind::Text {
                            max_length: MAX_TEXT_OPTION,
                        },
                    ),
                ],
            ),
        ],
    ),
    personal(
        "prefs",
        "Your preferences: name, pronouns, time zone, language, tone, verbosity",
        &[],
        &[
            subcommand("show", "Show your preferences", &[], &[]),
            subcommand(
                "set",
                "Change a preference",
                &["set"],
                &[
                    required(
                        "key",
                        "Which preference",
                        OptionKind::Choice(PREFERENCE_KEYS),
                    ),
                    required(
                        "value",
                        "The new value",
                        OptionKind::Text {
                            max_length: MAX_TEXT_OPTION,
                        },
                    ),
                ],
            ),
        ],
    ),
    personal(
        "privacy",
        "What is shared between your linked accounts",
        &[],
        &[
            subcommand("show", "Show what is shared", &[], &[]),
            subcommand(
                "set",
                "Share a category between your linked accounts, or stop sharing it",
                &["set"],
                &[
                    required(
                        "category",
                        "What to share",
                        OptionKind::Choice(SYNC_CATEGORIES),
                    ),
                    required("shared", "Share it?", OptionKind::Switch),
                ],
            ),
        ],
    ),
    personal(
        "sync",
        "How your accounts and memory are connected",
        &[],
        &[subcommand(
            "status",
            "Accounts, conflicts, storage",
            &["status"],
            &[],
        )],
    ),
    CommandSpec {
        name: "admin",
        description: "Server admin: link, unlink, isolate accounts; caches; the audit log",
        options: &[],
        subcommands: &[
            subcommand(
                "link",
                "Link two accounts into one identity",
                &["link"],
                &[
                    required(
                        "first",
                        "An account, e.g. discord:80351110224678912",
                        OptionKind::Account,
                    ),
                    required(
                        "second",
                        "Another account, e.g. slack:T0123/U0456",
                        OptionKind::Account,
                    ),
                ],
            ),
            subcommand(
                "unlink",
                "Detach an account from its identity",
                &["unlink"],
                &[required(
                    "account",
                    "The account, e.g. slack:T0123/U0456",
                    OptionKind::Account,
                )],
            ),
            subcommand(
                "isolate",
                "Emergency: stop sharing an identity's data across platforms (or `all`)",
                &["isolate"],
                &[required(
                    "target",
                    "An account (discord:…), an identity id, or all",
                    OptionKind::Text {
                        max_length: MAX_TEXT_OPTION,
                    },
                )],
            ),
            subcommand(
                "release",
                "Undo an isolation (an account, an identity id, or all)",
                &["release"],
                &[required(
                    "target",
                    "An account (discord:…), an identity id, or all",
                    OptionKind::Text {
                        max_length: MAX_TEXT_OPTION,
                    },
                )],
            ),
            subcommand(
                "cache-clear",
                "Drop cached state (SQL stays the truth): everything, or one account or identity",
                &["cache", "clear"],
                &[optional(
                    "target",
                    "An account or identity id (empty = everything)",
                    OptionKind::Text {
                        max_length: MAX_TEXT_OPTION,
                    },
                )],
            ),
            subcommand(
                "audit",
                "The latest audit log entries",
                &["audit"],
                &[optional(
                    "count",
                    "How many (1–200)",
                    OptionKind::Integer { min: 1, max: 200 },
                )],
            ),
        ],
        is_admin: true,
        is_personal: true,
    },
];
