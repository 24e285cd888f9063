//! The two list pages: the conflicts queue (open first) and the audit log with its filters.

use super::{csrf_field, maybe_time, pagination, shortened, time};
use crate::admin::queries::{AuditFilter, ConflictRow, Page};
use crate::core::privacy::audit::AuditRecord;
use maud::{html, Markup};

/// Characters of a conflicting value shown in the queue.
const VALUE_CHARS: usize = 80;

/// The conflicts queue's body.
pub fn conflicts_body(csrf_token: &str, page: &Page<ConflictRow>) -> Markup {
    html! {
        p.muted {
            "Conflicts are recorded when linked accounts disagree (concurrent edits on two platforms, or two histories meeting on a link). "
            "Open ones wait for a person; resolved ones show what the strategy kept."
        }
        @if page.rows.is_empty() {
            p #no-conflicts { "No conflicts recorded." }
        } @else {
            table #conflicts {
                thead { tr {
                    th { "#" } th { "status" } th { "identity" } th { "what" }
                    th { "kept" } th { "other" } th { "strategy" } th { "detected" } th { "resolved" }
                } }
                tbody {
                    @for conflict in &page.rows {
                        tr data-status=(conflict.status) {
                            td { (conflict.id) }
                            td {
                                @if conflict.status == "open" { span.badge.down { "open" } }
                                @else { span.badge.up { (conflict.status) } }
                            }
                            td { a href=(identity_link(&conflict.identity_id.to_string())) {
                                code { (conflict.identity_id.to_string()[..8]) }
                            } }
                            td { (conflict.kind) " · " code { (conflict.key) } }
                            @if conflict.kind == "fact" {
                                // What a person said about themselves is theirs: the queue shows
                                // where each statement came from, not what it was.
                                td { (value_from("(their statement)", &conflict.kept_platform)) }
                                td { (value_from("(their statement)", &conflict.other_platform)) }
                            } @else {
                                td { (value_from(&conflict.kept_value, &conflict.kept_platform)) }
                                td { (value_from(&conflict.other_value, &conflict.other_platform)) }
                            }
                            td { (conflict.strategy) }
                            td { (time(conflict.created_at)) }
                            td {
                                (maybe_time(conflict.resolved_at))
                                @if let Some(resolution) = &conflict.resolution {
                                    div.muted { (shortened(resolution, VALUE_CHARS)) }
                                }
                                @if conflict.status == "open" && conflict.kind == "preference" {
                                    (resolve_form(csrf_token, page.number, conflict))
                                }
                            }
                        }
                    }
                }
            }
        }
        (pagination(page.number, page.page_count(), |number| format!("/admin/conflicts?page={number}")))
    }
}

/// The buttons that settle an open conflict: keep one value or the other (the core writes it to
/// every linked account and audits it).
fn resolve_form(csrf_token: &str, page: u64, conflict: &ConflictRow) -> Markup {
    html! {
        form.inline.resolve method="post" action="/admin/conflicts/resolve" {
            (csrf_field(csrf_token))
            input type="hidden" name="id" value=(conflict.id);
            input type="hidden" name="page" value=(page);
            button type="submit" name="choice" value="1" data-conflict=(conflict.id) {
                "Keep " (shortened(&conflict.kept_value, VALUE_CHARS))
            }
            button type="submit" name="choice" value="2" data-conflict=(conflict.id) {
                "Use " (shortened(&conflict.other_value, VALUE_CHARS))
            }
        }
    }
}

/// A conflicting value, with the platform it came from when known.
fn value_from(value: &str, platform: &str) -> Markup {
    html! {
        (shortened(value, VALUE_CHARS))
        @if !platform.is_empty() { " " span.muted { "(" (platform) ")" } }
    }
}

fn identity_link(identity: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("q", identity);
    format!("/admin/identities?{}", query.finish())
}

/// The audit log's URL for `filter` at page `number`.
pub fn audit_link(filter: &AuditFilter, number: u64) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("actor", &filter.actor),
        ("action", &filter.action),
        ("target", &filter.target),
        ("from", &filter.from),
        ("to", &filter.to),
    ] {
        if !value.trim().is_empty() {
            query.append_pair(name, value.trim());
        }
    }
    query.append_pair("page", &number.to_string());
    format!("/admin/audit?{}", query.finish())
}

/// The audit log's body: the filter form, `problem` if the filter was refused, and the page.
pub fn audit_body(filter: &AuditFilter, problem: Option<&str>, page: &Page<AuditRecord>) -> Markup {
    html! {
        form.filters #audit-filters method="get" action="/admin/audit" {
            label { "actor" input name="actor" value=(filter.actor) placeholder="slack:T1/U1"; }
            label { "action" input name="action" value=(filter.action) placeholder="admin."; }
            label { "target" input name="target" value=(filter.target); }
            label { "from" input type="date" name="from" value=(filter.from); }
            label { "to" input type="date" name="to" value=(filter.to); }
            button #filter type="submit" { "Filter" }
            a href="/admin/audit" { "clear" }
        }
        @if let Some(problem) = problem {
            p.flash.error #filter-error role="alert" { (problem) }
        }
        p.muted { (page.total_rows) " matching entries. The log is append-only: nothing here can be edited or deleted." }
        @if !page.rows.is_empty() {
            table #audit {
                thead { tr {
                    th { "#" } th { "time" } th { "actor" } th { "platform" } th { "action" }
                    th { "target" } th { "outcome" } th { "detail" }
                } }
                tbody {
                    @for entry in &page.rows {
                        tr data-action=(entry.action) {
                            td { (entry.id) }
                            td { (time(entry.at)) }
                            td { code { (entry.actor) } }
                            td { (entry.actor_platform) }
                            td { code.action { (entry.action) } }
                            td { (entry.target.as_deref().unwrap_or("—")) }
                            td {
                                @if entry.outcome == "ok" { span.badge.up { "ok" } }
                                @else { span.badge.down { (entry.outcome) } }
                            }
                            td { (entry.detail.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
        (pagination(page.number, page.page_count(), |number| audit_link(filter, number)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_links_keep_the_filters_and_encode_them() {
        let filter = AuditFilter {
            actor: "slack:T1/U1".into(),
            action: "admin.".into(),
            from: "2026-11-01".into(),
            ..Default::default()
        };
        assert_eq!(
            audit_link(&filter, 3),
            "/admin/audit?actor=slack%3AT1%2FU1&action=admin.&from=2026-11-01&page=3"
        );
    }
}
