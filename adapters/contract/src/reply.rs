//! Outbound replies: neutral markdown plus an optional structured card each connector renders natively
//! (Discord embed, Slack Block Kit, Teams Adaptive Card, plain text locally).

use serde::{Deserialize, Serialize};

/// One field of a [`Card`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardField {
    pub name: String,
    pub value: String,
    /// Whether the platform may lay this field out beside others.
    pub inline: bool,
}

/// Structured content: a title, fields and a footer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Card {
    pub title: String,
    pub fields: Vec<CardField>,
    pub footer: Option<String>,
}

impl Card {
    pub fn new(title: impl Into<String>) -> Self {
        Card {
            title: title.into(),
            ..Card::default()
        }
    }

    pub fn field(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
        inline: bool,
    ) -> Self {
        self.fields.push(CardField {
            name: name.into(),
            value: value.into(),
            inline,
        });
        self
    }

    pub fn footer(mut self, footer: impl Into<String>) -> Self {
        self.footer = Some(footer.into());
        self
    }

    /// The card as markdown, for platforms without cards.
    pub fn to_markdown(&self) -> String {
        let mut text = format!("**{}**\n", self.title);
        for field in &self.fields {
            text.push_str(&format!("**{}:** {}\n", field.name, field.value));
        }
        if let Some(footer) = &self.footer {
            text.push_str(&format!("_{footer}_\n"));
        }
        text
    }
}

/// What the companion says back.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OutboundReply {
    /// The reply in neutral markdown (CommonMark subset: bold, italics, links, code, lists).
    pub text: String,
    pub card: Option<Card>,
    /// Whether only the invoker should see it (personal command answers), where the platform can do that.
    pub ephemeral: bool,
    /// Set on a refusal the person may send again after this many seconds (the rate limit): the
    /// message was not taken in, so the same event sent again is not a duplicate. An API that can
    /// say so (the local chat API: 429 with `Retry-After`) does; chat platforms show the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u32>,
}

impl OutboundReply {
    /// A public text reply.
    pub fn text(text: impl Into<String>) -> Self {
        OutboundReply {
            text: text.into(),
            card: None,
            ephemeral: false,
            retry_after_seconds: None,
        }
    }

    /// A text reply only the invoker sees.
    pub fn private(text: impl Into<String>) -> Self {
        OutboundReply {
            ephemeral: true,
            ..OutboundReply::text(text)
        }
    }

    /// Marks the reply as a refusal to send again after `seconds`.
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }

    pub fn with_card(mut self, card: Card) -> Self {
        self.card = Some(card);
        self
    }
}
