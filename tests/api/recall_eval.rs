//! The recall evaluation's small set (`whisperengine bench --recall --small`, in process through
//! `whisperengine_bench::run_recall`): two generated conversations of over 300 turns in twelve
//! sessions months apart, and their questions in four categories. It prints the table and fails
//! when the host's recall falls below what it measured, less a small margin: overall and multi
//! hop (all evidence) at MEMORY_TOP_K 5 and 10, for the host on keywords and for the host with
//! semantic recall on local embeddings (the real all-MiniLM-L6-v2, see `local_embeddings.rs`),
//! which must also stay ahead of keywords alone. BM25's figures are printed, never asserted.

use whisperengine_bench::{run_recall, RecallOptions};

/// The floors: what the small set measured (2026-12-08) less 0.05.
/// Keywords alone: overall 0.69 @5 and 0.86 @10, multi hop (all evidence) 0.56 and 0.75.
const OVERALL_AT_5: f64 = 0.64;
const OVERALL_AT_10: f64 = 0.81;
const MULTI_HOP_ALL_AT_5: f64 = 0.51;
const MULTI_HOP_ALL_AT_10: f64 = 0.70;
/// With local embeddings (all-MiniLM-L6-v2): overall 0.81 @5 and 0.89 @10, multi hop (all
/// evidence) 0.62 and 0.75.
const EMB_OVERALL_AT_5: f64 = 0.76;
const EMB_OVERALL_AT_10: f64 = 0.84;
const EMB_MULTI_HOP_ALL_AT_5: f64 = 0.57;
const EMB_MULTI_HOP_ALL_AT_10: f64 = 0.70;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_of_the_small_evaluation_set_stays_above_its_floors() {
    let settings = whisperengine::config::Settings {
        personalities_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/personalities").into(),
        ..Default::default()
    };
    let report = run_recall(RecallOptions {
        settings,
        is_small: true,
        embeddings: Some(crate::local_embeddings::model_folder()),
    })
    .await
    .unwrap_or_else(|error| panic!("the recall evaluation failed: {error:#}"));
    println!("{}", report.table());

    assert_eq!(report.conversations, 2);
    assert!(report.turns >= 600, "{} turns", report.turns);
    assert!(report.questions >= 50, "{} questions", report.questions);
    let overall = report.row("overall").expect("an overall row");
    let multi_hop = report.row("multi_hop (all)").expect("a multi-hop row");
    for (name, measured, floor) in [
        ("overall @5", overall.host_at_5, OVERALL_AT_5),
        ("overall @10", overall.host_at_10, OVERALL_AT_10),
        (
            "multi_hop (all) @5",
            multi_hop.host_at_5,
            MULTI_HOP_ALL_AT_5,
        ),
        (
            "multi_hop (all) @10",
            multi_hop.host_at_10,
            MULTI_HOP_ALL_AT_10,
        ),
    ] {
        assert!(
            measured >= floor,
            "host recall {name} = {measured:.2}, below its floor {floor:.2}"
        );
    }
    let semantic = |row: &whisperengine_bench::recall::report::Row, k: usize| {
        if k == 5 {
            row.semantic_at_5
        } else {
            row.semantic_at_10
        }
        .expect("the run with local embeddings")
    };
    for (name, measured, floor) in [
        ("overall @5", semantic(overall, 5), EMB_OVERALL_AT_5),
        ("overall @10", semantic(overall, 10), EMB_OVERALL_AT_10),
        (
            "multi_hop (all) @5",
            semantic(multi_hop, 5),
            EMB_MULTI_HOP_ALL_AT_5,
        ),
        (
            "multi_hop (all) @10",
            semantic(multi_hop, 10),
            EMB_MULTI_HOP_ALL_AT_10,
        ),
    ] {
        assert!(
            measured >= floor,
            "host recall with local embeddings {name} = {measured:.2}, below its floor {floor:.2}"
        );
    }
    assert!(
        semantic(overall, 5) >= overall.host_at_5 + 0.05,
        "local embeddings should recall clearly more than keywords alone: {:.2} vs {:.2} @5",
        semantic(overall, 5),
        overall.host_at_5
    );
}
