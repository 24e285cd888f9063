//! Renders the contract's neutral [`Card`] as a Teams Adaptive Card attachment.

use serde_json::{json, Value};
use whisperengine_contract::Card;

/// The attachment content type of Adaptive Cards.
pub const ADAPTIVE_CARD_CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";
/// Adaptive Card schema version: 1.5 is what Teams renders on desktop, web and mobile.
pub const ADAPTIVE_CARD_VERSION: &str = "1.5";

/// The card as an attachment: a bold title, inline fields as a fact set, other fields as a heading
/// and a wrapped text block each, and the footer in small subtle text.
pub fn adaptive_card(card: &Card) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": card.title,
        "weight": "Bolder",
        "size": "Medium",
        "wrap": true,
    })];
    let facts: Vec<Value> = card
        .fields
        .iter()
        .filter(|field| field.inline)
        .map(|field| json!({ "title": field.name, "value": field.value }))
        .collect();
    if !facts.is_empty() {
        body.push(json!({ "type": "FactSet", "facts": facts }));
    }
    for field in card.fields.iter().filter(|field| !field.inline) {
        body.push(json!({
            "type": "TextBlock",
            "text": field.name,
            "weight": "Bolder",
            "wrap": true,
            "spacing": "Medium",
        }));
        body.push(json!({
            "type": "TextBlock",
            "text": field.value,
            "wrap": true,
            "spacing": "None",
        }));
    }
    if let Some(footer) = &card.footer {
        body.push(json!({
            "type": "TextBlock",
            "text": footer,
            "size": "Small",
            "isSubtle": true,
            "wrap": true,
            "spacing": "Medium",
        }));
    }
    json!({
        "contentType": ADAPTIVE_CARD_CONTENT_TYPE,
        "content": {
            "type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": ADAPTIVE_CARD_VERSION,
            "body": body,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_becomes_an_adaptive_card_with_facts_sections_and_footer() {
        let card = Card::new("Who you are to me")
            .field("Identity", "`ab12cd34`", true)
            .field("Accounts", "teams:t/a\nslack:T/U", false)
            .footer("Linked platforms: Teams, Slack");
        let attachment = adaptive_card(&card);
        assert_eq!(attachment["contentType"], ADAPTIVE_CARD_CONTENT_TYPE);
        let content = &attachment["content"];
        assert_eq!(content["type"], "AdaptiveCard");
        assert_eq!(content["version"], "1.5");
        let body = content["body"].as_array().unwrap();
        assert_eq!(body[0]["text"], "Who you are to me");
        assert_eq!(body[0]["weight"], "Bolder");
        assert_eq!(body[1]["type"], "FactSet");
        assert_eq!(body[1]["facts"][0]["title"], "Identity");
        assert_eq!(body[2]["text"], "Accounts");
        assert_eq!(body[3]["text"], "teams:t/a\nslack:T/U");
        assert_eq!(body[4]["isSubtle"], true);
        assert_eq!(body.len(), 5);
    }
}
