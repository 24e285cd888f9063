//! Serde types of the Bot Framework activities this connector reads and writes (the subset Teams uses).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An inbound activity, as POSTed by the Bot Framework to `/api/messages`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    /// `message`, `conversationUpdate`, `typing`, `invoke`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The activity id; replies thread under it. Absent on some system activities.
    #[serde(default)]
    pub id: Option<String>,
    /// Where replies go, e.g. `https://smba.trafficmanager.net/emea/` (ends with `/`).
    pub service_url: String,
    #[serde(default)]
    pub channel_id: Option<String>,
    /// The sender (a person, or the bot for some updates).
    pub from: ChannelAccount,
    pub conversation: ConversationAccount,
    /// The bot itself.
    #[serde(default)]
    pub recipient: Option<ChannelAccount>,
    #[serde(default)]
    pub text: Option<String>,
    /// Mentions and other entities.
    #[serde(default)]
    pub entities: Vec<Value>,
    #[serde(default)]
    pub channel_data: Option<ChannelData>,
    /// On `conversationUpdate`: who joined (the bot, when it was installed).
    #[serde(default)]
    pub members_added: Vec<ChannelAccount>,
    /// On `messageReaction`: the reactions added (`like`, `heart`, `laugh`, `surprised`, `sad`,
    /// `angry`).
    #[serde(default)]
    pub reactions_added: Vec<MessageReaction>,
    /// The activity this one answers; on `messageReaction`, the message reacted to.
    #[serde(default)]
    pub reply_to_id: Option<String>,
}

/// One reaction of a `messageReaction` activity.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MessageReaction {
    #[serde(rename = "type")]
    pub kind: String,
}

/// A participant: a person or a bot.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelAccount {
    /// The Bot Framework id (`29:…` for people, `28:<app id>` for bots); differs per bot and tenant.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The person's Azure AD object id: stable across chats, channels and bots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_object_id: Option<String>,
}

/// The conversation an activity belongs to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationAccount {
    pub id: String,
    /// `personal`, `channel` or `groupChat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_group: Option<bool>,
}

/// Teams-specific data attached to an activity.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelData {
    #[serde(default)]
    pub tenant: Option<IdOnly>,
}

/// An object of which only the id matters here.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IdOnly {
    pub id: String,
}

/// A mention entity: `{"type":"mention","mentioned":{"id":…,"name":…},"text":"<at>Name</at>"}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Mention {
    pub mentioned: ChannelAccount,
    #[serde(default)]
    pub text: Option<String>,
}

impl Activity {
    /// The tenant the activity comes from (channel data first, then the conversation).
    pub fn tenant_id(&self) -> Option<&str> {
        self.channel_data
            .as_ref()
            .and_then(|data| data.tenant.as_ref())
            .map(|tenant| tenant.id.as_str())
            .or(self.conversation.tenant_id.as_deref())
            .filter(|id| !id.is_empty())
    }

    /// `personal`, `channel` or `groupChat`: as Teams states it, else `groupChat` when the
    /// conversation says it is a group, else unknown (`None`) — never assumed to be `personal`.
    pub fn conversation_type(&self) -> Option<&str> {
        self.conversation
            .conversation_type
            .as_deref()
            .or(match self.conversation.is_group {
                Some(true) => Some("groupChat"),
                _ => None,
            })
    }

    /// Whether this is a 1:1 chat with the bot: Teams says `personal`, and not that it is a group.
    pub fn is_personal(&self) -> bool {
        self.conversation_type() == Some("personal") && self.conversation.is_group != Some(true)
    }

    /// The mention entities, skipping any that are not well-formed.
    pub fn mentions(&self) -> Vec<Mention> {
        self.entities
            .iter()
            .filter(|entity| entity.get("type").and_then(Value::as_str) == Some("mention"))
            .filter_map(|entity| serde_json::from_value(entity.clone()).ok())
            .collect()
    }
}

/// An activity the bot sends: a message (text and/or attachments) or a typing indicator.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingActivity {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `markdown` for text replies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_format: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Value>,
    /// Entities such as `streaminfo` (a reply shown while it is written).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<Value>,
    /// The bot (the inbound activity's recipient).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<ChannelAccount>,
    /// The person (the inbound activity's sender).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<ChannelAccount>,
    pub conversation: ConversationAccount,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to_id: Option<String>,
}

impl OutgoingActivity {
    /// A markdown message in reply to `inbound`.
    pub fn message_to(inbound: &Activity, text: Option<String>, attachments: Vec<Value>) -> Self {
        OutgoingActivity {
            kind: "message",
            text_format: text.as_ref().map(|_| "markdown"),
            text,
            attachments,
            entities: Vec::new(),
            from: inbound.recipient.clone(),
            recipient: Some(inbound.from.clone()),
            conversation: ConversationAccount {
                id: inbound.conversation.id.clone(),
                ..ConversationAccount::default()
            },
            reply_to_id: inbound.id.clone(),
        }
    }

    /// A typing indicator in `inbound`'s conversation.
    pub fn typing_to(inbound: &Activity) -> Self {
        OutgoingActivity {
            kind: "typing",
            text: None,
            text_format: None,
            attachments: Vec::new(),
            ..OutgoingActivity::message_to(inbound, None, Vec::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_teams_channel_message_is_read_with_its_tenant_and_mentions() {
        let activity: Activity = serde_json::from_value(serde_json::json!({
            "type": "message", "id": "1", "serviceUrl": "https://smba.example/emea/",
            "from": {"id": "29:abc", "name": "Ana", "aadObjectId": "aad-1"},
            "conversation": {"id": "19:x@thread.tacv2", "conversationType": "channel", "tenantId": "t1"},
            "recipient": {"id": "28:bot", "name": "Elena"},
            "text": "<at>Elena</at> hi",
            "entities": [{"type": "mention", "mentioned": {"id": "28:bot", "name": "Elena"}, "text": "<at>Elena</at>"},
                         {"type": "clientInfo", "locale": "en-US"}],
            "channelData": {"tenant": {"id": "t1"}, "team": {"id": "19:team"}}
        }))
        .unwrap();
        assert_eq!(activity.tenant_id(), Some("t1"));
        assert_eq!(activity.conversation_type(), Some("channel"));
        assert!(!activity.is_personal());
        let mentions = activity.mentions();
        assert_eq!(mentions.len(), 1);
        assert_eq!(mentions[0].mentioned.id, "28:bot");
    }

    #[test]
    fn replies_carry_markdown_and_thread_under_the_inbound_activity() {
        let inbound: Activity = serde_json::from_value(serde_json::json!({
            "type": "message", "id": "42", "serviceUrl": "https://smba.example/",
            "from": {"id": "29:abc"}, "conversation": {"id": "a:1"}, "recipient": {"id": "28:bot"}
        }))
        .unwrap();
        assert_eq!(
            inbound.conversation_type(),
            None,
            "a conversation type Teams did not state is unknown, not personal"
        );
        assert!(!inbound.is_personal());
        let reply = serde_json::to_value(OutgoingActivity::message_to(
            &inbound,
            Some("**hi**".into()),
            Vec::new(),
        ))
        .unwrap();
        assert_eq!(reply["type"], "message");
        assert_eq!(reply["textFormat"], "markdown");
        assert_eq!(reply["replyToId"], "42");
        assert_eq!(reply["recipient"]["id"], "29:abc");
        assert_eq!(reply["from"]["id"], "28:bot");
        assert!(reply.get("attachments").is_none());
        let typing = serde_json::to_value(OutgoingActivity::typing_to(&inbound)).unwrap();
        assert_eq!(typing["type"], "typing");
        assert!(typing.get("text").is_none());
    }
}
