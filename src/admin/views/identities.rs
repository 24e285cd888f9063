//! The identities page: search by platform user id, display name, account or identity id; each
//! identity with its linked accounts; forms to link two accounts, unlink one, isolate or release.
//! Every form posts to an action that runs the core's admin command.

use super::{csrf_field, maybe_time, time};
use crate::admin::queries::{IdentityRow, SEARCH_LIMIT};
use maud::{html, Markup};

/// The identities page's body for `query` and its results.
pub fn body(
    csrf_token: &str,
    query: &str,
    results: &[IdentityRow],
    is_host_isolated: bool,
) -> Markup {
    html! {
        @if is_host_isolated {
            p.flash.error #host-isolated {
                "Host-wide isolation is on: every identity is treated as isolated and linking is refused. Release it on the overview."
            }
        }
        form.search method="get" action="/admin/identities" role="search" {
            label for="q" { "Find a person" }
            input #q type="search" name="q" value=(query)
                placeholder="user id, display name, slack:T1/U1 or identity id";
            button #search type="submit" { "Search" }
        }
        section #link-accounts {
            h2 { "Link two accounts" }
            p.muted { "Accounts are written " code { "platform:user id" } " or " code { "platform:scope/user id" }
                ". Linking joins two people's histories; the core records it in the audit log." }
            form.inline method="post" action="/admin/identities/link" {
                (csrf_field(csrf_token))
                input type="hidden" name="q" value=(query);
                input #link-first name="first" placeholder="slack:T0123/U0456" required aria-label="first account";
                input #link-second name="second" placeholder="discord:80351110224678912" required aria-label="second account";
                button #link-submit type="submit" { "Link" }
            }
        }
        @if !query.trim().is_empty() {
            section #results {
                h2 { "Results" }
                @if results.is_empty() {
                    p.muted #no-results { "Nobody matches “" (query) "”." }
                } @else if results.len() as u64 >= SEARCH_LIMIT {
                    p.muted { "Showing the first " (SEARCH_LIMIT) " matches; narrow the search to see others." }
                }
                @for identity in results {
                    (identity_card(csrf_token, query, identity))
                }
            }
        }
    }
}

fn identity_card(csrf_token: &str, query: &str, identity: &IdentityRow) -> Markup {
    let target = identity.id.to_string();
    html! {
        article.identity data-identity=(identity.id) {
            header {
                h3 { "Identity " code { (identity.id) } }
                @if identity.isolated { span.badge.down.isolated { "isolated" } }
                @else { span.badge.up { "sharing" } }
                span.muted { " since " (time(identity.created_at)) }
            }
            table.accounts {
                thead { tr { th { "account" } th { "display name" } th { "linked" } th { "by" } th {} } }
                tbody {
                    @for account in &identity.accounts {
                        tr data-account=(account.label) {
                            td { code { (account.label) } }
                            td { (account.display_name.as_deref().unwrap_or("—")) }
                            td { (maybe_time(account.linked_at)) }
                            td { (account.linked_by.as_deref().unwrap_or("—")) }
                            td.actions {
                                button.pick type="button" data-pick=(account.label) title="Put this account in the link form" { "pick" }
                                @if identity.accounts.len() > 1 {
                                    form method="post" action="/admin/identities/unlink" {
                                        (csrf_field(csrf_token))
                                        input type="hidden" name="q" value=(query);
                                        input type="hidden" name="account" value=(account.label);
                                        button.unlink type="submit" { "Unlink" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            div.identity-actions {
                    @let (action, label, class) = if identity.isolated {
                        ("/admin/identities/release", "Release", "release")
                    } else {
                        ("/admin/identities/isolate", "Isolate", "isolate")
                    };
                    form method="post" action=(action) {
                        (csrf_field(csrf_token))
                        input type="hidden" name="q" value=(query);
                        input type="hidden" name="target" value=(target);
                        button class=(class) type="submit" { (label) }
                    }
                    span.muted { @if identity.isolated {
                        "Release: share across this person's linked accounts again."
                    } @else {
                        "Isolate: stop sharing this person's data across platforms and refuse linking."
                    } }
            }
        }
    }
}
