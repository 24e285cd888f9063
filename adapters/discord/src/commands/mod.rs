//! The slash commands, declared once as data ([`COMMANDS`]). The same table builds the registration
//! sent to Discord ([`registrations`]) and re-checks every incoming interaction ([`to_invocation`]):
//! Discord enforces option types, choices and lengths in its client, but a connector must not trust
//! that, so an unknown command, a missing or oversized option or a malformed code is refused here
//! with a clear message before the core (and its database) sees anything.

mod spec;

pub use spec::*;

use crate::mapping::{author_account, event_id_of_interaction};
use serenity::all::{
    CommandDataOption, CommandDataOptionValue, CommandInteraction, CommandOptionType,
    CreateCommand, CreateCommandOption, Permissions,
};
use whisperengine_contract::{CommandInvocation, ConversationContext, Visibility};

/// The spec of the command called `name`.
pub fn find(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|spec| spec.name == name)
}

/// The registrations sent to Discord (`PUT /applications/{id}/commands` or the guild's).
pub fn registrations() -> Vec<CreateCommand> {
    COMMANDS.iter().map(registration).collect()
}

fn registration(spec: &CommandSpec) -> CreateCommand {
    let mut command = CreateCommand::new(spec.name).description(spec.description);
    if spec.is_admin {
        command = command.default_member_permissions(Permissions::MANAGE_GUILD);
    }
    for option in spec.options {
        command = command.add_option(option_registration(option));
    }
    for sub in spec.subcommands {
        let mut created =
            CreateCommandOption::new(CommandOptionType::SubCommand, sub.name, sub.description);
        for option in sub.options {
            created = created.add_sub_option(option_registration(option));
        }
        command = command.add_option(created);
    }
    command
}

fn option_registration(option: &OptionSpec) -> CreateCommandOption {
    let kind = match option.kind {
        OptionKind::Integer { .. } => CommandOptionType::Integer,
        OptionKind::Switch => CommandOptionType::Boolean,
        _ => CommandOptionType::String,
    };
    let created =
        CreateCommandOption::new(kind, option.name, option.description).required(option.required);
    match option.kind {
        OptionKind::Text { max_length } => created.min_length(1).max_length(max_length),
        OptionKind::LinkCode => created.min_length(4).max_length(16),
        OptionKind::Account => created.min_length(3).max_length(MAX_TEXT_OPTION),
        OptionKind::Choice(choices) => choices.iter().fold(created, |created, choice| {
            created.add_string_choice(*choice, *choice)
        }),
        OptionKind::Integer { min, max } => created.min_int_value(min).max_int_value(max),
        OptionKind::Switch => created,
    }
}

/// Why an interaction was refused before reaching the core; the text is shown to the invoker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("I don't know the command `/{0}`. Try `/help`.")]
    UnknownCommand(String),
    #[error("`/{command}` needs one of: {expected}.")]
    MissingSubcommand { command: String, expected: String },
    #[error("`/{command}` needs the option `{option}`.")]
    MissingOption { command: String, option: String },
    #[error("The option `{option}` of `/{command}` is not valid: {reason}")]
    BadOption {
        command: String,
        option: String,
        reason: String,
    },
}

/// Reads a slash-command interaction into a command invocation for the core, checking it against
/// [`COMMANDS`]. `admin_ids` (DISCORD_ADMIN_IDS) are the only user ids allowed to run admin commands.
pub fn to_invocation(
    interaction: &CommandInteraction,
    admin_ids: &[u64],
) -> Result<CommandInvocation, Refusal> {
    let name = interaction.data.name.as_str();
    let spec = find(name).ok_or_else(|| Refusal::UnknownCommand(shorten(name)))?;
    let args = arguments(spec, &interaction.data.options)?;
    let mut invoker = author_account(&interaction.user);
    if let Some(nick) = interaction.member.as_ref().and_then(|m| m.nick.clone()) {
        invoker = invoker.with_display_name(nick);
    }
    let context = match interaction.guild_id {
        Some(guild) => ConversationContext {
            scope: guild.to_string(),
            channel_id: interaction.channel_id.to_string(),
            thread_id: None,
            visibility: Visibility::Public,
        },
        None => ConversationContext::direct(interaction.channel_id.to_string()),
    };
    Ok(CommandInvocation {
        event_id: event_id_of_interaction(interaction.id.get()).into(),
        invoker,
        context,
        name: spec.name.to_string(),
        args,
        invoker_is_admin: is_admin(interaction, admin_ids),
    })
}

/// Whether the invoker is a host admin: listed in DISCORD_ADMIN_IDS, nothing else. A server's
/// Administrator or Manage Server permission is nobody special to the host: anyone can create a
/// server and invite the bot there.
pub fn is_admin(interaction: &CommandInteraction, admin_ids: &[u64]) -> bool {
    admin_ids.contains(&interaction.user.id.get())
}

/// The core's arguments for `spec` from the interaction's options.
fn arguments(spec: &CommandSpec, options: &[CommandDataOption]) -> Result<Vec<String>, Refusal> {
    if spec.subcommands.is_empty() {
        return option_values(spec.name, spec.options, options);
    }
    let expected = || {
        spec.subcommands
            .iter()
            .map(|sub| format!("`/{} {}`", spec.name, sub.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(chosen) = options.first() else {
        return Err(Refusal::MissingSubcommand {
            command: spec.name.to_string(),
            expected: expected(),
        });
    };
    let CommandDataOptionValue::SubCommand(sub_options) = &chosen.value else {
        return Err(Refusal::MissingSubcommand {
            command: spec.name.to_string(),
            expected: expected(),
        });
    };
    let sub = spec
        .subcommands
        .iter()
        .find(|sub| sub.name == chosen.name)
        .ok_or_else(|| Refusal::MissingSubcommand {
            command: spec.name.to_string(),
            expected: expected(),
        })?;
    let path = format!("{} {}", spec.name, sub.name);
    let mut args: Vec<String> = sub.args.iter().map(|arg| arg.to_string()).collect();
    args.extend(option_values(&path, sub.options, sub_options)?);
    Ok(args)
}

/// The values of `given` in the order of `specs`, each checked; unknown options are refused.
fn option_values(
    command: &str,
    specs: &[OptionSpec],
    given: &[CommandDataOption],
) -> Result<Vec<String>, Refusal> {
    if let Some(unknown) = given
        .iter()
        .find(|option| !specs.iter().any(|spec| spec.name == option.name))
    {
        return Err(Refusal::BadOption {
            command: command.to_string(),
            option: shorten(&unknown.name),
            reason: "this command has no such option.".into(),
        });
    }
    let mut values = Vec::new();
    for spec in specs {
        match given.iter().find(|option| option.name == spec.name) {
            Some(option) => values.push(checked_value(command, spec, &option.value)?),
            None if spec.required => {
                return Err(Refusal::MissingOption {
                    command: command.to_string(),
                    option: spec.name.to_string(),
                })
            }
            None => {}
        }
    }
    Ok(values)
}

fn checked_value(
    command: &str,
    spec: &OptionSpec,
    value: &CommandDataOptionValue,
) -> Result<String, Refusal> {
    let bad = |reason: String| Refusal::BadOption {
        command: command.to_string(),
        option: spec.name.to_string(),
        reason,
    };
    match (spec.kind, value) {
        (OptionKind::Text { max_length }, CommandDataOptionValue::String(text)) => {
            check_length(text, 1, max_length.into()).map_err(bad)?;
            Ok(text.trim().to_string())
        }
        (OptionKind::LinkCode, CommandDataOptionValue::String(code)) => {
            check_length(code, 4, 16).map_err(bad)?;
            if !code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ' ')
            {
                return Err(bad(
                    "a link code has only letters, digits and a dash, like `ABCD-EF2345`.".into(),
                ));
            }
            Ok(code.split_whitespace().collect())
        }
        (OptionKind::Account, CommandDataOptionValue::String(account)) => {
            check_length(account, 3, MAX_TEXT_OPTION.into()).map_err(bad)?;
            if account.trim().contains(char::is_whitespace) || !account.contains(':') {
                return Err(bad(
                    "write an account as <platform>:<user id>, e.g. `discord:80351110224678912` or `slack:T0123/U0456`.".into(),
                ));
            }
            Ok(account.trim().to_string())
        }
        (OptionKind::Choice(choices), CommandDataOptionValue::String(choice)) => {
            if choices.contains(&choice.as_str()) {
                Ok(choice.clone())
            } else {
                Err(bad(format!("choose one of {}.", choices.join(", "))))
            }
        }
        (OptionKind::Integer { min, max }, CommandDataOptionValue::Integer(number)) => {
            match u64::try_from(*number) {
                Ok(number) if (min..=max).contains(&number) => Ok(number.to_string()),
                _ => Err(bad(format!("expected a whole number from {min} to {max}."))),
            }
        }
        (OptionKind::Switch, CommandDataOptionValue::Boolean(on)) => {
            Ok(if *on { "on" } else { "off" }.to_string())
        }
        _ => Err(bad(format!(
            "expected {}.",
            match spec.kind {
                OptionKind::Integer { .. } => "a whole number",
                OptionKind::Switch => "true or false",
                _ => "text",
            }
        ))),
    }
}

fn check_length(text: &str, min: usize, max: usize) -> Result<(), String> {
    let length = text.trim().chars().count();
    if length < min {
        Err(format!(
            "it is empty or too short (at least {min} characters)."
        ))
    } else if length > max {
        Err(format!(
            "it is {length} characters long; at most {max} are accepted."
        ))
    } else {
        Ok(())
    }
}

/// A name as shown in a refusal: at most 32 characters, so an oversized name cannot flood the answer.
fn shorten(text: &str) -> String {
    let short: String = text.chars().take(32).collect();
    if short.len() < text.len() {
        format!("{short}…")
    } else {
        short
    }
}

/// The spec's ephemeral flag for the interaction's command (unknown commands: ephemeral).
pub fn is_personal(name: &str) -> bool {
    find(name).is_none_or(|spec| spec.is_personal)
}
