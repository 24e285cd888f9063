//! The recall evaluation's small set (`whisperengine bench --recall --small`, in process through
//! `whisperengine_bench::run_recall`): two generated conversations of over 300 turns in twelve
//! sessions months apart, and their questions in four categories. It prints the table and fails
//! when the host's recall falls below what it measured, less a small margin: overall and multi
//! hop (all evidence) at MEMORY_TOP_K 5 and 10. BM25's figures are printed, never asserted.

use whisperengine_bench::{run_recall, RecallOptions};

/// The floors: what the small set measured (2026-12-07) less 0.05.
/// Measured: overall 0.68 @5 and 0.85 @10, multi hop (all evidence) 0.50 and 0.75.
const OVERALL_AT_5: f64 = 0.63;
const OVERALL_AT_10: f64 = 0.80;
const MULTI_HOP_ALL_AT_5: f64 = 0.45;
const MULTI_HOP_ALL_AT_10: f64 = 0.70;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_of_the_small_evaluation_set_stays_above_its_floors() {
    let settings = whisperengine::config::Settings {
        personalities_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/personalities").into(),
        ..Default::default()
    };
    let report = run_recall(RecallOptions {
        settings,
        is_small: true,
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
}
