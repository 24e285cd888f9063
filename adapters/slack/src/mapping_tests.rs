//! Mapping tests on payloads shaped like the Events API and slash-command requests Slack sends.

use super::*;
use serde_json::{json, Value};
use slack_morphism::prelude::SlackPushEvent;

const BOT: &str = "U0LAN0Z89";

/// A full `event_callback` envelope around `event`, as Slack posts it.
fn envelope(event: Value) -> SlackPushEventCallback {
    let body = json!({
        "token": "XXYYZZ",
        "team_id": "T061EG9R6",
        "api_app_id": "A0PNCHHK2",
        "event": event,
        "type": "event_callback",
        "authorizations": [{"enterprise_id": null, "team_id": "T061EG9R6", "user_id": BOT, "is_bot": true, "is_enterprise_install": false}],
        "is_ext_shared_channel": false,
        "event_id": "Ev0PV52K21",
        "event_time": 1_700_000_000,
        "event_context": "4-eyJldCI6Im1lc3NhZ2UiLCJ0aWQiOiJUMDYxRUc5UjYifQ"
    });
    match serde_json::from_value::<SlackPushEvent>(body).unwrap() {
        SlackPushEvent::EventCallback(callback) => callback,
        other => panic!("not a callback: {other:?}"),
    }
}

fn rich_text(text: &str) -> Value {
    json!([{"type": "rich_text", "block_id": "Xk9l", "elements": [
        {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
    ]}])
}

fn dm(text: &str) -> Value {
    json!({
        "client_msg_id": "5e0b8cbb-1e3a-4a0c-9c9c-1d9e1f2b3c4d",
        "type": "message",
        "text": text,
        "user": "U061F7AUR",
        "ts": "1700000000.000100",
        "blocks": rich_text(text),
        "team": "T061EG9R6",
        "channel": "D0PNCRP9N",
        "event_ts": "1700000000.000100",
        "channel_type": "im"
    })
}

#[test]
fn a_direct_message_becomes_an_addressed_dm_answered_in_a_thread() {
    let (message, target) =
        message_from_push(&envelope(dm("Hello &amp; welcome &lt;3")), Some(BOT), true).unwrap();
    assert_eq!(message.event_id, "slack:msg:D0PNCRP9N:1700000000.000100");
    assert_eq!(
        target.reply_key.as_deref(),
        Some("slack:msg:D0PNCRP9N:1700000000.000100")
    );
    assert_eq!(target.message_ts.as_deref(), Some("1700000000.000100"));
    assert_eq!(message.author.to_string(), "slack:T061EG9R6/U061F7AUR");
    assert_eq!(message.text, "Hello & welcome <3");
    assert!(message.is_addressed);
    assert_eq!(message.context.visibility, Visibility::Dm);
    assert_eq!(message.context.channel_id, "D0PNCRP9N");
    assert_eq!(message.context.thread_id, None);
    assert_eq!(target.channel, "D0PNCRP9N");
    assert_eq!(target.user, "U061F7AUR");
    assert_eq!(target.thread_ts.as_deref(), Some("1700000000.000100"));
    assert!(target.is_dm);

    let (_, unthreaded) = message_from_push(&envelope(dm("hi")), Some(BOT), false).unwrap();
    assert_eq!(unthreaded.thread_ts, None, "SLACK_REPLY_IN_THREAD=false");
}

#[test]
fn a_mention_in_a_thread_is_stripped_and_answered_in_that_thread() {
    let event = json!({
        "type": "app_mention",
        "user": "U061F7AUR",
        "text": "<@U0LAN0Z89> what does <@U999|bo> think of <#C1|general> and <https://x.test|this>? <!here>",
        "ts": "1515449522.000016",
        "thread_ts": "1515449000.000001",
        "team": "T061EG9R6",
        "channel": "C123ABC456",
        "event_ts": "1515449522.000016",
        "blocks": rich_text("what")
    });
    let (message, target) = message_from_push(&envelope(event), Some(BOT), true).unwrap();
    assert_eq!(
        message.text,
        "what does @bo think of #general and this (https://x.test)? @here"
    );
    assert_eq!(message.mentions, vec!["U999".to_string()]);
    assert_eq!(message.context.visibility, Visibility::Public);
    assert_eq!(
        message.context.thread_id.as_deref(),
        Some("1515449000.000001")
    );
    assert_eq!(target.thread_ts.as_deref(), Some("1515449000.000001"));
    assert!(!target.is_dm);
}

#[test]
fn bots_own_messages_edits_deletes_and_other_subtypes_are_skipped() {
    let mut bot = dm("beep");
    bot["subtype"] = json!("bot_message");
    bot["bot_id"] = json!("B01");
    assert!(matches!(
        message_from_push(&envelope(bot), Some(BOT), true),
        Err(Skip::Subtype(_))
    ));

    let mut other_bot = dm("I am a bot without subtype");
    other_bot["bot_id"] = json!("B02");
    assert_eq!(
        message_from_push(&envelope(other_bot), Some(BOT), true).unwrap_err(),
        Skip::FromBot
    );

    let mut own = dm("my own words");
    own["user"] = json!(BOT);
    assert_eq!(
        message_from_push(&envelope(own), Some(BOT), true).unwrap_err(),
        Skip::OwnMessage
    );

    let edit = json!({
        "type": "message", "subtype": "message_changed", "hidden": true,
        "channel": "D0PNCRP9N", "channel_type": "im", "ts": "1700000001.000200",
        "event_ts": "1700000001.000200",
        "message": {"type": "message", "user": "U061F7AUR", "text": "edited", "ts": "1700000000.000100"},
        "previous_message": {"type": "message", "user": "U061F7AUR", "text": "orig", "ts": "1700000000.000100"}
    });
    assert!(message_from_push(&envelope(edit), Some(BOT), true).is_err());

    let deleted = json!({
        "type": "message", "subtype": "message_deleted", "hidden": true,
        "channel": "D0PNCRP9N", "channel_type": "im", "ts": "1700000002.000300",
        "deleted_ts": "1700000000.000100", "event_ts": "1700000002.000300"
    });
    assert!(message_from_push(&envelope(deleted), Some(BOT), true).is_err());

    let mut channel_message = dm("just talking in a channel");
    channel_message["channel"] = json!("C123ABC456");
    channel_message["channel_type"] = json!("channel");
    assert_eq!(
        message_from_push(&envelope(channel_message), Some(BOT), true).unwrap_err(),
        Skip::NotDirect
    );

    let reaction = json!({
        "type": "reaction_added", "user": "U061F7AUR", "reaction": "thumbsup",
        "item_user": "U0G9QF9C6", "item": {"type": "message", "channel": "C0G9QF9GZ", "ts": "1360782400.498405"},
        "event_ts": "1360782804.083113"
    });
    assert!(matches!(
        message_from_push(&envelope(reaction), Some(BOT), true),
        Err(Skip::Unhandled(_))
    ));

    let edited_mention = json!({
        "type": "app_mention", "user": "U061F7AUR", "text": "<@U0LAN0Z89> hi again",
        "ts": "1515449522.000016", "channel": "C123ABC456", "event_ts": "1515449600.000016",
        "edited": {"user": "U061F7AUR", "ts": "1515449600.000000"}
    });
    assert_eq!(
        message_from_push(&envelope(edited_mention), Some(BOT), true).unwrap_err(),
        Skip::Edited
    );

    let bare_mention = json!({
        "type": "app_mention", "user": "U061F7AUR", "text": "<@U0LAN0Z89>",
        "ts": "1515449522.000016", "channel": "C123ABC456", "event_ts": "1515449522.000016"
    });
    assert_eq!(
        message_from_push(&envelope(bare_mention), Some(BOT), true).unwrap_err(),
        Skip::EmptyText
    );
}

/// A slash command as Slack posts it (application/x-www-form-urlencoded).
fn slash(text: &str, channel: &str, channel_name: &str) -> SlackCommandEvent {
    let form = format!(
        "token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&team_domain=example&enterprise_id=E0001\
         &enterprise_name=Globular%20Construct%20Inc&channel_id={channel}&channel_name={channel_name}\
         &user_id=U2147483697&user_name=Steve&command=%2Fwhisper&text={}\
         &response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1234%2F5678\
         &trigger_id=13345224609.738474920.8088930838d88f008e0&api_app_id=A123456",
        url_encode(text)
    );
    serde_urlencoded::from_str(&form).unwrap()
}

fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[test]
fn slash_commands_become_invocations_with_their_words_as_arguments() {
    let (invocation, target) = command_from_slash(
        &slash("link start", "D0PNCRP9N", "directmessage"),
        "/whisper",
    )
    .unwrap();
    assert_eq!(invocation.name, "link");
    assert_eq!(invocation.args, vec!["start".to_string()]);
    assert_eq!(
        invocation.event_id,
        "slack:cmd:13345224609.738474920.8088930838d88f008e0"
    );
    assert_eq!(invocation.invoker.to_string(), "slack:T0001/U2147483697");
    assert_eq!(invocation.context.visibility, Visibility::Dm);
    assert!(!invocation.invoker_is_admin);
    assert!(target.always_ephemeral);
    assert_eq!(
        target.response_url.unwrap().as_str(),
        "https://hooks.slack.com/commands/1234/5678"
    );

    let (admin, target) = command_from_slash(
        &slash(
            "admin link slack:T1/U1 discord:42",
            "C2147483705",
            "general",
        ),
        "/whisper",
    )
    .unwrap();
    assert_eq!(admin.name, "admin");
    assert_eq!(admin.args, vec!["link", "slack:T1/U1", "discord:42"]);
    assert_eq!(admin.context.visibility, Visibility::Public);
    assert!(!target.is_dm);

    let (help, _) = command_from_slash(&slash("", "C1", "general"), "/whisper").unwrap();
    assert_eq!(help.name, "help");

    assert_eq!(
        command_from_slash(&slash("x", "C1", "general"), "/companion").unwrap_err(),
        Skip::UnknownCommand("/whisper".into())
    );
}

#[test]
fn short_messages_starting_with_a_command_word_are_typed_commands() {
    let (message, _) =
        message_from_push(&envelope(dm("link ABCD-EF2345")), Some(BOT), true).unwrap();
    let command = typed_command(&message).expect("a typed command");
    assert_eq!(command.name, "link");
    assert_eq!(command.args, vec!["ABCD-EF2345".to_string()]);
    assert_eq!(command.event_id, "slack:msg:D0PNCRP9N:1700000000.000100");
    assert_eq!(command.invoker, message.author);

    for conversation in [
        "hello there",
        "memory is a funny thing, isn't it?",
        "linking arms with friends",
    ] {
        let (message, _) = message_from_push(&envelope(dm(conversation)), Some(BOT), true).unwrap();
        assert!(typed_command(&message).is_none(), "{conversation}");
    }
}

/// Slack's documented `reaction_added` shape, by `user` on a message posted by `item_user`.
fn reaction(user: &str, reaction: &str, item_user: &str) -> Value {
    json!({
        "type": "reaction_added", "user": user, "reaction": reaction, "item_user": item_user,
        "item": {"type": "message", "channel": "D0PNCRP9N", "ts": "1360782400.498405"},
        "event_ts": "1360782804.083113"
    })
}

#[test]
fn thumbs_up_and_down_on_the_bots_message_become_feedback_5_and_1() {
    for (emoji, score) in [
        ("+1", "5"),
        ("thumbsup", "5"),
        ("+1::skin-tone-3", "5"),
        ("thumbsup::skin-tone-6", "5"),
        ("-1", "1"),
        ("thumbsdown", "1"),
        ("-1::skin-tone-2", "1"),
    ] {
        let invocation =
            feedback_from_reaction(&envelope(reaction("U061F7AUR", emoji, BOT)), Some(BOT))
                .unwrap_or_else(|skip| panic!("{emoji}: {skip:?}"));
        assert_eq!(invocation.name, "feedback", "{emoji}");
        assert_eq!(
            invocation.args,
            vec![score.to_string(), "(reaction)".to_string()],
            "{emoji}"
        );
        assert_eq!(invocation.event_id, "slack:Ev0PV52K21");
        assert_eq!(invocation.invoker.to_string(), "slack:T061EG9R6/U061F7AUR");
        assert_eq!(invocation.context.scope, "T061EG9R6");
        assert_eq!(invocation.context.channel_id, "D0PNCRP9N");
        assert_eq!(invocation.context.visibility, Visibility::Dm);
        assert!(!invocation.invoker_is_admin);
    }
}

#[test]
fn other_emoji_other_peoples_messages_and_the_bots_own_reactions_are_ignored() {
    for emoji in ["tada", "heart", "+1_tone", "thumbsupper", ""] {
        assert!(
            matches!(
                feedback_from_reaction(&envelope(reaction("U061F7AUR", emoji, BOT)), Some(BOT)),
                Err(Skip::OtherReaction(_))
            ),
            "{emoji}"
        );
    }
    assert_eq!(
        feedback_from_reaction(
            &envelope(reaction("U061F7AUR", "+1", "U0SOMEONE")),
            Some(BOT)
        )
        .unwrap_err(),
        Skip::NotOnOwnMessage
    );
    assert_eq!(
        feedback_from_reaction(&envelope(reaction(BOT, "+1", BOT)), Some(BOT)).unwrap_err(),
        Skip::OwnMessage
    );
    // Without the companion's own id (auth.test not answered yet) nothing can be attributed.
    assert_eq!(
        feedback_from_reaction(&envelope(reaction("U061F7AUR", "+1", BOT)), None).unwrap_err(),
        Skip::NotOnOwnMessage
    );
    let mut without_item_user = reaction("U061F7AUR", "+1", BOT);
    without_item_user
        .as_object_mut()
        .unwrap()
        .remove("item_user");
    assert_eq!(
        feedback_from_reaction(&envelope(without_item_user), Some(BOT)).unwrap_err(),
        Skip::NotOnOwnMessage
    );
    let on_a_file = json!({
        "type": "reaction_added", "user": "U061F7AUR", "reaction": "+1", "item_user": BOT,
        "item": {"type": "file", "id": "F0FILE001", "name": "notes.txt"},
        "event_ts": "1360782804.083113"
    });
    assert_eq!(
        feedback_from_reaction(&envelope(on_a_file), Some(BOT)).unwrap_err(),
        Skip::NotOnOwnMessage
    );
    // A message is not a reaction.
    assert!(matches!(
        feedback_from_reaction(&envelope(dm("+1")), Some(BOT)),
        Err(Skip::Unhandled(_))
    ));
}

#[test]
fn reactions_in_channels_keep_the_channel_and_its_visibility() {
    let mut in_channel = reaction("U061F7AUR", "+1", BOT);
    in_channel["item"]["channel"] = json!("C0G9QF9GZ");
    let invocation = feedback_from_reaction(&envelope(in_channel), Some(BOT)).unwrap();
    assert_eq!(invocation.context.channel_id, "C0G9QF9GZ");
    assert_eq!(invocation.context.visibility, Visibility::Public);
}
