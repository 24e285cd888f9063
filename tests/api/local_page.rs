//! The local chat page in a real browser (Debian's chromium through chromedriver): with a fake LLM
//! streaming its answer slowly, the reply shows part-written in the page before it is complete,
//! then ends as the whole reply, rendered as markdown.

use crate::admin_dashboard::webdriver;
use crate::common;
use crate::common::fake_llm::{self, StreamPace};

use std::time::Duration;
use whisperengine::config::{DeploymentMode, FactExtraction};

#[tokio::test]
async fn in_a_real_browser_the_reply_appears_while_it_is_written() {
    let driver = webdriver::Driver::start().await;
    let (llm, fake) = fake_llm::start().await;
    let words: Vec<String> = (1..=40).map(|i| format!("word{i}")).collect();
    let answer = format!("**Hello** {}", words.join(" "));
    fake.answer_chat_with(&answer);
    fake.stream_with(
        &answer,
        StreamPace {
            first_token: Duration::from_millis(50),
            interval: Duration::from_millis(120),
            words_per_chunk: 2,
            cut_after: None,
        },
    );
    let db = common::fresh_sqlite();
    let mut settings = common::settings_for(&db, false);
    settings.deployment_mode = DeploymentMode::Desktop;
    settings.local_api_token = None;
    settings.llm_base_url = Some(llm);
    settings.fact_extraction = FactExtraction::Rules;
    let (base, _core) = common::spawn_app(settings).await;

    let browser = driver.open_browser().await;
    browser.goto(&format!("{base}/")).await;
    browser.type_into("#message", "Tell me something").await;
    browser.click("#send").await;
    let reply = ".entry.from-companion .markdown";
    let complete = format!("Hello {}", words.join(" "));
    let partial = browser
        .wait_for_text(reply, |text| !text.is_empty() && text != complete)
        .await;
    assert!(complete.starts_with(partial.trim()), "{partial:?}");
    browser.wait_for_text(reply, |text| text == complete).await;
    browser
        .wait_for_text(&format!("{reply} strong"), |text| text == "Hello")
        .await;
    let entries = browser
        .wait_for_texts(".entry.from-companion", |entries| !entries.is_empty())
        .await;
    assert_eq!(entries.len(), 1, "one reply entry: {entries:?}");
    browser.quit().await;
}
