//! The service URLs the bot's token may be sent to. An activity names the URL its replies go to
//! (`serviceUrl`), and every reply carries the bot's bearer token: a URL outside this list is
//! refused before the activity is stored, and never receives a request, not even a token request.

use url::Url;

/// Bot Framework's service URLs for Teams in Microsoft's public cloud: the commercial service
/// (regional paths such as `/amer/`, `/emea/`, `/teams/` under it) and GCC, which public-cloud
/// bots also serve. Sovereign clouds (GCC High, DoD, China) set their own list.
pub const PUBLIC_SERVICE_URLS: [&str; 2] = [
    "https://smba.trafficmanager.net/",
    "https://smba.infra.gcc.teams.microsoft.com/",
];

/// URL prefixes a service URL must fall under (TEAMS_ALLOWED_SERVICE_URLS).
///
/// Matching is on the parsed URL: same scheme, same host, same port, and a path under the
/// prefix's path on a segment boundary. So `https://smba.trafficmanager.net.evil.com/` does not
/// match `https://smba.trafficmanager.net/`, nor does `/amerx/` match `/amer/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedServiceUrls {
    prefixes: Vec<Url>,
}

impl AllowedServiceUrls {
    /// Allows URLs under any of `prefixes`; an empty list allows nothing.
    pub fn new(prefixes: Vec<Url>) -> Self {
        AllowedServiceUrls { prefixes }
    }

    /// [`PUBLIC_SERVICE_URLS`].
    pub fn bot_framework_public() -> Self {
        AllowedServiceUrls::new(
            PUBLIC_SERVICE_URLS
                .iter()
                .filter_map(|url| Url::parse(url).ok())
                .collect(),
        )
    }

    /// The prefixes, as configured.
    pub fn prefixes(&self) -> &[Url] {
        &self.prefixes
    }

    /// Whether the bot's token may be sent to `url`.
    pub fn allows(&self, url: &Url) -> bool {
        self.prefixes.iter().any(|prefix| is_under(url, prefix))
    }
}

impl Default for AllowedServiceUrls {
    fn default() -> Self {
        AllowedServiceUrls::bot_framework_public()
    }
}

/// Whether `url` lies under `prefix`. Credentials in `url` never match: a genuine service URL has
/// none, and they would be sent along with the bot's token.
fn is_under(url: &Url, prefix: &Url) -> bool {
    if url.cannot_be_a_base() || !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    let (Some(host), Some(prefix_host)) = (url.host_str(), prefix.host_str()) else {
        return false;
    };
    // `Url` lower-cases the scheme and a domain host, and drops a default port.
    if url.scheme() != prefix.scheme()
        || host != prefix_host
        || url.port_or_known_default() != prefix.port_or_known_default()
    {
        return false;
    }
    let base = prefix.path().trim_end_matches('/');
    let path = url.path();
    base.is_empty()
        || path == base
        || path
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn the_public_list_allows_the_regional_services_and_nothing_that_only_looks_like_them() {
        let allowed = AllowedServiceUrls::bot_framework_public();
        assert_eq!(allowed.prefixes().len(), PUBLIC_SERVICE_URLS.len());
        for good in [
            "https://smba.trafficmanager.net/amer/",
            "https://smba.trafficmanager.net/emea/",
            "https://smba.trafficmanager.net/teams/",
            "https://SMBA.trafficmanager.net:443/apac",
            "https://smba.infra.gcc.teams.microsoft.com/teams",
        ] {
            assert!(allowed.allows(&url(good)), "{good}");
        }
        for bad in [
            "https://smba.trafficmanager.net.evil.com/",
            "https://evil.com/smba.trafficmanager.net/",
            "https://evilsmba.trafficmanager.net/",
            "https://smba.trafficmanager.net@evil.com/",
            "https://user:secret@smba.trafficmanager.net/amer/",
            "http://smba.trafficmanager.net/amer/",
            "https://smba.trafficmanager.net:8443/amer/",
            "https://127.0.0.1/",
        ] {
            assert!(!allowed.allows(&url(bad)), "{bad}");
        }
    }

    #[test]
    fn a_prefix_with_a_path_matches_on_segment_boundaries_only() {
        let allowed = AllowedServiceUrls::new(vec![url("http://127.0.0.1:3978/amer/")]);
        assert!(allowed.allows(&url("http://127.0.0.1:3978/amer/")));
        assert!(allowed.allows(&url("http://127.0.0.1:3978/amer")));
        assert!(allowed.allows(&url("http://127.0.0.1:3978/amer/v3/x")));
        assert!(!allowed.allows(&url("http://127.0.0.1:3978/amerx/")));
        assert!(!allowed.allows(&url("http://127.0.0.1:3978/")));
        assert!(!allowed.allows(&url("http://127.0.0.1:3979/amer/")));
        // Dot segments are resolved by the parser before matching.
        assert!(!allowed.allows(&url("http://127.0.0.1:3978/amer/../evil/")));
        assert!(!AllowedServiceUrls::new(Vec::new()).allows(&url("http://127.0.0.1:3978/amer/")));
    }
}
