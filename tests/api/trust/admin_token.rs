//! The dashboard's credentials: an ADMIN_TOKEN shorter than 32 characters stops start-up with an
//! error naming the variable (and never the value), and the session cookie is `Secure` whenever
//! PUBLIC_URL is https, without ADMIN_COOKIE_SECURE having to be remembered.

use crate::common::test_setups;
use std::collections::HashMap;
use whisperengine::app::Application;

fn load(
    pairs: &[(&str, &str)],
) -> Result<whisperengine::config::Settings, whisperengine::config::ConfigError> {
    let values: HashMap<String, String> = pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    whisperengine::config::load_from(&values, None)
}

#[test]
fn a_short_admin_token_stops_start_up_naming_the_variable() {
    let short = "hunter2-admin-token-31-chars-xx";
    assert_eq!(short.chars().count(), 31);
    let error = load(&[("DEPLOYMENT_MODE", "cloud"), ("ADMIN_TOKEN", short)])
        .expect_err("a short token is refused");
    assert_eq!(error.variable, "ADMIN_TOKEN");
    assert!(error.message.contains("32"), "{error}");
    assert!(!error.to_string().contains("hunter2"), "{error}");

    let long = "hunter2-admin-token-32-chars-xxx";
    let settings = load(&[("DEPLOYMENT_MODE", "cloud"), ("ADMIN_TOKEN", long)])
        .expect("32 characters are enough");
    assert!(settings.admin_token.is_some());
}

#[tokio::test]
async fn the_dashboard_cookie_is_secure_when_the_public_url_is_https() {
    const TOKEN: &str = "trust-admin-token-0123456789abcdef";
    for (db, mut settings) in test_setups().await {
        settings.admin_token = Some(TOKEN.to_string().into());
        settings.admin_cookie_secure = false;
        settings.public_url = Some("https://whisper.example.org".parse().expect("a URL"));
        let application = Application::build(settings).await.expect("the host builds");
        let base = format!("http://{}", application.address());
        tokio::spawn(application.run_until_stopped(std::future::pending()));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        let response = client
            .post(format!("{base}/admin/login"))
            .form(&[("token", TOKEN)])
            .send()
            .await
            .expect("the host answers");
        assert_eq!(response.status(), 303, "{}", db.name);
        let set_cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            set_cookie.split(';').any(|part| part.trim() == "Secure"),
            "{}: {set_cookie}",
            db.name
        );
    }
}
