//! Inbound authentication: validates the Bot Framework's `Authorization: Bearer` JWT against the keys
//! published in the OpenID metadata.
//!
//! What is checked: RS256 only (so `none` and HMAC tokens are refused before any key is looked at), a
//! known signing key, the signature, issuer, audience (the app id), `exp`/`nbf` with 5 minutes of
//! clock skew, and — in [`VerifiedToken::check_activity`] — that the token's `serviceurl` claim is the
//! activity's `serviceUrl` and that the key is endorsed for the activity's channel (a key without
//! endorsements is endorsed for nothing).
//!
//! The keys are cached and read again daily, or on an unknown `kid` at most once per refresh
//! interval. One read runs at a time (concurrent requests wait for it, the cache is not locked
//! while it runs), and after a failed read the next waits 1 s, doubling up to 30 s, so neither
//! forged `kid`s nor an outage turn into a request per request. Keys that cannot be had are
//! [`AuthError::KeysUnavailable`] (503, the Bot Framework retries), never a refusal as forged.
//!
//! Over 500 lines: the JWT check and the signing-key cache with its back-off; about half is tests.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use url::Url;

/// Issuer of tokens the Bot Framework sends to bots.
pub const BOT_FRAMEWORK_ISSUER: &str = "https://api.botframework.com";
/// Clock skew accepted on `exp` and `nbf`.
pub const CLOCK_SKEW_SECONDS: u64 = 300;
/// Keys are read again once this old even when every `kid` is known (Microsoft rotates them; its
/// SDKs refresh daily).
const REFRESH_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// While the keys cannot be read again they stay usable up to this age; older keys are stale and
/// every request is answered 503 until a read succeeds.
const KEYS_MAX_AGE: Duration = Duration::from_secs(48 * 60 * 60);
/// Wait after one failed read before the next; doubled for each further failure in a row.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);
/// The longest wait between two failed reads.
const RETRY_AFTER_FAILURE_MAX: Duration = Duration::from_secs(30);

/// Why a token was refused. Each maps to a `reason` label of `whisperengine_teams_auth_rejected_total`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no Bearer token in the Authorization header")]
    MissingToken,
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token is not signed with RS256")]
    Algorithm,
    #[error("the token's signing key is not published by the Bot Framework")]
    UnknownKey,
    #[error("the signing keys could not be fetched: {0}")]
    KeysUnavailable(String),
    #[error("the token's signature is invalid")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is for another audience")]
    Audience,
    #[error("the token comes from an unexpected issuer")]
    Issuer,
    #[error("the token's serviceurl claim does not match the activity's serviceUrl")]
    ServiceUrl,
    #[error("the signing key is not endorsed for this channel")]
    Endorsement,
    #[error("the activity does not come from the msteams channel")]
    Channel,
    #[error("the activity's serviceUrl is not in TEAMS_ALLOWED_SERVICE_URLS")]
    ServiceUrlNotAllowed,
}

impl AuthError {
    /// The metric label for this refusal.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing_token",
            AuthError::Malformed => "malformed",
            AuthError::Algorithm => "algorithm",
            AuthError::UnknownKey => "unknown_kid",
            AuthError::KeysUnavailable(_) => "keys_unavailable",
            AuthError::Signature => "signature",
            AuthError::Expired => "expired",
            AuthError::NotYetValid => "not_yet_valid",
            AuthError::Audience => "audience",
            AuthError::Issuer => "issuer",
            AuthError::ServiceUrl => "service_url",
            AuthError::Endorsement => "endorsement",
            AuthError::Channel => "channel",
            AuthError::ServiceUrlNotAllowed => "service_url_not_allowed",
        }
    }
}

impl From<jsonwebtoken::errors::Error> for AuthError {
    fn from(error: jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind;
        match error.kind() {
            ErrorKind::InvalidSignature => AuthError::Signature,
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::ImmatureSignature => AuthError::NotYetValid,
            ErrorKind::InvalidAudience => AuthError::Audience,
            ErrorKind::InvalidIssuer => AuthError::Issuer,
            ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => AuthError::Algorithm,
            ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
                "aud" => AuthError::Audience,
                "iss" => AuthError::Issuer,
                _ => AuthError::Malformed,
            },
            _ => AuthError::Malformed,
        }
    }
}

/// The claims this connector reads.
#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default, alias = "serviceUrl")]
    serviceurl: Option<String>,
}

/// A token that passed signature and claim checks; the activity still has to match it.
#[derive(Debug)]
pub struct VerifiedToken {
    service_url: Option<String>,
    endorsements: Option<Vec<String>>,
}

impl VerifiedToken {
    /// Checks the activity against the token: same service URL (a forged `serviceUrl` would turn the
    /// bot's replies, and its bearer token, towards an attacker), and a key endorsed for its channel.
    /// An activity without a channel, or a key that lists no endorsements, fails the second check:
    /// a key vouches only for the channels it names.
    pub fn check_activity(
        &self,
        service_url: &str,
        channel_id: Option<&str>,
    ) -> Result<(), AuthError> {
        let claimed = self.service_url.as_deref().ok_or(AuthError::ServiceUrl)?;
        if claimed.trim_end_matches('/') != service_url.trim_end_matches('/') {
            return Err(AuthError::ServiceUrl);
        }
        let channel = channel_id.ok_or(AuthError::Endorsement)?;
        let is_endorsed = self
            .endorsements
            .as_deref()
            .is_some_and(|endorsements| endorsements.iter().any(|endorsed| endorsed == channel));
        if !is_endorsed {
            return Err(AuthError::Endorsement);
        }
        Ok(())
    }
}

/// One published key.
#[derive(Clone)]
struct PublishedKey {
    kid: String,
    key: DecodingKey,
    endorsements: Option<Vec<String>>,
}

/// What the verifier knows of the published keys.
#[derive(Default)]
struct KeyCache {
    keys: Vec<PublishedKey>,
    /// When `keys` were read (the last successful read).
    loaded_at: Option<Instant>,
    /// When the last read, successful or not, finished.
    last_attempt: Option<Instant>,
    /// Failed reads since the last successful one.
    failures: u32,
    /// Reads finished so far: a request that waited for a read sees it changed and does not read again.
    reads: u64,
}

/// What to do for one `kid`, given the cache.
enum Step {
    Use(PublishedKey),
    Read,
    Refuse(AuthError),
}

impl KeyCache {
    /// The step for `kid` at `now`. `may_read` is false once this request has read the keys or
    /// waited for another's read: one read per request at most.
    fn next_step(
        &self,
        kid: &str,
        now: Instant,
        refresh_interval: Duration,
        may_read: bool,
    ) -> Step {
        let age = self.loaded_at.map(|at| now.saturating_duration_since(at));
        let is_usable = age.is_some_and(|age| age < KEYS_MAX_AGE);
        let is_due = age.is_none_or(|age| age >= REFRESH_AFTER);
        let known = if is_usable {
            self.keys.iter().find(|key| key.kid == kid).cloned()
        } else {
            None
        };
        if let (Some(key), false) = (&known, is_due) {
            return Step::Use(key.clone());
        }
        let wait = if self.failures > 0 {
            retry_after(self.failures)
        } else {
            refresh_interval
        };
        let is_backing_off = self
            .last_attempt
            .is_some_and(|at| now.saturating_duration_since(at) < wait);
        if may_read && !is_backing_off {
            return Step::Read;
        }
        match known {
            // Due for a refresh that failed or waits: still within their maximum age.
            Some(key) => Step::Use(key),
            // Read successfully and recently, and this kid is not among them: not Microsoft's.
            None if is_usable && !is_due && self.failures == 0 => {
                Step::Refuse(AuthError::UnknownKey)
            }
            // Never read, too old, or the last read failed: the kid may be a new genuine key.
            None => Step::Refuse(AuthError::KeysUnavailable(
                match (is_usable, self.failures) {
                    (false, 0) => "not read yet",
                    (false, _) => "the last reads failed and no usable keys are cached",
                    (true, _) => "the last read failed and the key id is not among the cached keys",
                }
                .into(),
            )),
        }
    }

    /// Records the outcome of a read that finished at `now`. A failed read keeps the old keys.
    fn record(&mut self, read: Result<Vec<PublishedKey>, AuthError>, now: Instant) {
        self.reads += 1;
        self.last_attempt = Some(now);
        match read {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "Bot Framework signing keys loaded");
                self.keys = keys;
                self.loaded_at = Some(now);
                self.failures = 0;
            }
            Err(error) => {
                self.failures = self.failures.saturating_add(1);
                tracing::warn!(
                    %error,
                    failures = self.failures,
                    retry_in_seconds = retry_after(self.failures).as_secs(),
                    "could not read the Bot Framework signing keys"
                );
            }
        }
    }
}

/// The wait after `failures` failed reads in a row: 1 s, 2 s, 4 s, ... up to 30 s.
fn retry_after(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    RETRY_AFTER_FAILURE
        .saturating_mul(1 << doublings)
        .min(RETRY_AFTER_FAILURE_MAX)
}

/// Validates inbound tokens. One per connector; cheap to share behind an `Arc`.
pub struct Verifier {
    http: reqwest::Client,
    metadata_url: Url,
    validation: Validation,
    refresh_interval: Duration,
    /// Only ever locked briefly, never across a read.
    cache: Mutex<KeyCache>,
    /// Held for the duration of a read: one read at a time.
    reading: tokio::sync::Mutex<()>,
}

impl Verifier {
    /// A verifier for tokens addressed to `app_id`. With a `tenant_id` (single-tenant bot) the
    /// tenant's own issuers are accepted besides the Bot Framework's. `refresh_interval` is the
    /// least time between two reads caused by an unknown `kid`.
    pub fn new(
        http: reqwest::Client,
        metadata_url: Url,
        app_id: &str,
        tenant_id: Option<&str>,
        refresh_interval: Duration,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.algorithms = vec![Algorithm::RS256];
        validation.leeway = CLOCK_SKEW_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_audience(&[app_id]);
        let mut issuers = vec![BOT_FRAMEWORK_ISSUER.to_string()];
        if let Some(tenant) = tenant_id {
            issuers.push(format!("https://sts.windows.net/{tenant}/"));
            issuers.push(format!("https://login.microsoftonline.com/{tenant}/v2.0"));
        }
        validation.set_issuer(&issuers);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        Verifier {
            http,
            metadata_url,
            validation,
            refresh_interval,
            cache: Mutex::new(KeyCache::default()),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    /// Validates the value of an `Authorization` header.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<VerifiedToken, AuthError> {
        let token = bearer_token(authorization)?;
        let kid = signing_key_id(token)?;
        let key = self.key(&kid).await?;
        self.verify_signed(token, &key.key, key.endorsements)
    }

    /// Checks `token`'s signature with `key` and its claims (issuer, audience, expiry). The last step
    /// of [`Verifier::verify`], public for the fuzz targets.
    #[doc(hidden)]
    pub fn verify_signed(
        &self,
        token: &str,
        key: &DecodingKey,
        endorsements: Option<Vec<String>>,
    ) -> Result<VerifiedToken, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation)?;
        Ok(VerifiedToken {
            service_url: data.claims.serviceurl,
            endorsements,
        })
    }

    fn cache(&self) -> MutexGuard<'_, KeyCache> {
        // The cache is consistent after every statement, so a panic elsewhere cannot leave it torn.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The published key with id `kid`, reading the keys when they are due or `kid` is unknown
    /// (see [`KeyCache::next_step`] for when a read is allowed).
    async fn key(&self, kid: &str) -> Result<PublishedKey, AuthError> {
        let mut may_read = true;
        loop {
            let (step, reads) = {
                let cache = self.cache();
                let step = cache.next_step(kid, Instant::now(), self.refresh_interval, may_read);
                (step, cache.reads)
            };
            match step {
                Step::Use(key) => return Ok(key),
                Step::Refuse(error) => return Err(error),
                Step::Read => {}
            }
            may_read = false;
            let _reading = self.reading.lock().await;
            if self.cache().reads != reads {
                // Another request read the keys while this one waited: use its outcome.
                continue;
            }
            let read = self.fetch_keys().await;
            self.cache().record(read, Instant::now());
        }
    }

    async fn fetch_keys(&self) -> Result<Vec<PublishedKey>, AuthError> {
        #[derive(Deserialize)]
        struct Metadata {
            jwks_uri: Url,
        }
        #[derive(Deserialize)]
        struct KeySet {
            keys: Vec<serde_json::Value>,
        }
        let unavailable = |error: reqwest::Error| AuthError::KeysUnavailable(error.to_string());
        let metadata: Metadata = self
            .http
            .get(self.metadata_url.clone())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)?;
        let set: KeySet = self
            .http
            .get(metadata.jwks_uri)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)?;
        let keys: Vec<PublishedKey> = set.keys.into_iter().filter_map(published_key).collect();
        if keys.is_empty() {
            return Err(AuthError::KeysUnavailable(
                "the key set holds no usable RSA key".into(),
            ));
        }
        Ok(keys)
    }
}

/// The token of an `Authorization: Bearer <token>` header value.
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, AuthError> {
    authorization
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|token| !token.is_empty())
        .ok_or(AuthError::MissingToken)
}

/// Reads the JWT header of `token`: RS256 only, and the id of the key it is signed with. `alg:
/// none` fails here (not a known algorithm), which is a refusal like any other.
pub fn signing_key_id(token: &str) -> Result<String, AuthError> {
    let header = jsonwebtoken::decode_header(token).map_err(AuthError::from)?;
    if header.alg != Algorithm::RS256 {
        return Err(AuthError::Algorithm);
    }
    header.kid.ok_or(AuthError::UnknownKey)
}

/// Reads one JWKS entry; keys that are not usable RSA keys with a `kid` are skipped.
fn published_key(value: serde_json::Value) -> Option<PublishedKey> {
    let endorsements = value.get("endorsements").and_then(|list| {
        list.as_array().map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_string))
                .collect()
        })
    });
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    let kid = jwk.common.key_id.clone()?;
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some(PublishedKey {
        kid,
        key,
        endorsements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_url_claim_must_match_the_activity() {
        let token = VerifiedToken {
            service_url: Some("https://smba.example/emea/".into()),
            endorsements: Some(vec!["msteams".into()]),
        };
        assert_eq!(
            token.check_activity("https://smba.example/emea/", Some("msteams")),
            Ok(())
        );
        assert_eq!(
            token.check_activity("https://smba.example/emea", Some("msteams")),
            Ok(()),
            "a trailing slash is not a different service"
        );
        assert_eq!(
            token.check_activity("https://evil.example/emea/", Some("msteams")),
            Err(AuthError::ServiceUrl)
        );
        assert_eq!(
            token.check_activity("https://smba.example/emea/", Some("webchat")),
            Err(AuthError::Endorsement)
        );
        assert_eq!(
            token.check_activity("https://smba.example/emea/", None),
            Err(AuthError::Endorsement),
            "an activity that names no channel is endorsed by no key"
        );
        let no_endorsements = VerifiedToken {
            service_url: Some("https://smba.example/emea/".into()),
            endorsements: None,
        };
        assert_eq!(
            no_endorsements.check_activity("https://smba.example/emea/", Some("msteams")),
            Err(AuthError::Endorsement),
            "a key without endorsements vouches for no channel"
        );
        let no_claim = VerifiedToken {
            service_url: None,
            endorsements: None,
        };
        assert_eq!(
            no_claim.check_activity("https://smba.example/", None),
            Err(AuthError::ServiceUrl)
        );
    }

    #[tokio::test]
    async fn tokens_without_a_bearer_or_with_another_algorithm_are_refused_before_any_key_lookup() {
        let verifier = Verifier::new(
            reqwest::Client::new(),
            Url::parse("http://127.0.0.1:9/unreachable").unwrap(),
            "app",
            None,
            Duration::from_secs(300),
        );
        assert_eq!(
            verifier.verify(None).await.unwrap_err(),
            AuthError::MissingToken
        );
        assert_eq!(
            verifier.verify(Some("Basic abc")).await.unwrap_err(),
            AuthError::MissingToken
        );
        // {"alg":"none","typ":"JWT"} . {} . (empty signature)
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.e30.";
        assert!(verifier
            .verify(Some(&format!("Bearer {none}")))
            .await
            .is_err());
        // {"alg":"HS256","typ":"JWT"} . {} . x
        let hmac = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.eA";
        assert_eq!(
            verifier
                .verify(Some(&format!("Bearer {hmac}")))
                .await
                .unwrap_err(),
            AuthError::Algorithm
        );
    }

    fn test_key(kid: &str) -> PublishedKey {
        PublishedKey {
            kid: kid.to_string(),
            key: DecodingKey::from_secret(b"unused"),
            endorsements: Some(vec!["msteams".into()]),
        }
    }

    fn step_name(step: &Step) -> String {
        match step {
            Step::Use(key) => format!("use {}", key.kid),
            Step::Read => "read".into(),
            Step::Refuse(error) => format!("refuse {}", error.reason()),
        }
    }

    const INTERVAL: Duration = Duration::from_secs(300);

    #[test]
    fn nothing_read_yet_means_a_read_then_503_while_backing_off() {
        let now = Instant::now();
        let mut cache = KeyCache::default();
        assert_eq!(
            step_name(&cache.next_step("k", now, INTERVAL, true)),
            "read"
        );
        cache.record(Err(AuthError::KeysUnavailable("down".into())), now);
        for kid in ["k", "random"] {
            assert_eq!(
                step_name(&cache.next_step(kid, now, INTERVAL, true)),
                "refuse keys_unavailable",
                "never 401 while the keys cannot be read"
            );
        }
        let later = now + Duration::from_millis(1_100);
        assert_eq!(
            step_name(&cache.next_step("k", later, INTERVAL, true)),
            "read"
        );
        cache.record(Err(AuthError::KeysUnavailable("down".into())), later);
        assert_eq!(
            step_name(&cache.next_step("k", later + Duration::from_millis(1_500), INTERVAL, true)),
            "refuse keys_unavailable",
            "the second failure waits 2 s"
        );
        assert_eq!(
            step_name(&cache.next_step("k", later + Duration::from_secs(2), INTERVAL, true)),
            "read"
        );
        assert_eq!(
            step_name(&cache.next_step("k", later + Duration::from_secs(2), INTERVAL, false)),
            "refuse keys_unavailable",
            "one read per request"
        );
    }

    #[test]
    fn fresh_keys_answer_known_kids_and_refuse_unknown_ones_within_the_refresh_interval() {
        let now = Instant::now();
        let mut cache = KeyCache::default();
        cache.record(Ok(vec![test_key("k")]), now);
        let soon = now + Duration::from_secs(10);
        assert_eq!(
            step_name(&cache.next_step("k", soon, INTERVAL, true)),
            "use k"
        );
        assert_eq!(
            step_name(&cache.next_step("forged", soon, INTERVAL, true)),
            "refuse unknown_kid"
        );
        let after_interval = now + INTERVAL;
        assert_eq!(
            step_name(&cache.next_step("rotated", after_interval, INTERVAL, true)),
            "read"
        );
        // The unknown-kid read failed: the cached keys still serve, an unknown kid may be genuine.
        cache.record(
            Err(AuthError::KeysUnavailable("down".into())),
            after_interval,
        );
        assert_eq!(
            step_name(&cache.next_step("k", after_interval, INTERVAL, true)),
            "use k"
        );
        assert_eq!(
            step_name(&cache.next_step("rotated", after_interval, INTERVAL, true)),
            "refuse keys_unavailable"
        );
    }

    #[test]
    fn old_keys_are_read_again_with_a_back_off_and_stale_keys_are_unavailable() {
        let loaded = Instant::now();
        let mut cache = KeyCache::default();
        cache.record(Ok(vec![test_key("k")]), loaded);
        let due = loaded + REFRESH_AFTER;
        assert_eq!(
            step_name(&cache.next_step("k", due, INTERVAL, true)),
            "read"
        );
        cache.record(Err(AuthError::KeysUnavailable("down".into())), due);
        // Within the back-off random kids cause no read; the known key serves until it is stale.
        let now = due + Duration::from_millis(500);
        assert_eq!(
            step_name(&cache.next_step("k", now, INTERVAL, true)),
            "use k"
        );
        assert_eq!(
            step_name(&cache.next_step("random", now, INTERVAL, true)),
            "refuse keys_unavailable"
        );
        assert_eq!(
            step_name(&cache.next_step("random", due + Duration::from_secs(1), INTERVAL, true)),
            "read"
        );
        let stale = loaded + KEYS_MAX_AGE;
        cache.record(Err(AuthError::KeysUnavailable("down".into())), stale);
        assert_eq!(cache.failures, 2);
        assert_eq!(
            step_name(&cache.next_step("k", stale, INTERVAL, true)),
            "refuse keys_unavailable",
            "stale keys are not used"
        );
        cache.record(Ok(vec![test_key("k2")]), stale + Duration::from_secs(30));
        assert_eq!(cache.failures, 0);
        assert_eq!(
            step_name(&cache.next_step("k2", stale + Duration::from_secs(31), INTERVAL, true)),
            "use k2"
        );
    }

    #[test]
    fn the_wait_after_failures_doubles_up_to_thirty_seconds() {
        let waits: Vec<u64> = (1..=8).map(|n| retry_after(n).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(retry_after(u32::MAX), RETRY_AFTER_FAILURE_MAX);
    }

    /// A local OpenID metadata + JWKS server counting key-set reads; each read takes `delay`.
    async fn key_server(delay: Duration) -> (Url, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use axum::routing::get;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let reads = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = reads.clone();
        let jwk = Jwk::from_encoding_key(
            &jsonwebtoken::EncodingKey::from_rsa_der(TEST_SIGNING_KEY),
            Algorithm::RS256,
        )
        .unwrap();
        let mut key = serde_json::to_value(jwk).unwrap();
        key["kid"] = serde_json::json!("k");
        key["endorsements"] = serde_json::json!(["msteams"]);
        let app = axum::Router::new()
            .route(
                "/openid",
                get(move || async move {
                    axum::Json(serde_json::json!({"jwks_uri": format!("http://{address}/jwks")}))
                }),
            )
            .route(
                "/jwks",
                get(move || {
                    let counter = counter.clone();
                    let key = key.clone();
                    async move {
                        let read = counter.fetch_add(1, Ordering::SeqCst);
                        if read > 0 {
                            tokio::time::sleep(delay).await;
                        }
                        axum::Json(serde_json::json!({"keys": [key]}))
                    }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (
            Url::parse(&format!("http://{address}/openid")).unwrap(),
            reads,
        )
    }

    const TEST_SIGNING_KEY: &[u8] = include_bytes!("../tests/keys/bot_framework.der");

    fn token_for(kid: &str) -> String {
        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_string());
        let claims = serde_json::json!({
            "iss": BOT_FRAMEWORK_ISSUER, "aud": "app",
            "exp": chrono::Utc::now().timestamp() + 600, "serviceurl": "https://smba.example/"
        });
        let key = jsonwebtoken::EncodingKey::from_rsa_der(TEST_SIGNING_KEY);
        format!(
            "Bearer {}",
            jsonwebtoken::encode(&header, &claims, &key).unwrap()
        )
    }

    #[tokio::test]
    async fn concurrent_unknown_kids_share_one_read_and_known_kids_never_wait_for_it() {
        let (metadata_url, reads) = key_server(Duration::from_millis(800)).await;
        // A refresh interval of zero: every unknown kid may cause a read, so only the
        // single-flight keeps them to one.
        let verifier = std::sync::Arc::new(Verifier::new(
            reqwest::Client::new(),
            metadata_url,
            "app",
            None,
            Duration::ZERO,
        ));
        assert!(verifier.verify(Some(&token_for("k"))).await.is_ok());
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 1);

        let mut unknown = Vec::new();
        for n in 0..20 {
            let verifier = verifier.clone();
            unknown.push(tokio::spawn(async move {
                verifier
                    .verify(Some(&token_for(&format!("random-{n}"))))
                    .await
            }));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        // A read is under way (it takes 800 ms): a known kid is answered from the cache meanwhile.
        let started = Instant::now();
        assert!(verifier.verify(Some(&token_for("k"))).await.is_ok());
        assert!(
            started.elapsed() < Duration::from_millis(400),
            "a known kid waited {:?} for a read",
            started.elapsed()
        );
        for task in unknown {
            assert_eq!(task.await.unwrap().unwrap_err(), AuthError::UnknownKey);
        }
        assert_eq!(
            reads.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "twenty unknown kids at once: one read"
        );
    }
}
