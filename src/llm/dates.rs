//! Dates as the person reads them: in their time zone (the `timezone` preference, an IANA name
//! such as `Europe/Lisbon`; UTC when unset or unknown), and the relative words in what they said
//! ("yesterday", "last week", "3 days ago", "last Friday") resolved against when they said it, so
//! a memory told months ago still says which day it meant.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Offset, Utc, Weekday};

/// A time zone to show dates in.
#[derive(Debug, Clone, Default)]
pub struct Zone(Option<jiff::tz::TimeZone>);

impl Zone {
    /// The zone named `name`; UTC when it is unset or not a zone the system's database knows.
    pub fn named(name: Option<&str>) -> Zone {
        Zone(name.and_then(|name| jiff::tz::TimeZone::get(name.trim()).ok()))
    }

    /// `at` in this zone.
    pub fn local(&self, at: DateTime<Utc>) -> DateTime<FixedOffset> {
        let offset = self
            .0
            .as_ref()
            .and_then(|zone| {
                let timestamp = jiff::Timestamp::from_second(at.timestamp()).ok()?;
                FixedOffset::east_opt(zone.to_offset(timestamp).seconds())
            })
            .unwrap_or_else(|| Utc.fix());
        at.with_timezone(&offset)
    }

    /// The day `at` falls on here: "Tue 4 March 2026".
    pub fn day(&self, at: DateTime<Utc>) -> String {
        day_name(self.local(at).date_naive())
    }
}

fn day_name(date: NaiveDate) -> String {
    date.format("%a %-d %B %Y").to_string()
}

/// The relative dates in `text` with the day (or period) each meant when it was said at `said_at`:
/// ("yesterday", "Mon 3 March 2026"), ("last week", "the week of Mon 23 February 2026").
pub fn resolved_in(text: &str, said_at: DateTime<Utc>, zone: &Zone) -> Vec<(String, String)> {
    let said_on = zone.local(said_at).date_naive();
    let lower = text.to_lowercase().replace(['’', '‘'], "'");
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    let mut found: Vec<(String, String)> = Vec::new();
    let mut add = |said: String, meant: String| {
        if !found.iter().any(|(held, _)| *held == said) {
            found.push((said, meant));
        }
    };
    let mut index = 0;
    while index < words.len() {
        let word = words[index];
        let next = words.get(index + 1).copied();
        let after_next = words.get(index + 2).copied();
        match (word, next, after_next) {
            ("day", Some("before"), Some("yesterday")) => {
                add(
                    "the day before yesterday".into(),
                    day_name(said_on - Duration::days(2)),
                );
                index += 3;
                continue;
            }
            ("yesterday", _, _) => add("yesterday".into(), day_name(said_on - Duration::days(1))),
            ("tomorrow", _, _) => add("tomorrow".into(), day_name(said_on + Duration::days(1))),
            ("today" | "tonight", _, _) => add(word.into(), day_name(said_on)),
            ("this", Some(part @ ("morning" | "afternoon" | "evening")), _) => {
                add(format!("this {part}"), day_name(said_on));
            }
            ("fortnight", Some("ago"), _) if index > 0 && number(words[index - 1]).is_some() => {
                add(
                    format!("{} fortnight ago", words[index - 1]),
                    format!(
                        "the week of {}",
                        day_name(week_start(said_on - Duration::weeks(2), 0))
                    ),
                );
            }
            ("on", Some(day), _) if weekday(day).is_some() => {
                if let Some(weekday) = weekday(day) {
                    add(
                        format!("on {day}"),
                        day_name(nearest_weekday(said_on, weekday, -1)),
                    );
                }
            }
            ("earlier", Some("this"), Some(unit @ ("week" | "month" | "year"))) => {
                let meant = match unit {
                    "week" => format!("the week of {}", day_name(week_start(said_on, 0))),
                    "month" => month_name(said_on, 0),
                    _ => said_on.year().to_string(),
                };
                add(format!("earlier this {unit}"), meant);
                index += 3;
                continue;
            }
            ("last" | "next", Some(unit), _) => {
                let step: i64 = if word == "last" { -1 } else { 1 };
                let said = format!("{word} {unit}");
                if let Some(weekday) = weekday(unit) {
                    add(said, day_name(nearest_weekday(said_on, weekday, step)));
                } else {
                    match unit {
                        "week" => add(
                            said,
                            format!("the week of {}", day_name(week_start(said_on, step))),
                        ),
                        "month" => add(said, month_name(said_on, step)),
                        "year" => add(said, (said_on.year() + step as i32).to_string()),
                        "weekend" => add(
                            said,
                            format!(
                                "the weekend of {}",
                                day_name(nearest_weekday(said_on, Weekday::Sat, step))
                            ),
                        ),
                        _ => {}
                    }
                }
            }
            (count, Some(unit), Some("ago")) => {
                if let Some(count) = number(count) {
                    let meant = match unit.trim_end_matches('s') {
                        "day" => Some(day_name(said_on - Duration::days(count))),
                        "week" => Some(format!(
                            "the week of {}",
                            day_name(week_start(said_on - Duration::weeks(count), 0))
                        )),
                        "month" => Some(month_name(said_on, -count)),
                        "year" => Some((i64::from(said_on.year()) - count).to_string()),
                        _ => None,
                    };
                    if let Some(meant) = meant {
                        add(
                            format!("{count_word} {unit} ago", count_word = words[index]),
                            meant,
                        );
                        index += 3;
                        continue;
                    }
                }
            }
            _ => {}
        }
        index += 1;
    }
    found
}

/// The days of the week, then the months, in lower case.
pub const CALENDAR_WORDS: [&str; 19] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// "When did I adopt Pixel?", "what day did I …", "how long ago did I …": a question answered by
/// when something happened.
pub fn asks_when(text: &str) -> bool {
    let lower = text.trim_start().to_lowercase();
    lower.starts_with("when ")
        || [
            "what day",
            "what date",
            "which day",
            "how long ago",
            "what year",
            "which year",
            "what month",
        ]
        .iter()
        .any(|phrase| lower.contains(phrase))
}

/// Whether `text` says when something happened: a relative date ("yesterday", "last week", "on
/// Saturday"), a month or a year.
pub fn tells_when(text: &str) -> bool {
    if !resolved_in(text, Utc::now(), &Zone::default()).is_empty() {
        return true;
    }
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .any(|word| {
            (word != "may" && CALENDAR_WORDS[7..].contains(&word))
                || (word.len() == 4
                    && word.chars().all(|c| c.is_ascii_digit())
                    && (word.starts_with("19") || word.starts_with("20")))
        })
}

fn weekday(word: &str) -> Option<Weekday> {
    Some(match word {
        "monday" => Weekday::Mon,
        "tuesday" => Weekday::Tue,
        "wednesday" => Weekday::Wed,
        "thursday" => Weekday::Thu,
        "friday" => Weekday::Fri,
        "saturday" => Weekday::Sat,
        "sunday" => Weekday::Sun,
        _ => return None,
    })
}

fn number(word: &str) -> Option<i64> {
    Some(match word {
        "a" | "an" | "one" => 1,
        "two" | "couple" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        digits => digits
            .parse()
            .ok()
            .filter(|count| (1..=100).contains(count))?,
    })
}

/// The `weekday` before (`step` -1) or after (`step` 1) `from`, never `from` itself.
fn nearest_weekday(from: NaiveDate, weekday: Weekday, step: i64) -> NaiveDate {
    let mut day = from + Duration::days(step);
    while day.weekday() != weekday {
        day += Duration::days(step);
    }
    day
}

/// The Monday of the week `weeks` away from the one `from` is in.
fn week_start(from: NaiveDate, weeks: i64) -> NaiveDate {
    let monday = from - Duration::days(i64::from(from.weekday().num_days_from_monday()));
    monday + Duration::weeks(weeks)
}

/// "February 2026" for the month `months` away from the one `from` is in.
fn month_name(from: NaiveDate, months: i64) -> String {
    let index = i64::from(from.year()) * 12 + i64::from(from.month0()) + months;
    let (year, month0) = (index.div_euclid(12), index.rem_euclid(12));
    NaiveDate::from_ymd_opt(year as i32, month0 as u32 + 1, 1)
        .map(|first| first.format("%B %Y").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|at| at.with_timezone(&Utc))
            .unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    #[test]
    fn relative_words_are_resolved_against_when_they_were_said() {
        // Wednesday 4 March 2026.
        let said = Utc
            .with_ymd_and_hms(2026, 3, 4, 10, 0, 0)
            .single()
            .unwrap_or_default();
        let zone = Zone::default();
        let resolved = resolved_in(
            "Yesterday we adopted Pixel; last week I was in Oslo, and 3 days ago it snowed. Last Friday too!",
            said,
            &zone,
        );
        assert_eq!(
            resolved,
            vec![
                ("yesterday".to_string(), "Tue 3 March 2026".to_string()),
                (
                    "last week".to_string(),
                    "the week of Mon 23 February 2026".to_string()
                ),
                ("3 days ago".to_string(), "Sun 1 March 2026".to_string()),
                (
                    "last friday".to_string(),
                    "Fri 27 February 2026".to_string()
                ),
            ]
        );
        assert_eq!(
            resolved_in("a month ago, then last year", said, &zone),
            vec![
                ("a month ago".to_string(), "February 2026".to_string()),
                ("last year".to_string(), "2025".to_string()),
            ]
        );
        assert!(resolved_in("I love Fridays", said, &zone).is_empty());
        assert_eq!(
            resolved_in(
                "joined on Saturday, then earlier this month and a fortnight ago",
                said,
                &zone
            ),
            vec![
                (
                    "on saturday".to_string(),
                    "Sat 28 February 2026".to_string()
                ),
                ("earlier this month".to_string(), "March 2026".to_string()),
                (
                    "a fortnight ago".to_string(),
                    "the week of Mon 16 February 2026".to_string()
                ),
            ]
        );
    }

    #[test]
    fn when_questions_and_memories_that_say_when() {
        assert!(asks_when("When did I adopt Pixel?"));
        assert!(asks_when("how long ago did I move?"));
        assert!(!asks_when("Where do I live?"));
        assert!(tells_when("we adopted a dog the day before yesterday"));
        assert!(tells_when("I moved to Ghent in March"));
        assert!(tells_when("I joined the club on Saturday"));
        assert!(!tells_when("I may join the club"));
        assert!(!tells_when("I love my dog"));
    }

    #[test]
    fn days_are_shown_in_the_persons_time_zone() {
        let late = at("2026-03-04T23:30:00Z");
        assert_eq!(Zone::named(None).day(late), "Wed 4 March 2026");
        assert_eq!(
            Zone::named(Some("not/a-zone")).day(late),
            "Wed 4 March 2026"
        );
        // The system's zoneinfo database (Debian's tzdata) knows Tokyo.
        let tokyo = Zone::named(Some("Asia/Tokyo"));
        assert_eq!(tokyo.day(late), "Thu 5 March 2026");
        assert_eq!(
            resolved_in("yesterday", late, &tokyo),
            vec![("yesterday".to_string(), "Wed 4 March 2026".to_string())]
        );
    }
}
