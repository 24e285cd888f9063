//! The operator's command-line tools. Each opens the store the settings describe (migrating it if
//! needed), does one thing, audits it as `operator`, and prints the outcome.

use crate::app;
use crate::config::Settings;
use crate::core::isolation::{self, Actor, IsolationTarget};
use crate::store::Store;
use anyhow::Context;
use clap::Subcommand;

/// `whisperengine admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Stop sharing an identity's data across its linked accounts (or every identity's, with `all`)
    /// and refuse new links, in every host process within a second.
    Isolate {
        /// `all`, an identity id, or an account like `slack:T0123/U0456`.
        target: String,
    },
    /// Undo `admin isolate` for the same target.
    Release {
        /// `all`, an identity id, or an account like `slack:T0123/U0456`.
        target: String,
    },
}

/// Opens the store the settings describe, with pending migrations applied.
async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    Store::open(&app::store_options(settings))
        .await
        .context("DATABASE_URL")
}

/// Runs `whisperengine admin …`; returns the exit code (1 when the change was refused).
pub async fn admin(settings: Settings, command: AdminCommand) -> anyhow::Result<i32> {
    let (text, isolate) = match &command {
        AdminCommand::Isolate { target } => (target, true),
        AdminCommand::Release { target } => (target, false),
    };
    let target = match IsolationTarget::parse(text) {
        Ok(target) => target,
        Err(usage) => {
            eprintln!("error: {usage}");
            return Ok(2);
        }
    };
    let store = open_store(&settings).await?;
    let answer = isolation::set_isolation(&store, Actor::OPERATOR, &target, isolate).await?;
    store.flush().await;
    Ok(match answer {
        Ok(done) => {
            println!("{done}");
            0
        }
        Err(refused) => {
            eprintln!("refused: {refused}");
            1
        }
    })
}
