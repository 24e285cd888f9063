//! Renders the contract's neutral [`Card`] as Block Kit: a header, inline fields side by side in
//! section fields, other fields as sections of their own, and the footer as a context line. Every
//! piece is cut to Block Kit's limits, so a long memory list never gets the message refused.

use crate::mrkdwn::{escape, to_mrkdwn};
use slack_morphism::prelude::{
    SlackBlock, SlackBlockMarkDownText, SlackBlockPlainText, SlackBlockText, SlackContextBlock,
    SlackContextBlockElement, SlackHeaderBlock, SlackSectionBlock,
};
use whisperengine_contract::Card;

/// Block Kit limits (characters): header text, one section field, section text, blocks per message.
const HEADER_MAX: usize = 150;
const FIELD_MAX: usize = 2_000;
const SECTION_MAX: usize = 3_000;
const FIELDS_PER_SECTION: usize = 10;
const BLOCKS_MAX: usize = 50;

/// The card's blocks.
pub fn card_blocks(card: &Card) -> Vec<SlackBlock> {
    let mut blocks = vec![SlackBlock::Header(SlackHeaderBlock::new(
        SlackBlockPlainText::new(truncate(&card.title, HEADER_MAX)).into(),
    ))];
    let inline: Vec<SlackBlockText> = card
        .fields
        .iter()
        .filter(|field| field.inline)
        .map(|field| mrkdwn_text(field_text(&field.name, &field.value, FIELD_MAX)))
        .collect();
    for chunk in inline.chunks(FIELDS_PER_SECTION) {
        blocks.push(SlackBlock::Section(
            SlackSectionBlock::new().with_fields(chunk.to_vec()),
        ));
    }
    for field in card.fields.iter().filter(|field| !field.inline) {
        blocks.push(SlackBlock::Section(SlackSectionBlock::new().with_text(
            mrkdwn_text(field_text(&field.name, &field.value, SECTION_MAX)),
        )));
    }
    let footer = card.footer.as_ref().map(|footer| {
        SlackBlock::Context(SlackContextBlock::new(vec![
            SlackContextBlockElement::MarkDown(SlackBlockMarkDownText::new(truncate(
                &to_mrkdwn(footer),
                SECTION_MAX,
            ))),
        ]))
    });
    let room = BLOCKS_MAX - usize::from(footer.is_some());
    blocks.truncate(room);
    blocks.extend(footer);
    blocks
}

/// `*name*` over the value, within `max` characters.
fn field_text(name: &str, value: &str, max: usize) -> String {
    truncate(&format!("*{}*\n{}", escape(name), to_mrkdwn(value)), max)
}

fn mrkdwn_text(text: String) -> SlackBlockText {
    SlackBlockText::MarkDown(SlackBlockMarkDownText::new(text))
}

/// `text` cut to `max` characters, ending with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_card_becomes_header_fields_sections_and_context() {
        let card = Card::new("Who you are to me")
            .field("Identity", "`ab12cd34`", true)
            .field("Sharing", "**on**", true)
            .field("Accounts", "slack:T/U\ndiscord:42 <!here>", false)
            .footer("Linked platforms: _Slack_, Discord");
        let blocks = serde_json::to_value(card_blocks(&card)).unwrap();
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(blocks[0]["text"]["type"], "plain_text");
        assert_eq!(blocks[0]["text"]["text"], "Who you are to me");
        assert_eq!(blocks[1]["type"], "section");
        assert_eq!(
            blocks[1]["fields"],
            json!([
                {"type": "mrkdwn", "text": "*Identity*\n`ab12cd34`"},
                {"type": "mrkdwn", "text": "*Sharing*\n*on*"}
            ])
        );
        assert_eq!(
            blocks[2]["text"]["text"],
            "*Accounts*\nslack:T/U\ndiscord:42 &lt;!here&gt;"
        );
        assert_eq!(blocks[3]["type"], "context");
        assert_eq!(
            blocks[3]["elements"][0]["text"],
            "Linked platforms: _Slack_, Discord"
        );
        assert_eq!(blocks.as_array().unwrap().len(), 4);
    }

    #[test]
    fn long_cards_stay_within_block_kit_limits() {
        let mut card = Card::new("t".repeat(400)).footer("end");
        for i in 0..80 {
            card = card.field(format!("#{i}"), "x".repeat(5_000), i % 2 == 0);
        }
        let blocks = serde_json::to_value(card_blocks(&card)).unwrap();
        let blocks = blocks.as_array().unwrap();
        assert!(blocks.len() <= BLOCKS_MAX);
        assert_eq!(blocks.last().unwrap()["type"], "context", "footer kept");
        assert!(blocks[0]["text"]["text"].as_str().unwrap().chars().count() <= HEADER_MAX);
        for block in blocks {
            if let Some(fields) = block["fields"].as_array() {
                assert!(fields.len() <= FIELDS_PER_SECTION);
                for field in fields {
                    assert!(field["text"].as_str().unwrap().chars().count() <= FIELD_MAX);
                }
            }
            if let Some(text) = block["text"]["text"].as_str() {
                assert!(text.chars().count() <= SECTION_MAX);
            }
        }
    }
}
