//! [`DiscordConnector`]: checks the token (`GET /users/@me`), starts serenity's shards as
//! DISCORD_SHARDS says, and on shutdown stops the shards and catch-up and waits for events being
//! handled.

use crate::error::{DiscordError, Result};
use crate::handler::{GatewayHandler, InFlight};
use crate::turn::{TurnReplayer, TurnRunner, MESSAGE_KIND};
use crate::{DiscordConfig, ShardPlan, CAPABILITIES};
use async_trait::async_trait;
use secrecy::ExposeSecret;
use serenity::all::{ApplicationId, ClientBuilder, CurrentUser, GatewayIntents, Http, HttpBuilder};
use std::sync::Arc;
use whisperengine_contract::{
    Capabilities, Connector, ConnectorError, EventHandler, Inbox, Platform, Shutdown,
};

/// The gateway intents the bot asks for. Message Content is privileged: it must be enabled in the
/// developer portal (Bot → Privileged Gateway Intents), or Discord closes the gateway with 4014.
/// The two reaction intents (not privileged) bring 👍/👎 on the companion's replies as feedback.
pub fn intents() -> GatewayIntents {
    GatewayIntents::GUILDS
        | GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::DIRECT_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT
        | GatewayIntents::GUILD_MESSAGE_REACTIONS
        | GatewayIntents::DIRECT_MESSAGE_REACTIONS
}

/// The Discord connector.
pub struct DiscordConnector {
    config: DiscordConfig,
    inbox: Option<Arc<dyn Inbox>>,
}

impl DiscordConnector {
    /// A connector whose messages go to `inbox` before their turn starts (`None`: run at once).
    pub fn new(config: DiscordConfig, inbox: Option<Arc<dyn Inbox>>) -> Self {
        DiscordConnector { config, inbox }
    }
}

/// serenity's REST client for `config`: Discord itself, or DISCORD_API_URL with the rate limiter
/// off (serenity only sends to a custom base URL without its own rate limiter).
pub fn http_client(config: &DiscordConfig) -> Http {
    let mut builder = HttpBuilder::new(config.token.expose_secret());
    if let Some(url) = &config.api_url {
        builder = builder
            .proxy(url.trim_end_matches('/'))
            .ratelimiter_disabled(true);
    }
    if let Some(id) = config.application_id.filter(|id| *id != 0) {
        builder = builder.application_id(ApplicationId::new(id));
    }
    builder.build()
}

/// Asks Discord who the token belongs to (`GET /users/@me`): proves the token (for `doctor` and
/// before connecting). 401 → [`DiscordError::BadToken`].
pub async fn check_credentials(config: &DiscordConfig) -> Result<CurrentUser> {
    Ok(http_client(config).get_current_user().await?)
}

/// Starts the shards of `plan` and runs until they stop.
async fn start_shards(client: &mut serenity::Client, plan: ShardPlan) -> serenity::Result<()> {
    match plan {
        ShardPlan::Auto => client.start_autosharded().await,
        ShardPlan::Count(count) => client.start_shards(count.max(1)).await,
        // serenity's range end is inclusive here ("up to and including").
        ShardPlan::Range { first, last, total } => {
            client.start_shard_range(first..last, total).await
        }
    }
}

/// Checks that a shard range lies within its total.
fn check_plan(plan: ShardPlan) -> Result<()> {
    match plan {
        ShardPlan::Range { first, last, total } if first > last || last >= total => {
            Err(DiscordError::Setting {
                setting: "DISCORD_SHARDS",
                reason: format!(
                    "shards {first}-{last} are not within 0-{}",
                    total.saturating_sub(1)
                ),
            })
        }
        _ => Ok(()),
    }
}

#[async_trait]
impl Connector for DiscordConnector {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    async fn run(
        self: Arc<Self>,
        handler: Arc<dyn EventHandler>,
        shutdown: Shutdown,
    ) -> std::result::Result<(), ConnectorError> {
        check_plan(self.config.shards)?;
        let http = http_client(&self.config);
        let me = http.get_current_user().await.map_err(DiscordError::from)?;
        tracing::info!(bot = %me.name, id = %me.id, shards = ?self.config.shards, "Discord token accepted; connecting to the gateway");
        let in_flight = Arc::new(InFlight::default());
        let runner = TurnRunner {
            core: handler.clone(),
            http: Arc::new(http_client(&self.config)),
            stream_replies: self.config.stream_replies,
            show_typing: self.config.show_typing,
        };
        if let Some(inbox) = &self.inbox {
            inbox.register_replayer(MESSAGE_KIND, Arc::new(TurnReplayer(runner.clone())));
        }
        let (stop_catch_up, stopping) = tokio::sync::watch::channel(false);
        let gateway_handler = GatewayHandler::new(
            &self.config,
            me.id.get(),
            handler,
            in_flight.clone(),
            runner,
            self.inbox.clone(),
            stopping,
        );
        let mut client = ClientBuilder::new_with_http(http, intents())
            .event_handler(gateway_handler)
            .await
            .map_err(DiscordError::from)?;
        let shard_manager = client.shard_manager.clone();
        let plan = self.config.shards;
        let running = async move { start_shards(&mut client, plan).await };
        tokio::select! {
            result = running => {
                result.map_err(DiscordError::from)?;
                Err(ConnectorError::Failed {
                    platform: Platform::Discord,
                    reason: "the gateway connection ended".into(),
                })
            }
            () = shutdown => {
                tracing::info!("stopping the Discord shards");
                let _ = stop_catch_up.send(true);
                shard_manager.shutdown_all().await;
                if !in_flight.wait_idle(self.config.shutdown_grace).await {
                    tracing::warn!("Discord events still in progress at shutdown were abandoned");
                }
                Ok(())
            }
        }
    }
}
