//! Inbound authentication: validates the Bot Framework's `Authorization: Bearer` JWT against the keys
//! published in the OpenID metadata (cached, refreshed on an unknown `kid` at most once per interval).
//!
//! What is checked: RS256 only (so `none` and HMAC tokens are refused before any key is looked at), a
//! known signing key, the signature, issuer, audience (the app id), `exp`/`nbf` with 5 minutes of
//! clock skew, and — in [`VerifiedToken::check_activity`] — that the token's `serviceurl` claim is the
//! activity's `serviceUrl` and that the key is endorsed for the activity's channel.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use url::Url;

/// Issuer of tokens the Bot Framework sends to bots.
pub const BOT_FRAMEWORK_ISSUER: &str = "https://api.botframework.com";
/// Clock skew accepted on `exp` and `nbf`.
pub const CLOCK_SKEW_SECONDS: u64 = 300;
/// Keys are re-read at least this often even when every `kid` is known (Microsoft rotates them).
const KEYS_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// After a failed first load, wait this long before asking again (no fetch storm while it is down).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

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
    pub fn check_activity(
        &self,
        service_url: &str,
        channel_id: Option<&str>,
    ) -> Result<(), AuthError> {
        let claimed = self.service_url.as_deref().ok_or(AuthError::ServiceUrl)?;
        if claimed.trim_end_matches('/') != service_url.trim_end_matches('/') {
            return Err(AuthError::ServiceUrl);
        }
        if let (Some(endorsements), Some(channel)) = (&self.endorsements, channel_id) {
            if !endorsements.iter().any(|endorsed| endorsed == channel) {
                return Err(AuthError::Endorsement);
            }
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

#[derive(Default)]
struct KeyCache {
    keys: Vec<PublishedKey>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

/// Validates inbound tokens. One per connector; cheap to share behind an `Arc`.
pub struct Verifier {
    http: reqwest::Client,
    metadata_url: Url,
    validation: Validation,
    refresh_interval: Duration,
    cache: Mutex<KeyCache>,
}

impl Verifier {
    /// A verifier for tokens addressed to `app_id`. With a `tenant_id` (single-tenant bot) the
    /// tenant's own issuers are accepted besides the Bot Framework's.
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

    /// The published key with id `kid`, reading the keys again when they are old, or when `kid` is
    /// unknown and the last read is older than the refresh interval (so forged `kid`s cannot make
    /// us hammer the metadata endpoint).
    async fn key(&self, kid: &str) -> Result<PublishedKey, AuthError> {
        let mut cache = self.cache.lock().await;
        let now = Instant::now();
        let is_fresh = cache
            .fetched_at
            .is_some_and(|at| now.duration_since(at) < KEYS_MAX_AGE);
        let cached = cache.keys.iter().find(|key| key.kid == kid).cloned();
        if let (true, Some(key)) = (is_fresh, &cached) {
            return Ok(key.clone());
        }
        let wait = if cache.fetched_at.is_none() {
            RETRY_AFTER_FAILURE
        } else if is_fresh {
            self.refresh_interval
        } else {
            Duration::ZERO
        };
        let may_refresh = cache
            .last_attempt
            .is_none_or(|at| now.duration_since(at) >= wait);
        if !may_refresh {
            return match (cached, cache.fetched_at) {
                (Some(key), _) => Ok(key),
                (None, Some(_)) => Err(AuthError::UnknownKey),
                (None, None) => Err(AuthError::KeysUnavailable(
                    "waiting before the next attempt".into(),
                )),
            };
        }
        cache.last_attempt = Some(now);
        match self.fetch_keys().await {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "Bot Framework signing keys loaded");
                cache.keys = keys;
                cache.fetched_at = Some(Instant::now());
            }
            Err(error) => {
                tracing::warn!(%error, "could not read the Bot Framework signing keys");
                // Old keys stay usable while the endpoint is down.
                if cached.is_none() {
                    return Err(error);
                }
            }
        }
        cache
            .keys
            .iter()
            .find(|key| key.kid == kid)
            .cloned()
            .ok_or(AuthError::UnknownKey)
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
        Ok(set.keys.into_iter().filter_map(published_key).collect())
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
}
