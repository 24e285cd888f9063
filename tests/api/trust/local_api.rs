//! The local chat API outside desktop mode: off unless LOCAL_API_TOKEN is set, then only with the
//! bearer token; `Host`/`Origin` naming another machine refused in every mode; desktop mode's
//! zero-config chat unchanged. Driven against the real binary (`whisperengine serve`).

use crate::common::host::HostProcess;
use crate::common::{self, TestDb, LOCAL_API_TOKEN};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;
use whisperengine::store::entities::{export_token, memory, platform_account};

/// The environment of a host on `db` in `mode`, with `token` as LOCAL_API_TOKEN ("" = unset).
fn environment(db: &TestDb, mode: &str, token: &str) -> Vec<(&'static str, String)> {
    let personalities = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("personalities");
    let mut env = vec![
        ("DEPLOYMENT_MODE", mode.to_string()),
        ("DATABASE_URL", db.url.clone()),
        ("PERSONALITIES_DIR", personalities.display().to_string()),
        ("LOCAL_API_TOKEN", token.to_string()),
    ];
    if db.name == "postgres" {
        if let Some(url) = common::redis_url() {
            env.push(("REDIS_URL", url));
            env.push(("REDIS_KEY_PREFIX", format!("{}:", common::unique_prefix())));
        }
    }
    env
}

/// How many rows a stranger could have made or read: accounts, memories, export links.
async fn footprint(db: &TestDb) -> (u64, u64, u64) {
    let connection = db.connect().await;
    let counts = (
        platform_account::Entity::find()
            .count(&connection)
            .await
            .unwrap(),
        memory::Entity::find().count(&connection).await.unwrap(),
        export_token::Entity::find()
            .count(&connection)
            .await
            .unwrap(),
    );
    let _ = connection.close().await;
    counts
}

#[tokio::test]
async fn outside_desktop_mode_the_api_is_off_without_a_token() {
    for db in common::fresh_databases().await {
        let mut host = HostProcess::spawn(&environment(&db, "cloud", ""));
        let client = reqwest::Client::new();
        let base = format!("http://{}", host.address);
        for text in ["/export", "hello", "/forget all"] {
            let response = client
                .post(format!("{base}/api/chat"))
                .json(&json!({"user": "me", "text": text}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 404, "{}: {text}", db.name);
        }
        let config = client
            .get(format!("{base}/api/config"))
            .send()
            .await
            .unwrap();
        assert_eq!(config.status(), 404, "{}", db.name);
        let page = client
            .get(format!("{base}/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("disabled"), "{}: {page}", db.name);
        assert!(host.terminate().success(), "{}", db.name);
        assert_eq!(
            footprint(&db).await,
            (0, 0, 0),
            "{}: nothing was created",
            db.name
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn with_a_token_only_its_bearer_may_speak_and_only_to_this_host() {
    for db in common::fresh_databases().await {
        let mut host = HostProcess::spawn(&environment(&db, "cloud", LOCAL_API_TOKEN));
        let client = reqwest::Client::new();
        let chat = format!("http://{}/api/chat", host.address);
        let body = json!({"user": "me", "text": "/export"});
        let refused = [
            client.post(&chat).json(&body),
            client.post(&chat).bearer_auth("not-the-token").json(&body),
            client
                .post(&chat)
                .bearer_auth(&LOCAL_API_TOKEN[1..])
                .json(&body),
            client
                .post(&chat)
                .header("authorization", format!("Basic {LOCAL_API_TOKEN}"))
                .json(&body),
        ];
        for request in refused {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{}", db.name);
        }
        // A DNS-rebinding page: the right token cannot come from it, and the host name is foreign.
        let rebound = client
            .post(&chat)
            .bearer_auth(LOCAL_API_TOKEN)
            .header("host", "attacker.example")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(rebound.status(), 403, "{}", db.name);
        assert_eq!(
            footprint(&db).await,
            (0, 0, 0),
            "{}: nothing was created",
            db.name
        );

        let answer = host.ask(&client, "me", "My dog is called Rex").await;
        assert!(!answer.is_empty(), "{}", db.name);
        let recalled = host.ask(&client, "me", "what is my dog called?").await;
        assert!(recalled.contains("Rex"), "{}: {recalled}", db.name);
        assert!(host.terminate().success(), "{}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn desktop_mode_needs_no_token_but_refuses_foreign_host_names() {
    let db = common::fresh_sqlite();
    let mut host = HostProcess::spawn(&environment(&db, "desktop", ""));
    let client = reqwest::Client::new();
    let chat = format!("http://{}/api/chat", host.address);
    let response = client
        .post(&chat)
        .json(&json!({"text": "/whoami"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let rebound = client
        .post(&chat)
        .header("host", "attacker.example")
        .json(&json!({"text": "/export"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    assert!(host.terminate().success());
}
