//! One typed line of the local chat as a contract event: a line starting with `/` is a command
//! (`/link start` → `link` with `["start"]`), anything else a message addressed to the companion,
//! both from the `desktop:` account of `user` in a one-to-one conversation.

use whisperengine_contract::{
    CommandInvocation, ConversationContext, EventId, InboundEvent, InboundMessage, Platform,
    PlatformAccount,
};

/// The event for `text` typed by `user` in the conversation `channel_id`; `None` for a bare `/`.
/// `is_owner`: the person owns the host (desktop mode), so their commands are admin commands.
pub fn from_line(
    text: &str,
    user: &str,
    channel_id: &str,
    event_id: String,
    is_owner: bool,
) -> Option<InboundEvent> {
    let event_id = EventId::from(event_id);
    let account = PlatformAccount::new(Platform::Desktop, "", user);
    let context = ConversationContext::direct(channel_id);
    if text.starts_with('/') {
        let (name, args) = CommandInvocation::parse_text(text)?;
        return Some(InboundEvent::Command(CommandInvocation {
            event_id,
            invoker: account,
            context,
            name,
            args,
            invoker_is_admin: is_owner,
        }));
    }
    Some(InboundEvent::Message(InboundMessage {
        event_id,
        author: account,
        context,
        text: text.to_string(),
        is_addressed: true,
        mentions: Vec::new(),
        author_roles: Vec::new(),
        inbox: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use whisperengine_contract::Visibility;

    #[test]
    fn slash_lines_are_commands_and_other_lines_messages_in_a_dm() {
        let Some(InboundEvent::Command(command)) =
            from_line("/link start", "ana", "c", "e1".into(), true)
        else {
            panic!("a command");
        };
        assert_eq!(
            (command.name.as_str(), command.args.clone()),
            ("link", vec!["start".to_string()])
        );
        assert!(command.invoker_is_admin);
        assert_eq!(command.invoker.to_string(), "desktop:ana");
        let Some(InboundEvent::Message(message)) = from_line("hi", "ana", "c", "e2".into(), false)
        else {
            panic!("a message");
        };
        assert_eq!(message.context.visibility, Visibility::Dm);
        assert_eq!(message.context.channel_id, "c");
        assert!(from_line("/", "ana", "c", "e3".into(), true).is_none());
    }
}
