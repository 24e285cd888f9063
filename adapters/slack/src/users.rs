//! Who a Slack user is, from `users.info`, cached with a TTL: the display name the companion uses
//! and whether the user is a workspace admin or owner (a role shown in the prompt, never a host admin).

use crate::client::SlackApi;
use slack_morphism::prelude::SlackUser;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most users remembered at once; the cache is emptied when full (cheap, and rare).
const MAX_ENTRIES: usize = 10_000;

/// What the connector needs to know about a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub display_name: Option<String>,
    /// Workspace admin, owner or primary owner.
    pub is_admin: bool,
    pub is_bot: bool,
}

impl UserInfo {
    /// Reads a `users.info` user: display name, else real name, else user name.
    pub fn from_user(user: &SlackUser) -> Self {
        let profile = user.profile.as_ref();
        let display_name = [
            profile.and_then(|p| p.display_name.clone()),
            profile.and_then(|p| p.real_name.clone()),
            user.real_name.clone(),
            user.name.clone(),
        ]
        .into_iter()
        .flatten()
        .map(|name| name.trim().to_string())
        .find(|name| !name.is_empty());
        let flags = &user.flags;
        UserInfo {
            display_name,
            is_admin: flags.is_admin.unwrap_or(false)
                || flags.is_owner.unwrap_or(false)
                || flags.is_primary_owner.unwrap_or(false),
            is_bot: flags.is_bot.unwrap_or(false),
        }
    }
}

/// `users.info` with a TTL cache keyed by (team, user).
pub struct UserDirectory {
    api: SlackApi,
    ttl: Duration,
    entries: Mutex<HashMap<(String, String), (Instant, UserInfo)>>,
}

impl UserDirectory {
    pub fn new(api: SlackApi, ttl: Duration) -> Self {
        UserDirectory {
            api,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The user's info, from the cache while fresh, else from `users.info`. `None` when Slack
    /// could not be asked (the failure is logged and counted by the client); failures are not
    /// cached, so the next event asks again.
    pub async fn lookup(&self, team: &str, user: &str) -> Option<UserInfo> {
        let key = (team.to_string(), user.to_string());
        if let Some(info) = self.cached(&key) {
            return Some(info);
        }
        let info = UserInfo::from_user(&self.api.user_info(user).await.ok()?);
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, (Instant::now(), info.clone()));
        }
        Some(info)
    }

    fn cached(&self, key: &(String, String)) -> Option<UserInfo> {
        let entries = self.entries.lock().ok()?;
        let (at, info) = entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| info.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn display_name_falls_back_to_real_name_and_admin_includes_owners() {
        let user: SlackUser = serde_json::from_value(json!({
            "id": "U1", "team_id": "T1", "name": "ana.lima", "real_name": "Ana Lima",
            "is_admin": false, "is_owner": true, "is_bot": false,
            "profile": {"display_name": "", "real_name": "Ana Lima"}
        }))
        .unwrap();
        assert_eq!(
            UserInfo::from_user(&user),
            UserInfo {
                display_name: Some("Ana Lima".into()),
                is_admin: true,
                is_bot: false
            }
        );
        let plain: SlackUser =
            serde_json::from_value(json!({"id": "U2", "name": "bo", "is_admin": false})).unwrap();
        let info = UserInfo::from_user(&plain);
        assert_eq!(info.display_name.as_deref(), Some("bo"));
        assert!(!info.is_admin);
    }
}
