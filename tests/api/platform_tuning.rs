//! The per-platform table changes what a reply is asked and given: each platform's model, reply
//! length and temperature reach the language model; PLATFORM_SPECIFIC_OPTIMIZATIONS=false gives
//! every platform the local chat's; and ADAPTIVE_PERFORMANCE_TUNING shrinks the context on the
//! platform whose replies miss their response-time target, not on one whose target is met. The
//! real core and OpenAI client against the fake language model on 127.0.0.1.
#![allow(clippy::unwrap_used)]

use crate::common;

use serde_json::Value;
use std::sync::atomic::Ordering;
use std::time::Duration;
use whisperengine::config::{FactExtraction, Settings};
use whisperengine_contract::{Platform, PlatformAccount};
use whisperengine_fakes::llm as fake_llm;

/// `settings` answering through the fake at `base`, facts read by the rules (so every request the
/// fake sees is a reply), no rate limit.
fn with_llm(mut settings: Settings, base: &url::Url) -> Settings {
    settings.llm_base_url = Some(base.clone());
    settings.fact_extraction = FactExtraction::Rules;
    settings.rate_limit_per_minute = 0;
    settings
}

/// The body of the last chat request the fake received.
fn last_body(fake: &fake_llm::FakeLlm) -> Value {
    fake.chat_bodies.lock().unwrap().last().cloned().unwrap()
}

/// (model, max_tokens, temperature) of a request body.
fn asked_with(body: &Value) -> (String, u64, f64) {
    (
        body["model"].as_str().unwrap().to_string(),
        body["max_tokens"].as_u64().unwrap(),
        body["temperature"].as_f64().unwrap(),
    )
}

#[tokio::test]
async fn each_platform_asks_the_model_with_its_own_values_and_off_means_the_local_chats() {
    let (base, fake) = fake_llm::start().await;
    fake.answer_chat_with("Hello!");
    for (db, settings) in common::test_setups().await {
        for optimized in [true, false] {
            let mut settings = with_llm(settings.clone(), &base);
            settings.platform_specific_optimizations = optimized;
            settings.platform_overrides.slack.llm_model = Some("small-fast".into());
            settings.platform_overrides.slack.llm_temperature = Some(0.2);
            settings.platform_overrides.teams.llm_max_tokens = Some(120);
            let core = common::core_for(settings).await;
            let mut seen = Vec::new();
            for (n, (platform, team)) in [
                (Platform::Slack, "T1"),
                (Platform::Discord, ""),
                (Platform::Teams, "tenant"),
                (Platform::Desktop, ""),
            ]
            .into_iter()
            .enumerate()
            {
                let account =
                    PlatformAccount::new(platform, team, format!("77{}{n}", u8::from(optimized)));
                common::say(&core, common::message(&account, "hello there")).await;
                seen.push((platform, asked_with(&last_body(&fake))));
            }
            let expected = if optimized {
                vec![
                    (Platform::Slack, ("small-fast".to_string(), 300, 0.2)),
                    (Platform::Discord, ("gpt-4o-mini".to_string(), 400, 0.8)),
                    (Platform::Teams, ("gpt-4o-mini".to_string(), 120, 0.8)),
                    (Platform::Desktop, ("gpt-4o-mini".to_string(), 400, 0.8)),
                ]
            } else {
                [
                    Platform::Slack,
                    Platform::Discord,
                    Platform::Teams,
                    Platform::Desktop,
                ]
                .into_iter()
                .map(|platform| (platform, ("gpt-4o-mini".to_string(), 400, 0.8)))
                .collect()
            };
            for ((platform, got), (_, want)) in seen.iter().zip(&expected) {
                assert_eq!(got.0, want.0, "{}: {platform:?} model", db.name);
                assert_eq!(got.1, want.1, "{}: {platform:?} max_tokens", db.name);
                assert!(
                    (got.2 - want.2).abs() < 1e-6,
                    "{}: {platform:?} temperature {} != {}",
                    db.name,
                    got.2,
                    want.2
                );
            }
        }
        db.cleanup().await;
    }
}

/// Lines of the system prompt that are recalled memories, and the number of history turns, of a
/// request body.
fn context_of(body: &Value) -> (usize, usize) {
    let messages = body["messages"].as_array().unwrap();
    let system = messages[0]["content"].as_str().unwrap();
    let memories = system
        .split("told you before (most relevant first")
        .nth(1)
        .map_or(0, |after| {
            after
                .split("\n\n")
                .next()
                .unwrap_or_default()
                .lines()
                .filter(|line| line.starts_with("- on "))
                .count()
        });
    // The system prompt and the message being answered are not history.
    (memories, messages.len().saturating_sub(2))
}

#[tokio::test]
async fn a_slow_model_shrinks_the_context_on_the_platform_that_misses_its_target_only() {
    let (base, fake) = fake_llm::start().await;
    fake.answer_chat_with("How lovely.");
    fake.chat_delay_ms.store(150, Ordering::SeqCst);
    for (db, settings) in common::test_setups().await {
        let mut settings = with_llm(settings, &base);
        settings.adaptive_performance_tuning = true;
        settings.history_turns = 4;
        settings.memory_top_k = 4;
        // 150 ms replies: over Slack's 50 ms target, far under Discord's minute.
        settings.platform_overrides.slack.response_target = Some(Duration::from_millis(50));
        settings.platform_overrides.discord.response_target = Some(Duration::from_secs(60));
        let core = common::core_for(settings).await;
        let slack = PlatformAccount::new(Platform::Slack, "T1", "U-slow");
        let discord = PlatformAccount::new(Platform::Discord, "", "4242");
        let mut context = Vec::new();
        for account in [&slack, &discord] {
            for (n, island) in [
                "Mallorca", "Corsica", "Sardinia", "Crete", "Rhodes", "Malta",
            ]
            .iter()
            .enumerate()
            {
                let text = format!("My sailing trip number {n} went to {island} with friends");
                common::say(&core, common::message(account, &text)).await;
            }
            for _ in 0..6 {
                common::say(
                    &core,
                    common::message(account, "tell me about my sailing trips"),
                )
                .await;
            }
            context.push(context_of(&last_body(&fake)));
        }
        let (slack_memories, slack_history) = context[0];
        let (discord_memories, discord_history) = context[1];
        assert_eq!(
            (discord_memories, discord_history),
            (4, 4),
            "{}: Discord meets its target and keeps the configured context",
            db.name
        );
        assert!(
            slack_memories < discord_memories && slack_memories >= 1,
            "{}: Slack misses its target and recalls fewer memories ({slack_memories})",
            db.name
        );
        assert!(
            slack_history < discord_history,
            "{}: and fewer history turns ({slack_history})",
            db.name
        );
        db.cleanup().await;
    }
}
