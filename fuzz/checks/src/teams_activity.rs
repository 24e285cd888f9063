//! Bot Framework activities through the path `POST /api/messages` takes after the token check: the
//! JSON parse, the `serviceUrl` parse, the mapping to a contract event, the reply URL and the
//! outgoing activities built from it.
//!
//! Input: the activity's JSON body.

use url::Url;
use whisperengine_teams::activity::{Activity, OutgoingActivity};
use whisperengine_teams::client::activities_url;
use whisperengine_teams::mapping::{strip_mentions, to_event};

/// Runs one input; panics when a property does not hold.
pub fn check(data: &[u8]) {
    let Ok(activity) = serde_json::from_slice::<Activity>(data) else {
        return;
    };
    let _ = activity.tenant_id();
    let _ = activity.conversation_type();
    let _ = strip_mentions(&activity);
    if let Ok(event) = to_event(&activity, &["aad-admin".to_string()]) {
        assert!(!event.event_id().is_empty(), "an event without an id");
    }
    let Ok(service_url) = Url::parse(&activity.service_url) else {
        return;
    };
    if let Ok(url) = activities_url(
        &service_url,
        &activity.conversation.id,
        activity.id.as_deref(),
    ) {
        // Ids are path segments: whatever they hold, the reply goes to the service's host, under
        // its conversations path.
        assert_eq!(url.host_str(), service_url.host_str(), "{url}");
        assert_eq!(url.port(), service_url.port(), "{url}");
        assert!(url.path().contains("/v3/conversations/"), "{url}");
    }
    let reply = OutgoingActivity::message_to(&activity, Some("hi".into()), Vec::new());
    let _ = serde_json::to_vec(&reply);
    let _ = serde_json::to_vec(&OutgoingActivity::typing_to(&activity));
}
