//! The admin dashboard at `/admin`, against the real host (Application::build on port 0, real
//! SQLite, and PostgreSQL + Redis when TEST_DATABASE_URL / TEST_REDIS_URL are set):
//! - over HTTP: off without ADMIN_TOKEN, wrong tokens refused, lock-out, cookie flags, CSRF checks
//!   that change nothing, actions that go through the core and land in the audit log, escaping;
//! - in a real browser (Debian's chromium through chromedriver): log in, find a person, link two
//!   accounts, isolate one, see both in the audit log; a wrong token is refused. Screenshots of
//!   every page go to `target/screenshots/`.
//!
//! Over 500 lines: the dashboard over HTTP and in a real browser, one scenario per page and action.

use crate::common;
#[path = "admin_dashboard/webdriver.rs"]
pub(crate) mod webdriver;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::path::PathBuf;
use whisperengine::app::Application;
use whisperengine::config::Settings;
use whisperengine::store::entities::{audit_log, identity, platform_account};
use whisperengine_contract::{Platform, PlatformAccount};

const TOKEN: &str = "dashboard-test-token-5f0c2b9e-7d41a3c8";

struct Host {
    base: String,
    core: whisperengine::core::Core,
    /// Follows no redirects, keeps no cookies: each test sees exactly what the host answers.
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn spawn_host(mut settings: Settings, token: Option<&str>) -> Host {
    settings.admin_token = token.map(|token| token.to_string().into());
    let app = Application::build(settings).await.expect("the host builds");
    let base = format!("http://{}", app.address());
    let core = app.core.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    Host {
        base,
        core,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client"),
        _stop: stop,
    }
}

fn alice_on_slack() -> PlatformAccount {
    PlatformAccount::new(Platform::Slack, "T1", "U_ALICE").with_display_name("Alice Slack")
}

fn alice_on_discord() -> PlatformAccount {
    PlatformAccount::new(Platform::Discord, "", "1001").with_display_name("alice_d")
}

/// Creates the accounts (each with its own identity) by having them talk to the companion.
async fn seed_people(host: &Host) {
    for account in [alice_on_slack(), alice_on_discord()] {
        common::say(
            &host.core,
            common::message(&account, "hello, I love the sea and I'm happy today"),
        )
        .await;
    }
}

async fn identity_of(host: &Host, account: &PlatformAccount) -> uuid::Uuid {
    platform_account::Entity::find()
        .filter(platform_account::Column::Platform.eq(account.platform.as_str()))
        .filter(platform_account::Column::UserId.eq(account.user_id.as_str()))
        .one(&host.core.store.db)
        .await
        .expect("query accounts")
        .expect("the account exists")
        .identity_id
}

async fn audit_actions(host: &Host) -> Vec<(String, String, String)> {
    audit_log::Entity::find()
        .order_by_asc(audit_log::Column::Id)
        .all(&host.core.store.db)
        .await
        .expect("read the audit log")
        .into_iter()
        .map(|row| (row.action, row.outcome, row.actor))
        .collect()
}

impl Host {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn login(&self, token: &str) -> reqwest::Response {
        self.client
            .post(self.url("/admin/login"))
            .form(&[("token", token)])
            .send()
            .await
            .expect("login request")
    }

    /// Logs in and returns the `Cookie` header value and the session's CSRF token.
    async fn signed_in(&self) -> (String, String) {
        let response = self.login(TOKEN).await;
        assert_eq!(response.status(), 303);
        let set_cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|value| value.to_str().ok())
            .expect("a session cookie")
            .to_string();
        let cookie = set_cookie
            .split(';')
            .next()
            .expect("name=value")
            .to_string();
        let page = self.get("/admin/identities", &cookie).await;
        assert_eq!(page.0, 200, "{}", page.1);
        let csrf = page
            .1
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a CSRF field on the page")
            .to_string();
        (cookie, csrf)
    }

    async fn get(&self, path: &str, cookie: &str) -> (u16, String) {
        let response = self
            .client
            .get(self.url(path))
            .header("cookie", cookie)
            .send()
            .await
            .expect("GET");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    async fn post(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> u16 {
        let mut request = self.client.post(self.url(path)).form(form);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send().await.expect("POST").status().as_u16()
    }
}

#[tokio::test]
async fn without_admin_token_the_dashboard_does_not_exist() {
    for (db, settings) in common::test_setups().await {
        let host = spawn_host(settings, None).await;
        for path in ["/admin", "/admin/login", "/admin/audit"] {
            let (status, _) = host.get(path, "").await;
            assert_eq!(status, 404, "{}: GET {path}", db.name);
        }
        assert_eq!(host.login(TOKEN).await.status(), 404, "{}", db.name);
        assert_eq!(
            host.get("/healthz", "").await.0,
            200,
            "{}: the rest of the host still answers",
            db.name
        );
    }
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_opens_no_session() {
    for (db, settings) in common::test_setups().await {
        let host = spawn_host(settings, Some(TOKEN)).await;
        let (status, _) = host.get("/admin", "").await;
        assert_eq!(
            status, 303,
            "{}: signed-out visitors go to the login page",
            db.name
        );
        for wrong in [
            "",
            "dashboard-test-token-5f0c2b9e-7d41a3c",
            "DASHBOARD-TEST-TOKEN-5F0C2B9E-7D41A3C8",
        ] {
            let response = host.login(wrong).await;
            assert_eq!(response.status(), 401, "{}: {wrong:?}", db.name);
            assert!(
                response.headers().get("set-cookie").is_none(),
                "{}",
                db.name
            );
            let page = response.text().await.unwrap_or_default();
            assert!(
                page.contains("That token is not right."),
                "{}: {page}",
                db.name
            );
        }
        let forged = format!("we_admin_session={}", "a".repeat(64));
        assert_eq!(host.get("/admin", &forged).await.0, 303, "{}", db.name);
        let refusals = audit_actions(&host)
            .await
            .into_iter()
            .filter(|(action, outcome, _)| action == "admin.login" && outcome == "refused")
            .count();
        assert_eq!(refusals, 3, "{}: every refused login is audited", db.name);
    }
}

#[tokio::test]
async fn repeated_wrong_tokens_lock_the_address_out_even_for_the_right_token() {
    for (db, settings) in common::test_setups().await {
        let host = spawn_host(settings, Some(TOKEN)).await;
        for attempt in 1..=5 {
            let status = host.login("guess").await.status();
            assert_eq!(status, 401, "{}: attempt {attempt}", db.name);
        }
        let response = host.login(TOKEN).await;
        assert_eq!(response.status(), 429, "{}", db.name);
        assert!(
            response.headers().get("set-cookie").is_none(),
            "{}",
            db.name
        );
        assert!(response
            .text()
            .await
            .unwrap_or_default()
            .contains("Too many wrong tokens"));
    }
}

#[tokio::test]
async fn the_session_cookie_is_http_only_strict_and_ends_on_logout() {
    for (db, mut settings) in common::test_setups().await {
        settings.admin_cookie_secure = db.name == "postgres";
        let host = spawn_host(settings, Some(TOKEN)).await;
        let response = host.login(TOKEN).await;
        assert_eq!(response.status(), 303, "{}", db.name);
        assert_eq!(
            response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok()),
            Some("/admin")
        );
        let set_cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_string();
        for flag in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
            assert!(set_cookie.contains(flag), "{}: {set_cookie}", db.name);
        }
        assert_eq!(
            set_cookie.contains("Secure"),
            db.name == "postgres",
            "{}: Secure follows ADMIN_COOKIE_SECURE: {set_cookie}",
            db.name
        );
        let (cookie, csrf) = host.signed_in().await;
        let (status, page) = host.get("/admin", &cookie).await;
        assert_eq!(status, 200, "{}", db.name);
        assert!(page.contains("<h1>Overview</h1>"), "{}", db.name);
        assert!(page.contains("data-connector=\"teams\""), "{}", db.name);
        assert_eq!(
            host.post("/admin/logout", Some(&cookie), &[("csrf", "wrong")])
                .await,
            403,
            "{}: logout needs the CSRF token too",
            db.name
        );
        assert_eq!(
            host.post("/admin/logout", Some(&cookie), &[("csrf", &csrf)])
                .await,
            303,
            "{}",
            db.name
        );
        assert_eq!(
            host.get("/admin", &cookie).await.0,
            303,
            "{}: the old cookie no longer works",
            db.name
        );
    }
}

#[tokio::test]
async fn actions_without_the_right_csrf_token_are_refused_and_change_nothing() {
    for (db, settings) in common::test_setups().await {
        let host = spawn_host(settings, Some(TOKEN)).await;
        seed_people(&host).await;
        let slack = alice_on_slack().to_string();
        let discord = alice_on_discord().to_string();
        let slack_identity = identity_of(&host, &alice_on_slack()).await;
        let (cookie, csrf) = host.signed_in().await;
        let link = [("first", slack.as_str()), ("second", discord.as_str())];
        let isolate = [("target", slack.as_str())];
        for (path, form) in [
            ("/admin/identities/link", &link[..]),
            ("/admin/identities/isolate", &isolate[..]),
            ("/admin/host/isolate", &[][..]),
        ] {
            assert_eq!(
                host.post(path, Some(&cookie), form).await,
                403,
                "{}: {path} without a CSRF token",
                db.name
            );
            let mut with_wrong = form.to_vec();
            with_wrong.push(("csrf", "0123456789abcdef"));
            assert_eq!(
                host.post(path, Some(&cookie), &with_wrong).await,
                403,
                "{}: {path} with a wrong CSRF token",
                db.name
            );
            let mut without_session = form.to_vec();
            without_session.push(("csrf", csrf.as_str()));
            assert_eq!(
                host.post(path, None, &without_session).await,
                403,
                "{}: {path} without a session",
                db.name
            );
        }
        assert_ne!(
            identity_of(&host, &alice_on_discord()).await,
            slack_identity,
            "{}: nothing was linked",
            db.name
        );
        let isolated = identity::Entity::find_by_id(slack_identity)
            .one(&host.core.store.db)
            .await
            .unwrap()
            .unwrap()
            .isolated;
        assert!(!isolated, "{}: nothing was isolated", db.name);
        let admin_actions: Vec<_> = audit_actions(&host)
            .await
            .into_iter()
            .filter(|(action, _, _)| action != "admin.login")
            .filter(|(action, _, _)| action.starts_with("admin"))
            .collect();
        assert!(admin_actions.is_empty(), "{}: {admin_actions:?}", db.name);

        // The same action with the session's token goes through the core and is audited.
        let mut good = link.to_vec();
        good.push(("csrf", csrf.as_str()));
        assert_eq!(
            host.post("/admin/identities/link", Some(&cookie), &good)
                .await,
            303,
            "{}",
            db.name
        );
        assert_eq!(
            identity_of(&host, &alice_on_discord()).await,
            identity_of(&host, &alice_on_slack()).await,
            "{}: linked",
            db.name
        );
        let audited = audit_actions(&host).await;
        assert!(
            audited.contains(&(
                "admin.link".to_string(),
                "ok".to_string(),
                "desktop:admin/dashboard".to_string()
            )),
            "{}: {audited:?}",
            db.name
        );
        let (_, page) = host.get("/admin/identities?q=alice", &cookie).await;
        assert!(
            page.contains("Linked slack:T1/U_ALICE and discord:1001"),
            "{}: {page}",
            db.name
        );

        // Unlink: also needs the token, then goes through the core.
        let unlink = [("account", discord.as_str())];
        assert_eq!(
            host.post("/admin/identities/unlink", Some(&cookie), &unlink)
                .await,
            403,
            "{}",
            db.name
        );
        assert_eq!(
            identity_of(&host, &alice_on_discord()).await,
            identity_of(&host, &alice_on_slack()).await,
            "{}: still linked after a refused unlink",
            db.name
        );
        let mut good = unlink.to_vec();
        good.push(("csrf", csrf.as_str()));
        assert_eq!(
            host.post("/admin/identities/unlink", Some(&cookie), &good)
                .await,
            303,
            "{}",
            db.name
        );
        assert_ne!(
            identity_of(&host, &alice_on_discord()).await,
            identity_of(&host, &alice_on_slack()).await,
            "{}: unlinked",
            db.name
        );
        let audited = audit_actions(&host).await;
        assert!(
            audited.contains(&(
                "admin.unlink".to_string(),
                "ok".to_string(),
                "desktop:admin/dashboard".to_string()
            )),
            "{}: {audited:?}",
            db.name
        );
    }
}

#[tokio::test]
async fn what_people_typed_is_escaped_and_bad_filters_are_explained() {
    for (db, settings) in common::test_setups().await {
        let host = spawn_host(settings, Some(TOKEN)).await;
        let mallory = PlatformAccount::new(Platform::Slack, "T1", "U_MAL")
            .with_display_name("<script>alert('x')</script>");
        common::say(&host.core, common::message(&mallory, "hi")).await;
        let (cookie, _) = host.signed_in().await;
        let (status, page) = host.get("/admin/identities?q=U_MAL", &cookie).await;
        assert_eq!(status, 200, "{}", db.name);
        assert!(!page.contains("<script>alert"), "{}: {page}", db.name);
        assert!(page.contains("&lt;script&gt;alert"), "{}", db.name);
        let (status, page) = host
            .get("/admin/audit?from=%3Cb%3Enot-a-date&action=admin.", &cookie)
            .await;
        assert_eq!(status, 200, "{}", db.name);
        assert!(
            page.contains("from: expected a date like 2026-11-25"),
            "{}: {page}",
            db.name
        );
        assert!(!page.contains("<b>not-a-date"), "{}", db.name);
        let (status, page) = host.get("/admin/audit?action=admin.login", &cookie).await;
        assert_eq!(status, 200, "{}", db.name);
        assert!(page.contains("1 matching entries"), "{}: {page}", db.name);
        let (status, _) = host.get("/admin/conflicts?page=3", &cookie).await;
        assert_eq!(status, 200, "{}", db.name);
    }
}

fn screenshots_folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots")
}

#[tokio::test]
async fn in_a_real_browser_an_admin_logs_in_links_isolates_and_reads_the_audit_log() {
    let driver = webdriver::Driver::start().await;
    for (db, settings) in common::test_setups().await {
        let host = spawn_host(settings, Some(TOKEN)).await;
        seed_people(&host).await;
        let shots = screenshots_folder();
        let shot = |name: &str| format!("{name}-{}", db.name);
        let browser = driver.open_browser().await;

        // Signed out: /admin leads to the login form; a wrong token is refused.
        browser.goto(&host.url("/admin")).await;
        assert!(
            browser.current_url().await.ends_with("/admin/login"),
            "{}",
            db.name
        );
        browser.type_into("#token", "not-the-token").await;
        browser.click("#login").await;
        browser
            .wait_for_text("#login-error", |text| text == "That token is not right.")
            .await;
        assert!(
            browser.cookie("we_admin_session").await.is_null(),
            "{}",
            db.name
        );
        browser.screenshot(&shots, &shot("login-refused")).await;

        // The right token: the overview, and a cookie scripts cannot read.
        browser.type_into("#token", TOKEN).await;
        browser.click("#login").await;
        browser.wait_for_text("h1", |text| text == "Overview").await;
        let cookie = browser.cookie("we_admin_session").await;
        assert_eq!(
            cookie["httpOnly"],
            serde_json::json!(true),
            "{}: {cookie}",
            db.name
        );
        assert_eq!(
            cookie["sameSite"],
            serde_json::json!("Strict"),
            "{}: {cookie}",
            db.name
        );

        // Find the person; two accounts, two identities.
        browser.click("nav a[href='/admin/identities']").await;
        browser.type_into("#q", "alice").await;
        browser.click("#search").await;
        browser.wait_for_url(|url| url.ends_with("?q=alice")).await;
        browser
            .wait_for_texts("article.identity h3", |found| found.len() == 2)
            .await;
        browser.screenshot(&shots, &shot("identities-search")).await;

        // Link them: the "pick" buttons fill the form (the page's script), the core links.
        browser.click("button[data-pick='slack:T1/U_ALICE']").await;
        browser.click("button[data-pick='discord:1001']").await;
        browser.click("#link-submit").await;
        browser
            .wait_for_text("#flash", |text| {
                text == "Linked slack:T1/U_ALICE and discord:1001."
            })
            .await;
        let accounts = browser
            .wait_for_texts("article.identity tr[data-account] code", |found| {
                found.len() == 2
            })
            .await;
        assert_eq!(
            accounts,
            vec!["slack:T1/U_ALICE", "discord:1001"],
            "{}: one identity with both accounts",
            db.name
        );
        assert_eq!(
            browser.find_all("article.identity").await.len(),
            1,
            "{}",
            db.name
        );

        // Isolate the identity.
        browser.click("article.identity button.isolate").await;
        let flash = browser
            .wait_for_text("#flash", |text| text.starts_with("Isolated "))
            .await;
        assert!(flash.contains("linking is refused"), "{}: {flash}", db.name);
        browser.find("article.identity .badge.isolated").await;
        browser
            .screenshot(&shots, &shot("identities-isolated"))
            .await;
        let slack_identity = identity_of(&host, &alice_on_slack()).await;
        let stored = identity::Entity::find_by_id(slack_identity)
            .one(&host.core.store.db)
            .await
            .unwrap()
            .unwrap();
        assert!(stored.isolated, "{}: isolated in SQL", db.name);

        // The audit log shows both actions, through the filter form.
        browser.click("nav a[href='/admin/audit']").await;
        browser.type_into("input[name='action']", "admin.").await;
        browser.click("#filter").await;
        browser
            .wait_for_url(|url| url.contains("action=admin."))
            .await;
        let actions: Vec<String> = browser
            .wait_for_texts("#audit code.action", |found| !found.is_empty())
            .await
            .into_iter()
            .filter(|action| action != "admin.login")
            .collect();
        assert_eq!(
            actions,
            vec!["admin.isolate", "admin.link"],
            "{}: newest first",
            db.name
        );
        browser.screenshot(&shots, &shot("audit")).await;

        browser.click("nav a[href='/admin/conflicts']").await;
        browser
            .wait_for_text("h1", |text| text == "Conflicts")
            .await;
        browser.screenshot(&shots, &shot("conflicts")).await;

        // The overview once the sampler has two samples, so the charts are drawn. People keep
        // talking meanwhile; on the first database it runs a few samples longer so the charts
        // show some movement (that screenshot is the one in docs/operations.md).
        let started = std::time::Instant::now();
        let longer = std::time::Duration::from_secs(if db.name == "sqlite" { 16 } else { 0 });
        let deadline = started + std::time::Duration::from_secs(30);
        for turn in 0.. {
            let speaker = if turn % 3 == 0 {
                alice_on_discord()
            } else {
                alice_on_slack()
            };
            for _ in 0..=(turn % 4) {
                common::say(&host.core, common::message(&speaker, "and one more thing")).await;
            }
            browser.goto(&host.url("/admin")).await;
            let has_charts = !browser.find_all("#charts svg.sparkline").await.is_empty();
            if has_charts && started.elapsed() >= longer {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{}: no charts after 30 s",
                db.name
            );
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        browser.set_window_size(1280, 1400).await;
        browser.screenshot(&shots, &shot("overview")).await;

        // Log out: back to the login form, and the session is gone.
        browser.click("form.logout button").await;
        browser.find("#token").await;
        browser.goto(&host.url("/admin/audit")).await;
        assert!(
            browser.current_url().await.ends_with("/admin/login"),
            "{}",
            db.name
        );
        browser.quit().await;
    }
}

#[tokio::test]
async fn the_whole_host_is_isolated_and_released_through_the_core_command() {
    for (db, settings) in common::test_setups().await {
        let host = spawn_host(settings, Some(TOKEN)).await;
        let (cookie, csrf) = host.signed_in().await;
        let db_conn = &host.core.store.db;
        assert_eq!(
            host.post("/admin/host/isolate", Some(&cookie), &[("csrf", &csrf)])
                .await,
            303,
            "{}",
            db.name
        );
        assert!(
            whisperengine::core::privacy::isolation::is_host_isolated(db_conn)
                .await
                .unwrap(),
            "{}: isolated host-wide",
            db.name
        );
        let (_, overview) = host.get("/admin", &cookie).await;
        assert!(
            overview.contains("Host-wide isolation is ON"),
            "{}",
            db.name
        );
        assert!(
            overview.contains("Isolated the whole host"),
            "{}: the core's answer is shown",
            db.name
        );
        let (_, identities) = host.get("/admin/identities", &cookie).await;
        assert!(identities.contains("id=\"host-isolated\""), "{}", db.name);
        assert_eq!(
            host.post("/admin/host/release", Some(&cookie), &[("csrf", &csrf)])
                .await,
            303,
            "{}",
            db.name
        );
        assert!(
            !whisperengine::core::privacy::isolation::is_host_isolated(db_conn)
                .await
                .unwrap(),
            "{}: released",
            db.name
        );
        let audited: Vec<(String, String, String)> = audit_actions(&host)
            .await
            .into_iter()
            .filter(|(action, _, _)| action == "admin.isolate" || action == "admin.release")
            .collect();
        assert_eq!(
            audited,
            vec![
                (
                    "admin.isolate".into(),
                    "ok".into(),
                    "desktop:admin/dashboard".into()
                ),
                (
                    "admin.release".into(),
                    "ok".into(),
                    "desktop:admin/dashboard".into()
                ),
            ],
            "{}",
            db.name
        );
    }
}

/// An open conflict (manual strategy, two histories linked with different `tone`s) is settled from
/// the conflicts page: the POST needs the session's CSRF token, the chosen value reaches every
/// linked account, the conflict closes, and the audit log names the dashboard as the actor.
#[tokio::test]
async fn an_open_conflict_is_resolved_from_the_conflicts_page_and_audited() {
    use whisperengine::store::entities::{preference, sync_conflict};
    for (db, mut settings) in common::test_setups().await {
        settings.conflict_resolution_strategy = whisperengine::config::ConflictStrategy::Manual;
        let host = spawn_host(settings, Some(TOKEN)).await;
        let (slack, discord) = (alice_on_slack(), alice_on_discord());
        common::say(
            &host.core,
            common::command(&slack, "prefs set tone warm", false),
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        common::say(
            &host.core,
            common::command(&discord, "prefs set tone direct", false),
        )
        .await;
        common::link_by_admin(&host.core, &slack, &discord).await;
        let open = sync_conflict::Entity::find()
            .all(&host.core.store.db)
            .await
            .unwrap();
        assert_eq!(open.len(), 1, "{}: {open:?}", db.name);
        assert_eq!(open[0].status, "open", "{}", db.name);
        let id = open[0].id.to_string();
        let other = open[0].other_value.clone();

        let (cookie, csrf) = host.signed_in().await;
        let (status, page) = host.get("/admin/conflicts", &cookie).await;
        assert_eq!(status, 200, "{}", db.name);
        assert!(
            page.contains("action=\"/admin/conflicts/resolve\""),
            "{}: the open conflict has its buttons",
            db.name
        );
        // Without the CSRF token, with a wrong choice: nothing changes.
        let form = [("id", id.as_str()), ("choice", "2")];
        assert_eq!(
            host.post("/admin/conflicts/resolve", Some(&cookie), &form)
                .await,
            403
        );
        let bad = [
            ("id", id.as_str()),
            ("choice", "3"),
            ("csrf", csrf.as_str()),
        ];
        assert_eq!(
            host.post("/admin/conflicts/resolve", Some(&cookie), &bad)
                .await,
            303
        );
        let still = sync_conflict::Entity::find_by_id(open[0].id)
            .one(&host.core.store.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            still.status, "open",
            "{}: a wrong choice changes nothing",
            db.name
        );

        let good = [
            ("id", id.as_str()),
            ("choice", "2"),
            ("csrf", csrf.as_str()),
        ];
        assert_eq!(
            host.post("/admin/conflicts/resolve", Some(&cookie), &good)
                .await,
            303
        );
        let resolved = sync_conflict::Entity::find_by_id(open[0].id)
            .one(&host.core.store.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(resolved.status, "resolved", "{}", db.name);
        assert!(
            resolved
                .resolution
                .unwrap_or_default()
                .contains("an admin chose"),
            "{}",
            db.name
        );
        let tones: Vec<String> = preference::Entity::find()
            .filter(preference::Column::Key.eq("tone"))
            .all(&host.core.store.db)
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.value)
            .collect();
        assert!(
            !tones.is_empty() && tones.iter().all(|tone| *tone == other),
            "{}: every linked account now has `{other}`: {tones:?}",
            db.name
        );
        let (_, page) = host.get("/admin/conflicts", &cookie).await;
        assert!(
            page.contains(&format!(
                "Done: tone is now {other} on all their linked accounts"
            )),
            "{}: the result is shown",
            db.name
        );
        assert!(
            audit_actions(&host)
                .await
                .iter()
                .any(|(action, outcome, actor)| {
                    action == "admin.conflicts.resolve"
                        && outcome == "ok"
                        && actor == "desktop:admin/dashboard"
                }),
            "{}: audited as the dashboard",
            db.name
        );
        db.cleanup().await;
    }
}
