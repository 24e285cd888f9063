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
}

impl OutboundReply {
    /// A public text reply.
    pub fn text(text: impl Into<String>) -> Self {
        OutboundReply {
            text: text.into(),
            card: None,
            ephemeral: false,
        }
    }

    /// A text reply only the invoker sees.
    pub fn private(text: impl Into<String>) -> Self {
        OutboundReply {
            ephemeral: true,
            ..OutboundReply::text(text)
        }
    }

    pub fn with_card(mut self, card: Card) -> Self {
        self.card = Some(card);
        self
    }
}
