//! Recurring work as the client sees it, over handlers fed API Gateway events against DynamoDB
//! Local: upcoming visits per property on the portal home, the `.ics` calendar feed and its
//! secret, revocable URL, and the one-click switch of the new-documents email (RFC 8058).
//!
//! Oakleaf Tree Care (Chicago) on Mon Mar 2, 2026. Priya Nair has a home and a lake house;
//! her visits: pruning "some time in March" and on Mar 10 at home, dock work on Apr 2 at the
//! lake house, a gutter check today tied to no property, and visits that must not show: one
//! cancelled, one done early, one from Feb 20 not yet marked done (in the feed only), one
//! from January, and one whose job is not on record.

use lambda_http::http::header;
use porchlight_shared::client_links;
use porchlight_shared::domain::{
    Client, ClientPreferences, Company, Job, JobKind, Property, Stage, Visit, VisitDate,
};
use porchlight_shared::ids::{ClientId, DocumentId};
use porchlight_shared::store::{Entity, keys};
use porchlight_tests::fixtures::{day, sign_in};
use porchlight_tests::{BASE_URL, Event, Reply, TestStack};
use serde_json::json;

const NOW: &str = "2026-03-02T15:00:00Z";
const DOCK_TITLE: &str =
    "Dock cleanup, north side; haul brush\\debris\nthen rake the shore path by the boat launch";

struct Farm {
    stack: TestStack,
    company: Company,
    client: Client,
    cookie: String,
    v: Visits,
}

/// The visits of the story, by what they are.
struct Visits {
    march: DocumentId,
    march_10: DocumentId,
    dock: DocumentId,
    gutters: DocumentId,
    feb_20_open: DocumentId,
    cancelled: DocumentId,
    done_early: DocumentId,
    january: DocumentId,
    orphan: DocumentId,
}

fn property(name: &str, address: &str) -> Property {
    Property {
        id: DocumentId::random(),
        name: name.into(),
        address: Some(address.into()),
    }
}

async fn job(
    stack: &TestStack,
    company: &Company,
    client: &Client,
    title: &str,
    at: Option<&Property>,
) -> Job {
    let job = Job {
        id: DocumentId::random(),
        title: title.into(),
        kind: JobKind::Recurring,
        created_stage: Stage::Active,
        stage: Stage::Active,
        work_date: None,
        completed_on: None,
        property_id: at.map(|p| p.id.clone()),
        fixed_invoice: None,
    };
    let key = keys::job(&company.slug, &client.id, &job.id);
    stack
        .store()
        .upsert_record(&key, Entity::Job, &job, None)
        .await
        .expect("stored");
    job
}

fn on(date: &str) -> Option<VisitDate> {
    Some(VisitDate::On { date: day(date) })
}

async fn visit(
    stack: &TestStack,
    company: &Company,
    client: &Client,
    job_id: &DocumentId,
    scheduled: Option<VisitDate>,
    completed_on: Option<&str>,
    cancelled_on: Option<&str>,
) -> DocumentId {
    let visit = Visit {
        id: DocumentId::random(),
        job_id: job_id.clone(),
        scheduled,
        completed_on: completed_on.map(day),
        cancelled_on: cancelled_on.map(day),
    };
    let key = keys::visit(&company.slug, &client.id, &visit.id);
    stack
        .store()
        .upsert_record(&key, Entity::Visit, &visit, None)
        .await
        .expect("stored");
    visit.id
}

async fn farm() -> Farm {
    let stack = TestStack::new(NOW).await;
    let company = stack
        .company("oakleaf", "Oakleaf Tree Care", "America/Chicago")
        .await;
    let mut client = stack
        .client(&company, "Priya Nair", "priya@example.org")
        .await;
    let home = property("Home", "12 Elm St, Evanston");
    let lake = property("Lake house", "Lot 4, Shore Rd; Cabin \"B\"");
    client.properties = vec![home.clone(), lake.clone()];
    stack
        .store()
        .save_client(&company.slug, &client)
        .await
        .expect("stored");

    let (s, c, cl) = (&stack, &company, &client);
    let pruning = job(s, c, cl, "Monthly pruning", Some(&home)).await;
    let dock = job(s, c, cl, DOCK_TITLE, Some(&lake)).await;
    let gutters = job(s, c, cl, "Gutter check <now>", None).await;
    let march = VisitDate::WithinMonth {
        year: 2026,
        month: 3,
    };
    let v = Visits {
        march: visit(s, c, cl, &pruning.id, Some(march), None, None).await,
        march_10: visit(s, c, cl, &pruning.id, on("2026-03-10"), None, None).await,
        dock: visit(s, c, cl, &dock.id, on("2026-04-02"), None, None).await,
        gutters: visit(s, c, cl, &gutters.id, on("2026-03-02"), None, None).await,
        feb_20_open: visit(s, c, cl, &pruning.id, on("2026-02-20"), None, None).await,
        cancelled: visit(
            s,
            c,
            cl,
            &pruning.id,
            on("2026-03-20"),
            None,
            Some("2026-02-27"),
        )
        .await,
        done_early: visit(
            s,
            c,
            cl,
            &pruning.id,
            on("2026-03-05"),
            Some("2026-03-01"),
            None,
        )
        .await,
        january: visit(s, c, cl, &pruning.id, on("2026-01-15"), None, None).await,
        orphan: visit(
            s,
            c,
            cl,
            &DocumentId::random(),
            on("2026-03-12"),
            None,
            None,
        )
        .await,
    };
    let cookie = sign_in(&stack, "oakleaf", "priya@example.org").await;
    Farm {
        stack,
        company,
        client,
        cookie,
        v,
    }
}

impl Farm {
    async fn home_json(&self) -> serde_json::Value {
        let reply = self
            .stack
            .call(Event::get("/p/oakleaf/").cookie(Some(&self.cookie)).json())
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }

    async fn home_html(&self) -> String {
        let reply = self
            .stack
            .call(Event::get("/p/oakleaf/").cookie(Some(&self.cookie)))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    }

    async fn calendar(&self, action: &str) -> Reply {
        let post = Event::post("/p/oakleaf/calendar")
            .header("sec-fetch-site", "same-origin")
            .form(&[("action", action)]);
        self.stack.call(post.cookie(Some(&self.cookie))).await
    }

    /// Makes a new feed URL and returns its path, as the portal home shows it.
    async fn new_feed(&self) -> String {
        let reply = self.calendar("create").await;
        assert_eq!(reply.status, 303, "{}", reply.body);
        let url = self.home_json().await["preferences"]["calendar_url"]
            .as_str()
            .expect("a feed URL once made")
            .to_owned();
        url.strip_prefix(BASE_URL)
            .expect("under the base URL")
            .to_owned()
    }

    async fn preferences(&self) -> ClientPreferences {
        self.stack
            .store()
            .client_preferences(&self.company.slug, &self.client.id)
            .await
            .expect("read")
    }

    /// The page any unknown address of the company gets.
    async fn unknown_page(&self) -> Reply {
        let reply = self.stack.call(Event::get("/p/oakleaf/no/such/page")).await;
        assert_eq!(reply.status, 404);
        reply
    }
}

#[tokio::test]
async fn upcoming_visits_are_listed_per_property_soonest_first() {
    let farm = farm().await;
    let v = &farm.v;

    let json = farm.home_json().await;

    assert_eq!(json["today"], "2026-03-02");
    assert_eq!(
        json["upcoming_visits"],
        json!([
            { "property": "Home", "visits": [
                { "id": v.march, "job_title": "Monthly pruning", "within_month": "2026-03",
                  "label": "To be determined in March 2026" },
                { "id": v.march_10, "job_title": "Monthly pruning", "date": "2026-03-10",
                  "label": "Tue, Mar 10, 2026" },
            ]},
            { "property": "Lake house", "visits": [
                { "id": v.dock, "job_title": DOCK_TITLE, "date": "2026-04-02",
                  "label": "Thu, Apr 2, 2026" },
            ]},
            { "property": "Other visits", "visits": [
                { "id": v.gutters, "job_title": "Gutter check <now>", "date": "2026-03-02",
                  "label": "Mon, Mar 2, 2026" },
            ]},
        ])
    );
    let text = json["upcoming_visits"].to_string();
    for hidden in [
        &v.feb_20_open,
        &v.cancelled,
        &v.done_early,
        &v.january,
        &v.orphan,
    ] {
        assert!(
            !text.contains(hidden.as_str()),
            "{hidden} must not be listed"
        );
    }

    let html = farm.home_html().await;
    assert!(html.contains("<h2>Upcoming visits</h2>"), "{html}");
    assert!(html.contains("<h3>Lake house</h3>"));
    assert!(html.contains("To be determined in March 2026"));
    assert!(html.contains("Gutter check &lt;now&gt;"), "escaped by maud");
    assert!(!html.contains("Gutter check <now>"));
    assert!(!html.contains("No visits are scheduled."));
}

#[tokio::test]
async fn a_client_without_visits_sees_the_empty_state_and_long_series_are_cut_at_twelve() {
    let farm = farm().await;
    let (stack, company) = (&farm.stack, &farm.company);
    let dana = stack
        .client(company, "Dana Whitfield", "dana@example.net")
        .await;
    let dana_cookie = sign_in(stack, "oakleaf", "dana@example.net").await;

    let empty = stack
        .call(Event::get("/p/oakleaf/").cookie(Some(&dana_cookie)))
        .await;
    assert!(
        empty.body.contains("No visits are scheduled."),
        "{}",
        empty.body
    );
    let empty = stack
        .call(Event::get("/p/oakleaf/").cookie(Some(&dana_cookie)).json())
        .await;
    assert_eq!(empty.json()["upcoming_visits"], json!([]));

    let mowing = job(stack, company, &dana, "Weekly mowing", None).await;
    let mut first = day("2026-03-03");
    for _ in 0..14 {
        let date = Some(VisitDate::On { date: first });
        visit(stack, company, &dana, &mowing.id, date, None, None).await;
        first = first + chrono::Days::new(7);
    }
    let json = stack
        .call(Event::get("/p/oakleaf/").cookie(Some(&dana_cookie)).json())
        .await
        .json();
    let groups = json["upcoming_visits"].as_array().expect("a list");
    assert_eq!(groups.len(), 1);
    assert_eq!(
        groups[0]["property"], "Dana Whitfield",
        "a client without properties"
    );
    let visits = groups[0]["visits"].as_array().expect("a list");
    assert_eq!(visits.len(), 12);
    assert_eq!(visits[0]["date"], "2026-03-03");
    assert_eq!(visits[11]["date"], "2026-05-19");
}

fn event_block(lines: &[&str]) -> String {
    let mut block = lines.join("\r\n");
    block.push_str("\r\n");
    block
}

#[tokio::test]
async fn the_feed_is_rfc_5545_with_one_all_day_event_per_visit() {
    let farm = farm().await;
    let v = &farm.v;
    let feed = farm.new_feed().await;

    let reply = farm.stack.call(Event::get(&feed)).await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.header(header::CONTENT_TYPE),
        Some("text/calendar; charset=utf-8")
    );
    assert_eq!(
        reply.header(header::CACHE_CONTROL),
        Some("private, max-age=900")
    );
    let ics = &reply.body;
    assert!(
        ics.starts_with(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Porchlight//Client portal//EN\r\n\
             CALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\nX-WR-CALNAME:Oakleaf Tree Care\r\n"
        ),
        "{ics}"
    );
    assert!(ics.ends_with("END:VEVENT\r\nEND:VCALENDAR\r\n"));
    assert!(
        !ics.replace("\r\n", "").contains(['\r', '\n']),
        "every line ends in CRLF"
    );
    for line in ics.split("\r\n") {
        assert!(line.len() <= 75, "longer than 75 octets: {line:?}");
    }

    let dated = event_block(&[
        "BEGIN:VEVENT",
        &format!("UID:{}@porchlight", v.march_10),
        "DTSTAMP:20260302T150000Z",
        "DTSTART;VALUE=DATE:20260310",
        "DTEND;VALUE=DATE:20260311",
        "SUMMARY:Monthly pruning",
        r"LOCATION:12 Elm St\, Evanston",
        "STATUS:CONFIRMED",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
    ]);
    assert!(ics.contains(&dated), "{ics}");
    let within_month = event_block(&[
        "BEGIN:VEVENT",
        &format!("UID:{}@porchlight", v.march),
        "DTSTAMP:20260302T150000Z",
        "DTSTART;VALUE=DATE:20260301",
        "DTEND;VALUE=DATE:20260302",
        "SUMMARY:Monthly pruning (to be determined in March 2026)",
        r"LOCATION:12 Elm St\, Evanston",
        "DESCRIPTION:The day within March 2026 is still to be determined. The event ",
        " moves to it once set.",
        "STATUS:TENTATIVE",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
    ]);
    assert!(ics.contains(&within_month), "{ics}");
    let folded_and_escaped = event_block(&[
        "DTEND;VALUE=DATE:20260403",
        r"SUMMARY:Dock cleanup\, north side\; haul brush\\debris\nthen rake the shore",
        "  path by the boat launch",
        r#"LOCATION:Lot 4\, Shore Rd\; Cabin "B""#,
        "STATUS:CONFIRMED",
    ]);
    assert!(ics.contains(&folded_and_escaped), "{ics}");
    assert!(
        ics.contains("SUMMARY:Gutter check <now>\r\n"),
        "no property, no LOCATION"
    );

    // Feb 20 is not marked done yet: it stays for 30 days. Done and cancelled ones leave.
    assert!(ics.contains(&format!("UID:{}@porchlight", v.feb_20_open)));
    for gone in [&v.cancelled, &v.done_early, &v.january, &v.orphan] {
        assert!(
            !ics.contains(gone.as_str()),
            "{gone} must not be in the feed"
        );
    }
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), 5);

    let head = farm.stack.call(Event::head(&feed)).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header(header::CONTENT_TYPE),
        Some("text/calendar; charset=utf-8")
    );
}

#[tokio::test]
async fn wrong_old_and_revoked_feed_urls_get_the_one_404() {
    let farm = farm().await;
    let (stack, company, client) = (&farm.stack, &farm.company, &farm.client);
    let unknown = farm.unknown_page().await;
    let assert_404 = |reply: Reply, what: &str| {
        assert_eq!(reply.status, 404, "{what}: {}", reply.body);
        assert_eq!(
            reply.body, unknown.body,
            "{what} looks like any unknown page"
        );
    };

    let never_made = client_links::calendar_path(company, &client.id, 0);
    assert_404(
        stack.call(Event::get(&never_made)).await,
        "before any link was made",
    );

    let first = farm.new_feed().await;
    assert_eq!(stack.call(Event::get(&first)).await.status, 200);
    let second = farm.new_feed().await;
    assert_ne!(first, second);
    assert_eq!(stack.call(Event::get(&second)).await.status, 200);
    assert_404(stack.call(Event::get(&first)).await, "an older generation");

    let (prefix, token) = second.rsplit_once('/').expect("a path");
    let flipped = if token.starts_with('0') { "1" } else { "0" };
    let wrong_token = format!("{prefix}/{flipped}{}", &token[1..]);
    let other_client = second.replace(client.id.as_str(), ClientId::random().as_str());
    let no_suffix = second.trim_end_matches(".ics").to_owned();
    let bad_client = format!("/p/oakleaf/calendar/not-an-id/{token}");
    for (path, what) in [
        (wrong_token, "a wrong token"),
        (other_client, "another client"),
        (no_suffix, "no .ics"),
        (bad_client, "a malformed client"),
    ] {
        assert_404(stack.call(Event::get(&path)).await, what);
    }
    let elsewhere = second.replace("/p/oakleaf/", "/p/greenridge/");
    assert_eq!(stack.call(Event::get(&elsewhere)).await.status, 404);

    let revoked = farm.calendar("revoke").await;
    assert_eq!(revoked.status, 303);
    assert_404(stack.call(Event::get(&second)).await, "after revoke");
    let json = farm.home_json().await;
    assert_eq!(json["preferences"]["calendar_enabled"], false);
    assert!(json["preferences"].get("calendar_url").is_none());
    let third = farm.new_feed().await;
    assert_ne!(third, second, "a revoked URL never comes back");
    assert_eq!(stack.call(Event::get(&third)).await.status, 200);
}

#[tokio::test]
async fn the_calendar_switch_needs_a_same_site_session() {
    let farm = farm().await;
    let stack = &farm.stack;
    let create = || Event::post("/p/oakleaf/calendar").form(&[("action", "create")]);

    let anonymous = stack.call(create()).await;
    assert_eq!(anonymous.status, 401);
    let cross_site = create()
        .cookie(Some(&farm.cookie))
        .header("sec-fetch-site", "cross-site");
    assert_eq!(stack.call(cross_site).await.status, 403);
    let foreign_origin = create()
        .cookie(Some(&farm.cookie))
        .header("host", "portal.example.com")
        .header("origin", "https://evil.example");
    assert_eq!(stack.call(foreign_origin).await.status, 403);
    let bogus = Event::post("/p/oakleaf/calendar")
        .form(&[("action", "publish")])
        .cookie(Some(&farm.cookie));
    assert_eq!(stack.call(bogus).await.status, 422);
    assert_eq!(
        farm.preferences().await,
        ClientPreferences::default(),
        "nothing changed"
    );

    let html = farm.home_html().await;
    assert!(html.contains("Make a calendar link"), "{html}");
    assert!(!html.contains("Stop the calendar link"));

    let made = stack.call(create().cookie(Some(&farm.cookie))).await;
    assert_eq!(made.status, 303);
    assert_eq!(made.header(header::LOCATION), Some("/p/oakleaf/"));
    let preferences = farm.preferences().await;
    assert!(preferences.calendar_enabled);
    assert_eq!(preferences.calendar_generation, 1);
    let html = farm.home_html().await;
    let url = format!(
        "{BASE_URL}{}",
        client_links::calendar_path(&farm.company, &farm.client.id, 1)
    );
    assert!(html.contains(&url), "{html}");
    assert!(html.contains("New calendar link"));
    assert!(html.contains("Stop the calendar link"));

    let revoke = Event::post("/p/oakleaf/calendar")
        .form(&[("action", "revoke")])
        .cookie(Some(&farm.cookie))
        .json();
    let revoked = stack.call(revoke).await;
    assert_eq!(revoked.status, 200);
    assert_eq!(
        revoked.json(),
        json!({ "calendar_enabled": false, "calendar_url": null })
    );
}

#[tokio::test]
async fn the_emailed_link_stops_new_document_emails_in_one_click() {
    let farm = farm().await;
    let (stack, company, client) = (&farm.stack, &farm.company, &farm.client);
    let off = client_links::email_opt_out_path(company, &client.id);
    let on = off.replacen("/emails/off?", "/emails/on?", 1);

    let page = stack.call(Event::get(&off)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Stop these emails"));
    assert!(page.body.contains("at most once a day"));
    assert!(
        page.body.contains(&off.replace('&', "&amp;")),
        "the button posts to the link"
    );
    assert_eq!(stack.call(Event::head(&off)).await.status, 200);
    assert!(
        farm.preferences().await.new_documents_email,
        "opening the link changes nothing"
    );

    // What a mail provider sends (RFC 8058): no cookie, from its own site.
    let one_click = Event::post(&off)
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://mail.example")
        .form(&[("List-Unsubscribe", "One-Click")]);
    let stopped = stack.call(one_click.clone()).await;
    assert_eq!(stopped.status, 200, "{}", stopped.body);
    assert!(stopped.body.contains("New-document emails are off"));
    assert!(stopped.body.contains("Turn them back on"));
    assert!(stopped.body.contains(&on.replace('&', "&amp;")));
    assert!(!farm.preferences().await.new_documents_email);
    let again = stack.call(one_click).await;
    assert_eq!(again.status, 200, "a second click is harmless");
    assert!(!farm.preferences().await.new_documents_email);

    let json = farm.home_json().await;
    assert_eq!(json["preferences"]["new_documents_email"], false);
    assert_eq!(
        json["preferences"]["new_documents_email_switch"],
        on.as_str()
    );

    let restarted = stack.call(Event::post(&on).json()).await;
    assert_eq!(restarted.status, 200);
    assert_eq!(
        restarted.json(),
        json!({ "client": client.id, "new_documents_email": true })
    );
    assert!(farm.preferences().await.new_documents_email);
}

#[tokio::test]
async fn a_wrong_email_link_is_the_one_404_and_changes_nothing() {
    let farm = farm().await;
    let (stack, company, client) = (&farm.stack, &farm.company, &farm.client);
    let unknown = farm.unknown_page().await;
    let off = client_links::email_opt_out_path(company, &client.id);
    let other = stack.client(company, "Lee Park", "lee@example.net").await;
    let others_token = client_links::email_opt_out_token(company, &other.id);
    let nobody = ClientId::random();

    let wrong = [
        format!(
            "/p/oakleaf/emails/off?client={}&token=00{}",
            client.id,
            &others_token[2..]
        ),
        format!(
            "/p/oakleaf/emails/off?client={}&token={others_token}",
            client.id
        ),
        format!("/p/oakleaf/emails/off?client={}", client.id),
        "/p/oakleaf/emails/off".to_owned(),
        client_links::email_opt_out_path(company, &nobody),
        off.replacen("client=", "client=x", 1),
    ];
    for path in &wrong {
        for event in [
            Event::get(path),
            Event::post(path).form(&[("List-Unsubscribe", "One-Click")]),
        ] {
            let reply = stack.call(event).await;
            assert_eq!(reply.status, 404, "{path}");
            assert_eq!(reply.body, unknown.body, "{path}");
        }
        let reply = stack.call(Event::post(path).json()).await;
        assert_eq!(reply.status, 404);
        assert_eq!(
            reply.header(header::CONTENT_TYPE),
            Some("application/problem+json")
        );
    }
    assert!(farm.preferences().await.new_documents_email);
    let never_written = stack
        .store()
        .client_preferences(&company.slug, &nobody)
        .await
        .expect("read");
    assert_eq!(never_written, ClientPreferences::default());
}

#[tokio::test]
async fn the_portal_switch_turns_the_email_off_and_returns_home() {
    let farm = farm().await;

    let html = farm.home_html().await;
    assert!(html.contains("Stop these emails"), "{html}");
    let off = client_links::email_opt_out_path(&farm.company, &farm.client.id);
    assert!(html.contains(&off.replace('&', "&amp;")));

    let switch = Event::post(&off)
        .header("sec-fetch-site", "same-origin")
        .cookie(Some(&farm.cookie))
        .form(&[("next", "portal")]);
    let reply = farm.stack.call(switch).await;
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header(header::LOCATION), Some("/p/oakleaf/"));
    assert!(!farm.preferences().await.new_documents_email);
    let html = farm.home_html().await;
    assert!(html.contains("Turn these emails on"), "{html}");
}
