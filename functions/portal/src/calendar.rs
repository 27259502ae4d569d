//! The client's visits as an iCalendar feed (RFC 5545) that a phone or desktop calendar
//! subscribes to: `GET /p/{slug}/calendar/{client}/{token}.ics`.
//!
//! The URL is the only authority, so it is checked whole: the company, the client, a feed
//! that is switched on, and a token of its current generation. Any part wrong gets the
//! portal's one 404, so the answer never says which part it was.
//!
//! What the feed holds:
//! - every visit still to come, and those of the last [`PAST_DAYS`] days not yet marked done,
//!   so a visit does not drop out of the calendar the day after it was due while the crew's
//!   record catches up. A visit marked done or cancelled leaves at once.
//! - a dated visit is an all-day event on its day. A visit "to be determined" within a month
//!   is an all-day event on the 1st, marked tentative, its summary saying so. A one-day
//!   event rather than a month-long span: calendars draw a span as a bar across every day
//!   of the month, which reads as a month of work, and the 1st is also the day its invoice
//!   appears.
//! - events are free time (`TRANSP:TRANSPARENT`): the crew comes, the client need not be in.

use chrono::{DateTime, Days, NaiveDate, Utc};
use lambda_http::http::{HeaderValue, header};
use lambda_http::{Body, Request, Response};
use porchlight_shared::client_links;
use porchlight_shared::context::AppContext;
use porchlight_shared::domain::{Company, VisitDate};
use porchlight_shared::http::{self, Failure};
use porchlight_shared::ids::ClientId;
use porchlight_shared::portal::{PortalDay, ScheduledVisit, month_name};

/// Days a visit not yet marked done stays in the feed after its last possible day.
const PAST_DAYS: u64 = 30;

/// How long a calendar app or cache may reuse an answer.
const CACHE_CONTROL: &str = "private, max-age=900";

/// What calendar apps are asked to wait between refreshes (RFC 7986, and the older
/// `X-PUBLISHED-TTL` that Outlook reads).
const REFRESH: &str = "PT4H";

/// RFC 5545 section 3.1: content lines are folded at 75 octets.
const LINE_OCTETS: usize = 75;

pub(crate) async fn feed(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
    raw_client: &str,
    raw_feed: &str,
) -> Result<Response<Body>, Failure> {
    let not_found = || {
        let names = (&company.slug, company.name.as_str());
        http::not_found(http::wants_json(req), Some(names))
    };
    let (Ok(client), Some(token)) = (ClientId::parse(raw_client), raw_feed.strip_suffix(".ics"))
    else {
        return Ok(not_found());
    };

    // One Query: the client's partition holds the preferences as well as the visits.
    let Some(portal) = ctx.store.client_portal(&company.slug, &client).await? else {
        return Ok(not_found());
    };
    let preferences = &portal.preferences;
    let generation = preferences.calendar_generation;
    if !preferences.calendar_enabled
        || !client_links::is_calendar_token(company, &client, generation, token)
    {
        tracing::info!(slug = %company.slug, client = %client, "calendar feed refused");
        return Ok(not_found());
    }

    let now = ctx.clock.now();
    let today = company.today(now);
    let since = today
        .checked_sub_days(Days::new(PAST_DAYS))
        .unwrap_or(today);
    let day = PortalDay::new(company, &portal, today);
    let visits = day.scheduled_visits(since);
    tracing::info!(slug = %company.slug, client = %client, generation,
        events = visits.len(), "calendar feed");
    Ok(calendar_response(render(&company.name, &visits, now)))
}

fn calendar_response(text: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(text));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // The URL is a secret: keep it out of search engines and out of Referer headers.
    headers.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The whole VCALENDAR, CRLF line ends, folded.
fn render(company: &str, visits: &[ScheduledVisit], now: DateTime<Utc>) -> String {
    let mut ics = Ics::default();
    ics.line("BEGIN:VCALENDAR");
    ics.line("VERSION:2.0");
    ics.line("PRODID:-//Porchlight//Client portal//EN");
    ics.line("CALSCALE:GREGORIAN");
    ics.line("METHOD:PUBLISH");
    ics.text("X-WR-CALNAME", company);
    ics.line(&format!("REFRESH-INTERVAL;VALUE=DURATION:{REFRESH}"));
    ics.line(&format!("X-PUBLISHED-TTL:{REFRESH}"));
    let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
    for visit in visits {
        event(&mut ics, visit, &stamp);
    }
    ics.line("END:VCALENDAR");
    ics.out
}

fn event(ics: &mut Ics, scheduled: &ScheduledVisit, stamp: &str) {
    let day = scheduled.sort_day();
    let title = &scheduled.job.title;
    let (summary, status) = match scheduled.scheduled {
        VisitDate::On { .. } => (title.clone(), "CONFIRMED"),
        VisitDate::WithinMonth { .. } => (
            format!("{title} (to be determined in {})", month_name(day)),
            "TENTATIVE",
        ),
    };
    ics.line("BEGIN:VEVENT");
    ics.line(&format!("UID:{}@porchlight", scheduled.visit.id));
    ics.line(&format!("DTSTAMP:{stamp}"));
    ics.line(&format!("DTSTART;VALUE=DATE:{}", ics_date(day)));
    // DTEND of an all-day event is exclusive: the next day.
    if let Some(next) = day.succ_opt() {
        ics.line(&format!("DTEND;VALUE=DATE:{}", ics_date(next)));
    }
    ics.text("SUMMARY", &summary);
    if let Some(address) = scheduled.property.and_then(|p| p.address.as_deref()) {
        ics.text("LOCATION", address);
    }
    if matches!(scheduled.scheduled, VisitDate::WithinMonth { .. }) {
        let description = format!(
            "The day within {} is still to be determined. The event moves to it once set.",
            month_name(day)
        );
        ics.text("DESCRIPTION", &description);
    }
    ics.line(&format!("STATUS:{status}"));
    ics.line("TRANSP:TRANSPARENT");
    ics.line("END:VEVENT");
}

fn ics_date(day: NaiveDate) -> String {
    day.format("%Y%m%d").to_string()
}

/// Content lines as RFC 5545 writes them.
#[derive(Default)]
struct Ics {
    out: String,
}

impl Ics {
    /// One content line, folded, with its CRLF.
    fn line(&mut self, line: &str) {
        fold_into(&mut self.out, line);
    }

    /// A property whose value is TEXT, escaped.
    fn text(&mut self, name: &str, value: &str) {
        self.line(&format!("{name}:{}", escape_text(value)));
    }
}

/// TEXT escaping (RFC 5545 section 3.3.11): backslash, semicolon and comma get a backslash,
/// every line break becomes `\n`. Other control characters are not allowed in TEXT and are
/// dropped (a tab stays).
fn escape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends `line` folded at [`LINE_OCTETS`] octets (a continuation line's leading space
/// counts), never inside a UTF-8 character, each piece ending in CRLF.
fn fold_into(out: &mut String, line: &str) {
    let mut room = LINE_OCTETS;
    for c in line.chars() {
        if c.len_utf8() > room {
            out.push_str("\r\n ");
            room = LINE_OCTETS - 1;
        }
        out.push(c);
        room -= c.len_utf8();
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(line: &str) -> String {
        let mut out = String::new();
        fold_into(&mut out, line);
        out
    }

    #[test]
    fn text_escapes_what_rfc_5545_names() {
        assert_eq!(
            escape_text("Trim, edge; haul\\away\nthen\r\nrake\rdone"),
            "Trim\\, edge\\; haul\\\\away\\nthen\\nrake\\ndone"
        );
        assert_eq!(escape_text("bell\u{7}\ttab"), "bell\ttab");
    }

    #[test]
    fn short_lines_are_left_whole() {
        let line = "x".repeat(75);
        assert_eq!(folded(&line), format!("{line}\r\n"));
    }

    #[test]
    fn long_lines_fold_at_75_octets() {
        let line = "y".repeat(75 + 74 + 3);
        let expected = format!(
            "{}\r\n {}\r\n {}\r\n",
            "y".repeat(75),
            "y".repeat(74),
            "yyy"
        );
        assert_eq!(folded(&line), expected);
    }

    #[test]
    fn folding_never_splits_a_character() {
        // 74 ASCII octets, then a 2-octet character that would end at octet 76.
        let line = format!("{}é", "z".repeat(74));
        assert_eq!(folded(&line), format!("{}\r\n é\r\n", "z".repeat(74)));
        for piece in folded(&"é".repeat(100)).split("\r\n") {
            assert!(piece.len() <= LINE_OCTETS, "{piece:?}");
        }
    }
}
