//! Gateway payloads in Discord's documented shapes → contract events, and contract replies → the
//! request bodies serenity sends. No network: serenity's model types parse the payloads exactly as
//! they do on the gateway.
//!
//! Over 500 lines: one case per payload shape Discord documents.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::payloads::*;
use crate::commands::{self, Refusal};
use crate::mapping::{self, Place, Skip};
use crate::reaction::{self, ReactionSkip};
use crate::render;
use serde_json::{json, Value};
use serenity::all::{CommandInteraction, Interaction, Message, Reaction, UserId};
use whisperengine_contract::{Card, OutboundReply, Visibility};

const BOT: u64 = 1100000000000000001;
const ANA: &str = "80351110224678912";
const MEMBER_PERMISSIONS: &str = "1071698660929";
const MANAGE_GUILD: &str = "32";
const ADMINISTRATOR: &str = "8";

fn ana() -> Value {
    user(ANA, "ana", Some("Ana"), false)
}

fn parse_message(payload: Value) -> Message {
    serde_json::from_value(payload).expect("a MESSAGE_CREATE payload")
}

fn guild_roles() -> Vec<(u64, String)> {
    vec![
        (GUILD_ID.parse().unwrap(), "@everyone".into()),
        (MODERATOR_ROLE.parse().unwrap(), "moderator".into()),
    ]
}

fn map(payload: Value, listed: &[u64]) -> Result<whisperengine_contract::InboundMessage, Skip> {
    mapping::to_message(
        &parse_message(payload),
        BOT,
        listed,
        &guild_roles(),
        Place::default(),
    )
}

#[test]
fn a_dm_is_addressed_with_an_empty_scope_and_dm_visibility() {
    let message = map(
        dm_message(
            "1500000000000000001",
            "1600000000000000001",
            ana(),
            "hi there",
        ),
        &[],
    )
    .unwrap();
    assert_eq!(message.event_id, "msg:1500000000000000001");
    assert_eq!(message.author.to_string(), format!("discord:{ANA}"));
    assert_eq!(message.author.display_name.as_deref(), Some("Ana"));
    assert_eq!(message.context.scope, "");
    assert_eq!(message.context.channel_id, "1600000000000000001");
    assert_eq!(message.context.visibility, Visibility::Dm);
    assert!(message.is_addressed);
    assert_eq!(message.text, "hi there");
}

#[test]
fn a_guild_mention_is_stripped_and_carries_guild_channel_and_role_names() {
    let bo = user("90000000000000001", "bo", Some("Bo"), false);
    let content = format!("<@{BOT}> what does <@!90000000000000001> like?");
    let message = map(
        guild_message(
            "1500000000000000002",
            GENERAL_CHANNEL,
            ana(),
            &[MODERATOR_ROLE],
            &content,
            vec![bot_user(), bo],
        ),
        &[],
    )
    .unwrap();
    assert_eq!(message.text, "what does @Bo like?");
    assert_eq!(message.mentions, vec!["90000000000000001".to_string()]);
    assert_eq!(message.author_roles, vec!["moderator".to_string()]);
    assert_eq!(message.context.scope, GUILD_ID);
    assert_eq!(message.context.channel_id, GENERAL_CHANNEL);
    assert_eq!(message.context.visibility, Visibility::Public);
    assert!(message.is_addressed);
}

#[test]
fn guild_messages_need_a_mention_a_reply_to_the_bot_or_a_listed_channel() {
    let plain = guild_message("1", GENERAL_CHANNEL, ana(), &[], "just chatting", vec![]);
    assert_eq!(map(plain, &[]).unwrap_err(), Skip::NotAddressed);

    let listed = guild_message("2", LISTED_CHANNEL, ana(), &[], "anyone here?", vec![]);
    let listed = map(listed, &[LISTED_CHANNEL.parse().unwrap()]).unwrap();
    assert!(listed.is_addressed);

    let bot_said = guild_message("3", GENERAL_CHANNEL, bot_user(), &[], "Hello!", vec![]);
    let reply = as_reply_to(
        guild_message("4", GENERAL_CHANNEL, ana(), &[], "and you?", vec![]),
        bot_said,
    );
    let reply = map(reply, &[]).unwrap();
    assert!(reply.is_addressed);
    assert_eq!(reply.text, "and you?");

    let someone_said = guild_message(
        "5",
        GENERAL_CHANNEL,
        user("7", "bo", None, false),
        &[],
        "x",
        vec![],
    );
    let reply_to_someone = as_reply_to(
        guild_message("6", GENERAL_CHANNEL, ana(), &[], "agreed", vec![]),
        someone_said,
    );
    assert_eq!(map(reply_to_someone, &[]).unwrap_err(), Skip::NotAddressed);
}

#[test]
fn bots_the_bot_itself_system_messages_and_unreadable_messages_are_skipped() {
    let own = dm_message("1", "2", bot_user(), "I said this");
    assert_eq!(map(own, &[]).unwrap_err(), Skip::OwnMessage);
    let other_bot = dm_message("1", "2", user("5", "otherbot", None, true), "beep");
    assert_eq!(map(other_bot, &[]).unwrap_err(), Skip::FromBot);
    let mut join = guild_message("1", GENERAL_CHANNEL, ana(), &[], "", vec![]);
    join["type"] = json!(7);
    assert_eq!(map(join, &[]).unwrap_err(), Skip::NotAMessage);
    // Without the Message Content intent Discord sends an empty content.
    let unreadable = dm_message("1", "2", ana(), "");
    assert_eq!(map(unreadable, &[]).unwrap_err(), Skip::NoContent);
    let only_mention = guild_message(
        "1",
        GENERAL_CHANNEL,
        ana(),
        &[],
        &format!("<@{BOT}>"),
        vec![bot_user()],
    );
    assert_eq!(map(only_mention, &[]).unwrap_err(), Skip::NoContent);
}

#[test]
fn a_thread_message_records_the_parent_channel_and_the_thread() {
    let message = parse_message(guild_message(
        "1",
        "1700000000000000001",
        ana(),
        &[],
        &format!("<@{BOT}> hi"),
        vec![bot_user()],
    ));
    let place = Place {
        thread_parent: Some(serenity::all::ChannelId::new(
            GENERAL_CHANNEL.parse().unwrap(),
        )),
    };
    let mapped = mapping::to_message(&message, BOT, &[], &[], place).unwrap();
    assert_eq!(mapped.context.channel_id, GENERAL_CHANNEL);
    assert_eq!(
        mapped.context.thread_id.as_deref(),
        Some("1700000000000000001")
    );
}

fn parse_reaction(payload: Value) -> Reaction {
    serde_json::from_value(payload).expect("a MESSAGE_REACTION_ADD payload")
}

const BOT_MESSAGE: &str = "1500000000000000100";
const DM: &str = "1600000000000000001";

#[test]
fn a_thumbs_up_on_the_bots_message_is_feedback_5_with_a_per_user_message_and_emoji_event_id() {
    let in_dm = parse_reaction(reaction_add(
        BOT_MESSAGE,
        ana(),
        Reacted::Dm { channel: DM },
        "👍🏽",
    ));
    assert_eq!(
        in_dm.message_author_id, None,
        "DMs do not say whose message it is"
    );
    let feedback = reaction::to_feedback(&in_dm, BOT, UserId::new(BOT)).unwrap();
    assert_eq!(feedback.name, "feedback");
    assert_eq!(
        feedback.args,
        vec!["5".to_string(), "(reaction)".to_string()]
    );
    assert_eq!(
        feedback.event_id.as_str(),
        format!("reaction:{BOT_MESSAGE}:{ANA}:👍🏽")
    );
    assert_eq!(feedback.invoker.to_string(), format!("discord:{ANA}"));
    assert_eq!(feedback.context.visibility, Visibility::Dm);
    assert_eq!(feedback.context.channel_id, DM);
    assert!(!feedback.invoker_is_admin);

    let in_guild = parse_reaction(reaction_add(
        BOT_MESSAGE,
        ana(),
        Reacted::Guild {
            channel: GENERAL_CHANNEL,
            message_author: BOT_ID,
        },
        "👎",
    ));
    let author = in_guild
        .message_author_id
        .expect("servers say whose message it is");
    let feedback = reaction::to_feedback(&in_guild, BOT, author).unwrap();
    assert_eq!(
        feedback.args,
        vec!["1".to_string(), "(reaction)".to_string()]
    );
    assert_eq!(feedback.invoker.display_name.as_deref(), Some("Ana"));
    assert_eq!(feedback.context.scope, GUILD_ID);
    assert_eq!(feedback.context.visibility, Visibility::Public);
}

#[test]
fn reactions_by_bots_on_other_messages_or_with_other_emoji_are_not_feedback() {
    let on_anas_message = parse_reaction(reaction_add(
        "1500000000000000101",
        user("90000000000000001", "bo", Some("Bo"), false),
        Reacted::Guild {
            channel: GENERAL_CHANNEL,
            message_author: ANA,
        },
        "👍",
    ));
    let author = on_anas_message.message_author_id.unwrap();
    assert_eq!(
        reaction::to_feedback(&on_anas_message, BOT, author).unwrap_err(),
        ReactionSkip::NotOnBotMessage
    );

    let by_a_bot = parse_reaction(reaction_add(
        BOT_MESSAGE,
        user("5", "otherbot", None, true),
        Reacted::Guild {
            channel: GENERAL_CHANNEL,
            message_author: BOT_ID,
        },
        "👍",
    ));
    assert_eq!(
        reaction::feedback_score(&by_a_bot, BOT).unwrap_err(),
        ReactionSkip::FromBot
    );

    let by_itself = parse_reaction(reaction_add(
        BOT_MESSAGE,
        bot_user(),
        Reacted::Dm { channel: DM },
        "👍",
    ));
    assert_eq!(
        reaction::feedback_score(&by_itself, BOT).unwrap_err(),
        ReactionSkip::OwnReaction
    );

    let party = parse_reaction(reaction_add(
        BOT_MESSAGE,
        ana(),
        Reacted::Dm { channel: DM },
        "🎉",
    ));
    assert_eq!(
        reaction::to_feedback(&party, BOT, UserId::new(BOT)).unwrap_err(),
        ReactionSkip::NotFeedback
    );

    let mut custom = reaction_add(BOT_MESSAGE, ana(), Reacted::Dm { channel: DM }, "thumbsup");
    custom["emoji"]["id"] = json!("41771983429993937");
    assert_eq!(
        reaction::feedback_score(&parse_reaction(custom), BOT).unwrap_err(),
        ReactionSkip::NotFeedback,
        "a server's custom emoji named like a thumb is not feedback"
    );
}

fn interaction(payload: Value) -> CommandInteraction {
    match serde_json::from_value::<Interaction>(payload).expect("an INTERACTION_CREATE payload") {
        Interaction::Command(command) => command,
        other => panic!("not a command: {other:?}"),
    }
}

fn in_dm(name: &str, options: Vec<Value>) -> CommandInteraction {
    interaction(command_interaction(
        "1800000000000000001",
        "token-1",
        ana(),
        Invoked::Dm {
            channel: "1600000000000000001",
        },
        name,
        options,
    ))
}

fn in_guild(name: &str, permissions: &str, options: Vec<Value>) -> CommandInteraction {
    interaction(command_interaction(
        "1800000000000000002",
        "token-2",
        ana(),
        Invoked::Guild {
            channel: GENERAL_CHANNEL,
            permissions,
            roles: &[MODERATOR_ROLE],
        },
        name,
        options,
    ))
}

fn args(command: &CommandInteraction) -> (String, Vec<String>) {
    let invocation = commands::to_invocation(command, &[]).unwrap();
    (invocation.name, invocation.args)
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|word| word.to_string()).collect()
}

#[test]
fn every_slash_command_maps_to_the_cores_command_syntax() {
    let cases: Vec<(CommandInteraction, &str, Vec<String>)> = vec![
        (in_dm("help", vec![]), "help", vec![]),
        (in_dm("whoami", vec![]), "whoami", vec![]),
        (
            in_dm("link", vec![subcommand("start", vec![])]),
            "link",
            words(&["start"]),
        ),
        (
            in_dm(
                "link",
                vec![subcommand(
                    "code",
                    vec![option("code", 3, json!("abcd-ef2345"))],
                )],
            ),
            "link",
            words(&["abcd-ef2345"]),
        ),
        (
            in_dm("unlink", vec![option("platform", 3, json!("slack"))]),
            "unlink",
            words(&["slack"]),
        ),
        (in_dm("memory", vec![]), "memory", vec![]),
        (
            in_dm("memory", vec![option("page", 4, json!(2))]),
            "memory",
            words(&["2"]),
        ),
        (
            in_dm(
                "forget",
                vec![subcommand("memory", vec![option("id", 4, json!(12))])],
            ),
            "forget",
            words(&["12"]),
        ),
        (
            in_dm("forget", vec![subcommand("all", vec![])]),
            "forget",
            words(&["all"]),
        ),
        (
            in_dm("prefs", vec![subcommand("show", vec![])]),
            "prefs",
            vec![],
        ),
        (
            in_dm(
                "prefs",
                vec![subcommand(
                    "set",
                    vec![
                        option("key", 3, json!("timezone")),
                        option("value", 3, json!("Europe/Lisbon")),
                    ],
                )],
            ),
            "prefs",
            words(&["set", "timezone", "Europe/Lisbon"]),
        ),
        (
            in_dm("privacy", vec![subcommand("show", vec![])]),
            "privacy",
            vec![],
        ),
        (
            in_dm(
                "privacy",
                vec![subcommand(
                    "set",
                    vec![
                        option("category", 3, json!("conversation_history")),
                        option("shared", 5, json!(false)),
                    ],
                )],
            ),
            "privacy",
            words(&["set", "conversation_history", "off"]),
        ),
        (
            in_dm("sync", vec![subcommand("status", vec![])]),
            "sync",
            words(&["status"]),
        ),
        (
            in_guild(
                "admin",
                MANAGE_GUILD,
                vec![subcommand(
                    "link",
                    vec![
                        option("first", 3, json!("discord:42")),
                        option("second", 3, json!("slack:T1/U1")),
                    ],
                )],
            ),
            "admin",
            words(&["link", "discord:42", "slack:T1/U1"]),
        ),
        (
            in_guild(
                "admin",
                MANAGE_GUILD,
                vec![subcommand(
                    "unlink",
                    vec![option("account", 3, json!("slack:T1/U1"))],
                )],
            ),
            "admin",
            words(&["unlink", "slack:T1/U1"]),
        ),
        (
            in_guild(
                "admin",
                MANAGE_GUILD,
                vec![subcommand("audit", vec![option("count", 4, json!(5))])],
            ),
            "admin",
            words(&["audit", "5"]),
        ),
        (
            in_dm("forget", vec![subcommand("confirm", vec![])]),
            "forget",
            words(&["all", "confirm"]),
        ),
        (in_dm("export", vec![]), "export", vec![]),
        (
            in_dm(
                "feedback",
                vec![
                    option("score", 4, json!(4)),
                    option("comment", 3, json!("you remembered")),
                ],
            ),
            "feedback",
            words(&["4", "you remembered"]),
        ),
        (
            in_dm("conflicts", vec![subcommand("show", vec![])]),
            "conflicts",
            vec![],
        ),
        (
            in_dm(
                "conflicts",
                vec![subcommand(
                    "resolve",
                    vec![option("id", 4, json!(7)), option("choice", 3, json!("2"))],
                )],
            ),
            "conflicts",
            words(&["resolve", "7", "2"]),
        ),
        (
            in_guild(
                "admin",
                MANAGE_GUILD,
                vec![subcommand(
                    "isolate",
                    vec![option("target", 3, json!("slack:T1/U1"))],
                )],
            ),
            "admin",
            words(&["isolate", "slack:T1/U1"]),
        ),
        (
            in_guild(
                "admin",
                MANAGE_GUILD,
                vec![subcommand(
                    "release",
                    vec![option("target", 3, json!("all"))],
                )],
            ),
            "admin",
            words(&["release", "all"]),
        ),
        (
            in_guild(
                "admin",
                MANAGE_GUILD,
                vec![subcommand("cache-clear", vec![])],
            ),
            "admin",
            words(&["cache", "clear"]),
        ),
    ];
    for (command, name, expected) in cases {
        assert_eq!(
            args(&command),
            (name.to_string(), expected),
            "/{}",
            command.data.name
        );
    }
}

#[test]
fn an_invocation_carries_the_invoker_context_and_event_id() {
    let dm = commands::to_invocation(&in_dm("whoami", vec![]), &[]).unwrap();
    assert_eq!(dm.event_id, "interaction:1800000000000000001");
    assert_eq!(dm.invoker.to_string(), format!("discord:{ANA}"));
    assert_eq!(dm.context.visibility, Visibility::Dm);
    assert_eq!(dm.context.scope, "");
    let guild =
        commands::to_invocation(&in_guild("whoami", MEMBER_PERMISSIONS, vec![]), &[]).unwrap();
    assert_eq!(
        guild.invoker.to_string(),
        format!("discord:{ANA}"),
        "member.user is the invoker"
    );
    assert_eq!(guild.context.scope, GUILD_ID);
    assert_eq!(guild.context.channel_id, GENERAL_CHANNEL);
    assert_eq!(guild.context.visibility, Visibility::Public);
}

#[test]
fn admin_comes_only_from_the_admin_id_list_never_from_server_permissions() {
    let audit = || vec![subcommand("audit", vec![])];
    let listed: u64 = ANA.parse().unwrap();
    for permissions in [
        MEMBER_PERMISSIONS,
        MANAGE_GUILD,
        ADMINISTRATOR,
        "562949953421311",
    ] {
        let command = in_guild("admin", permissions, audit());
        assert!(
            !commands::to_invocation(&command, &[])
                .unwrap()
                .invoker_is_admin,
            "a server's permissions {permissions} made a host admin"
        );
        assert!(
            commands::to_invocation(&command, &[listed])
                .unwrap()
                .invoker_is_admin,
            "a listed admin with permissions {permissions}"
        );
    }
    let in_a_dm = in_dm("admin", audit());
    assert!(
        !commands::to_invocation(&in_a_dm, &[])
            .unwrap()
            .invoker_is_admin
    );
    assert!(
        commands::to_invocation(&in_a_dm, &[listed])
            .unwrap()
            .invoker_is_admin
    );
}

#[test]
fn malformed_interactions_are_refused_with_a_clear_reason() {
    let refusal = |command: CommandInteraction| commands::to_invocation(&command, &[]).unwrap_err();
    assert_eq!(
        refusal(in_dm("dance", vec![])),
        Refusal::UnknownCommand("dance".into())
    );
    assert!(matches!(
        refusal(in_dm("unlink", vec![])),
        Refusal::MissingOption { ref option, .. } if option == "platform"
    ));
    assert!(matches!(
        refusal(in_dm("link", vec![])),
        Refusal::MissingSubcommand { .. }
    ));
    assert!(matches!(
        refusal(in_dm("link", vec![subcommand("code", vec![])])),
        Refusal::MissingOption { .. }
    ));
    let wrong_characters = refusal(in_dm(
        "link",
        vec![subcommand(
            "code",
            vec![option("code", 3, json!("AB$D-EF23;5"))],
        )],
    ));
    assert!(
        wrong_characters.to_string().contains("letters, digits"),
        "{wrong_characters}"
    );
    let huge = "x".repeat(4000);
    let too_long = refusal(in_dm(
        "prefs",
        vec![subcommand(
            "set",
            vec![
                option("key", 3, json!("name")),
                option("value", 3, json!(huge)),
            ],
        )],
    ));
    assert!(
        too_long.to_string().contains("4000 characters"),
        "{too_long}"
    );
    assert!(
        too_long.to_string().len() < 300,
        "the refusal does not echo the input"
    );
    assert!(matches!(
        refusal(in_dm(
            "unlink",
            vec![option("platform", 3, json!("myspace"))]
        )),
        Refusal::BadOption { .. }
    ));
    assert!(matches!(
        refusal(in_dm("memory", vec![option("page", 3, json!("two"))])),
        Refusal::BadOption { .. }
    ));
    assert!(matches!(
        refusal(in_dm("memory", vec![option("page", 4, json!(0))])),
        Refusal::BadOption { .. }
    ));
    assert!(matches!(
        refusal(in_dm("whoami", vec![option("extra", 3, json!("x"))])),
        Refusal::BadOption { .. }
    ));
    let long_name = refusal(in_dm(&"n".repeat(200), vec![]));
    assert!(long_name.to_string().len() < 100, "{long_name}");
}

#[test]
fn the_registration_declares_options_choices_and_admin_permissions() {
    let registrations: Vec<Value> = commands::registrations()
        .into_iter()
        .map(|command| serde_json::to_value(command).unwrap())
        .collect();
    let named = |name: &str| {
        registrations
            .iter()
            .find(|command| command["name"] == name)
            .unwrap_or_else(|| panic!("/{name} is registered"))
            .clone()
    };
    for name in [
        "help", "whoami", "link", "unlink", "memory", "forget", "prefs", "privacy", "sync", "admin",
    ] {
        let command = named(name);
        assert!(!command["description"].as_str().unwrap().is_empty());
    }
    assert_eq!(named("admin")["default_member_permissions"], "32");
    assert!(named("whoami")["default_member_permissions"].is_null());
    let link = named("link");
    let code = &link["options"][1];
    assert_eq!(code["name"], "code");
    assert_eq!(code["type"], 1);
    assert_eq!(code["options"][0]["max_length"], 16);
    assert_eq!(code["options"][0]["required"], true);
    let unlink = named("unlink");
    let platforms: Vec<&str> = unlink["options"][0]["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|choice| choice["value"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["discord", "slack", "teams", "desktop"]);
}

fn is_fences_balanced(text: &str) -> bool {
    text.lines()
        .filter(|line| line.trim_start().starts_with("```"))
        .count()
        % 2
        == 0
}

#[test]
fn long_replies_become_messages_of_at_most_2000_characters_that_ping_nobody() {
    let code: String = (0..120)
        .map(|i| format!("let value_{i} = {i} * 2;\n"))
        .collect();
    let text = format!(
        "{}\n\n```rust\n{code}```\n\n{}",
        "A sentence about the weather. ".repeat(60),
        "And that is all. ".repeat(40)
    );
    let reply = OutboundReply::text(text);
    let reference = (
        serenity::all::ChannelId::new(GENERAL_CHANNEL.parse().unwrap()),
        serenity::all::MessageId::new(1500000000000000009),
    );
    let bodies: Vec<Value> = render::channel_messages(&reply, Some(reference))
        .into_iter()
        .map(|message| serde_json::to_value(message).unwrap())
        .collect();
    assert!(bodies.len() >= 3, "{} parts", bodies.len());
    for body in &bodies {
        let content = body["content"].as_str().unwrap();
        assert!(content.chars().count() <= 2000);
        assert!(is_fences_balanced(content), "{content}");
        assert_eq!(
            body["allowed_mentions"],
            json!({"parse": [], "users": [], "roles": [], "replied_user": false})
        );
    }
    assert_eq!(
        bodies[0]["message_reference"]["message_id"],
        "1500000000000000009"
    );
    assert!(bodies[1]
        .get("message_reference")
        .is_none_or(Value::is_null));
}

#[test]
fn cards_become_embeds_and_interaction_answers_follow_up_ephemerally() {
    let card = Card::new("Who you are to me")
        .field("Identity", "`abcd1234`", true)
        .field("Accounts", "discord:1\nslack:T1/U1", false)
        .footer("Linked platforms: Discord and Slack");
    let reply = OutboundReply::private("text version").with_card(card);
    let answer = render::interaction_answer(&reply, true);
    let first = serde_json::to_value(answer.first).unwrap();
    let embed = &first["embeds"][0];
    assert_eq!(embed["title"], "Who you are to me");
    assert_eq!(
        embed["fields"][0],
        json!({"name": "Identity", "value": "`abcd1234`", "inline": true})
    );
    assert_eq!(
        embed["footer"]["text"],
        "Linked platforms: Discord and Slack"
    );
    assert_eq!(embed["color"], render::EMBED_COLOUR.0);
    assert!(answer.followups.is_empty());

    let long = OutboundReply::private("word ".repeat(900));
    let answer = render::interaction_answer(&long, true);
    assert_eq!(answer.followups.len(), 2);
    for followup in answer.followups {
        let body = serde_json::to_value(followup).unwrap();
        assert_eq!(
            body["flags"], 64,
            "follow-ups of a personal answer are ephemeral"
        );
        assert!(body["content"].as_str().unwrap().chars().count() <= 2000);
        assert_eq!(body["allowed_mentions"]["parse"], json!([]));
    }
}
