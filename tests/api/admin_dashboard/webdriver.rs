//! A small W3C WebDriver client over reqwest (the HTTP client the host already uses), driving
//! Debian's chromium through chromedriver. It is a handful of JSON requests, so no WebDriver crate
//! (and no second HTTP stack) is needed.
//!
//! chromedriver must be installed (`apt-get install -y chromium chromium-driver`); without it the
//! browser test fails with that instruction rather than skipping.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The W3C key of an element reference in WebDriver answers.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Chromium flags for a headless run in a container.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
];

fn find_in_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|directory| names.iter().map(move |name| directory.join(name)))
        .find(|candidate| candidate.is_file())
}

/// A running chromedriver, stopped when dropped.
pub struct Driver {
    process: Child,
    base: String,
    client: reqwest::Client,
    chromium: PathBuf,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it answers. Panics with the install
    /// command when chromedriver or chromium is missing.
    pub async fn start() -> Driver {
        let chromedriver = std::env::var_os("CHROMEDRIVER")
            .map(PathBuf::from)
            .or_else(|| find_in_path(&["chromedriver"]))
            .unwrap_or_else(|| {
                panic!(
                    "chromedriver is not installed, so the dashboard cannot be tested in a real browser. \
                     Install it with: apt-get install -y chromium chromium-driver"
                )
            });
        let chromium = std::env::var_os("CHROMIUM")
            .map(PathBuf::from)
            .or_else(|| find_in_path(&["chromium", "chromium-browser", "google-chrome"]))
            .unwrap_or_else(|| {
                panic!(
                    "chromium is not installed. Install it with: apt-get install -y chromium chromium-driver"
                )
            });
        let port = free_port();
        let process = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", chromedriver.display()));
        let driver = Driver {
            process,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            chromium,
        };
        driver.wait_until_ready().await;
        driver
    }

    async fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = self
                .client
                .get(format!("{}/status", self.base))
                .send()
                .await;
            if let Ok(response) = status {
                if let Ok(body) = response.json::<Value>().await {
                    if body["value"]["ready"] == json!(true) {
                        return;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Opens a headless chromium window.
    pub async fn open_browser(&self) -> Browser {
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": self.chromium.to_string_lossy(),
                        "args": CHROMIUM_ARGS,
                    }
                }
            }
        });
        let answer: Value = self
            .client
            .post(format!("{}/session", self.base))
            .json(&capabilities)
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("a JSON answer");
        let id = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromium did not start: {answer}"))
            .to_string();
        Browser {
            client: self.client.clone(),
            session: format!("{}/session/{id}", self.base),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// One browser window (a WebDriver session).
pub struct Browser {
    client: reqwest::Client,
    session: String,
}

impl Browser {
    /// One WebDriver command; `Err` carries WebDriver's error (e.g. a stale element while a new
    /// page replaces the old one).
    async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"))
            .json()
            .await
            .unwrap_or_else(|error| panic!("{method} {path}: not JSON: {error}"));
        match answer["value"]["error"].as_str() {
            Some(error) => Err(format!(
                "{method} {path}: {error}: {}",
                answer["value"]["message"].as_str().unwrap_or_default()
            )),
            None => Ok(answer["value"].clone()),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .await
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// Loads `url` and waits for it.
    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn page_source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Elements matching the CSS selector now (none is not an error).
    pub async fn find_all(&self, css: &str) -> Vec<String> {
        let found = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        found
            .as_array()
            .map(|elements| {
                elements
                    .iter()
                    .filter_map(|element| element[ELEMENT_KEY].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first element matching `css`, waiting up to 10 s for it to appear.
    pub async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(first) = self.find_all(css).await.into_iter().next() {
                return first;
            }
            assert!(
                Instant::now() < deadline,
                "no element matches {css:?} on {} after 10 s; page:\n{}",
                self.current_url().await,
                self.page_source().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Types `text` into the element matching `css` (after clearing it).
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/clear"),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// The visible texts of every element matching `css` now, or `Err` if the page changed
    /// while they were read.
    async fn try_texts(&self, css: &str) -> Result<Vec<String>, String> {
        let mut texts = Vec::new();
        for element in self.find_all(css).await {
            let text = self
                .try_call(
                    reqwest::Method::GET,
                    &format!("/element/{element}/text"),
                    None,
                )
                .await?;
            texts.push(text.as_str().unwrap_or_default().to_string());
        }
        Ok(texts)
    }

    /// The texts of the elements matching `css` once `is_expected` holds for them (waiting up to
    /// 10 s, e.g. for the page a click submitted to replace the current one).
    pub async fn wait_for_texts(
        &self,
        css: &str,
        is_expected: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let read = self.try_texts(css).await;
            if let Ok(texts) = &read {
                if is_expected(texts) {
                    return texts.clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "{css:?} on {} is not as expected after 10 s: {read:?}",
                self.current_url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of the first element matching `css` once `is_expected` holds for it.
    pub async fn wait_for_text(&self, css: &str, is_expected: impl Fn(&str) -> bool) -> String {
        self.wait_for_texts(css, |texts| {
            texts.first().is_some_and(|text| is_expected(text))
        })
        .await
        .remove(0)
    }

    /// Waits up to 10 s for the current URL to satisfy `is_expected`.
    pub async fn wait_for_url(&self, is_expected: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = self.current_url().await;
            if is_expected(&url) {
                return url;
            }
            assert!(Instant::now() < deadline, "the browser stayed on {url}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The cookie `name` as the browser holds it (`null` when it has none).
    pub async fn cookie(&self, name: &str) -> Value {
        let cookies = self.call(reqwest::Method::GET, "/cookie", None).await;
        cookies
            .as_array()
            .and_then(|all| all.iter().find(|cookie| cookie["name"] == json!(name)))
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Resizes the window (e.g. to fit a whole page in a screenshot).
    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    /// Saves a PNG of the window to `directory/name.png`.
    pub async fn screenshot(&self, directory: &Path, name: &str) {
        use base64::Engine;
        let encoded = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("the screenshot is base64");
        std::fs::create_dir_all(directory).expect("create the screenshots folder");
        std::fs::write(directory.join(format!("{name}.png")), png).expect("write a screenshot");
    }

    /// Closes the window.
    pub async fn quit(self) {
        let _ = self.client.delete(&self.session).send().await;
    }
}
