//! Proposal and invoice emails through the back-office API, against DynamoDB Local: company
//! templates checked when saved, one message per contact with a text and an HTML part, and
//! the emailed accept link: its confirm page changes nothing, it accepts through the email
//! channel (the proposal then leaves the portal), and it stops working at the end of the
//! proposal's last local day (C12), once the proposal is accepted another way (C13), and for
//! any other proposal or company. With an `Idempotency-Key` an email goes out once however
//! often (or however concurrently) it is asked for.

use std::time::Duration;

use lambda_http::http::header;
use serde_json::json;

use porchlight_shared::domain::{Channel, Client, ClientRef, Company, Proposal, ProposalState};
use porchlight_shared::ids::ClientId;
use porchlight_shared::store::{Entity, keys};
use porchlight_tests::fixtures::{cases, invoice, proposal, sign_in};
use porchlight_tests::{BASE_URL, Event, Reply, TestStack};

/// One outgoing message taken apart as a mail client would.
#[derive(Debug)]
struct Message {
    raw: String,
    to: String,
    subject: String,
    text: String,
    html: String,
}

fn header_value<'a>(head: &'a str, name: &str) -> &'a str {
    head.split("\r\n")
        .find_map(|line| line.strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name} header in:\n{head}"))
}

/// Splits a `multipart/alternative` message into its text part and its decoded HTML part.
fn message(raw: &str) -> Message {
    let (head, body) = raw.split_once("\r\n\r\n").expect("a header block");
    let boundary = header_value(head, "Content-Type: multipart/alternative; boundary=\"")
        .trim_end_matches('"');
    let parts: Vec<&str> = body.split(&format!("--{boundary}")).collect();
    assert_eq!(parts.len(), 4, "a text and an HTML part:\n{raw}");
    let part = |i: usize, content_type: &str| {
        let (part_head, content) = parts[i]
            .trim_start_matches("\r\n")
            .split_once("\r\n\r\n")
            .expect("a part header block");
        assert!(part_head.contains(content_type), "{part_head}");
        (part_head.to_owned(), content.to_owned())
    };
    let (_, text) = part(1, "Content-Type: text/plain; charset=utf-8");
    let (html_head, encoded) = part(2, "Content-Type: text/html; charset=utf-8");
    assert!(html_head.contains("Content-Transfer-Encoding: base64"));
    let html = String::from_utf8(unbase64(&encoded)).expect("the HTML part is UTF-8");
    Message {
        raw: raw.to_owned(),
        to: header_value(head, "To: ").to_owned(),
        subject: header_value(head, "Subject: ").to_owned(),
        text,
        html,
    }
}

fn unbase64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut bits, mut count, mut out) = (0u32, 0, Vec::new());
    for byte in text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
    {
        let value = ALPHABET.iter().position(|c| *c == byte).expect("base64");
        bits = (bits << 6) | value as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

/// The path of the accept link in a message's text part.
fn accept_link_in(message: &Message) -> String {
    message
        .text
        .split_whitespace()
        .find(|word| word.starts_with(BASE_URL) && word.contains("/accept/"))
        .map(|url| url.trim_start_matches(BASE_URL).to_owned())
        .unwrap_or_else(|| panic!("no accept link in:\n{}", message.text))
}

/// A client with several contact addresses, each able to sign in.
async fn client_with_contacts(
    stack: &TestStack,
    company: &Company,
    name: &str,
    emails: &[&str],
) -> Client {
    let client = Client {
        id: ClientId::random(),
        name: name.into(),
        emails: emails.iter().map(|e| (*e).to_owned()).collect(),
        phone: None,
        billing_address: None,
        properties: vec![],
    };
    stack
        .store()
        .save_client(&company.slug, &client)
        .await
        .expect("client stored");
    let reference = ClientRef {
        id: client.id.clone(),
        name: client.name.clone(),
    };
    for email in emails {
        stack
            .store()
            .set_email_clients(&company.slug, email, std::slice::from_ref(&reference))
            .await
            .expect("email index stored");
    }
    client
}

/// Asks the API to email a proposal; returns the reply and the messages it sent.
async fn email_proposal(
    stack: &TestStack,
    key: &str,
    client: &Client,
    proposal: &Proposal,
) -> (Reply, Vec<Message>) {
    let before = stack.mail();
    let path = format!(
        "/api/v1/clients/{}/proposals/{}/email",
        client.id, proposal.id
    );
    let reply = stack.call(Event::post(&path).bearer(key)).await;
    let sent = stack
        .mail_since(&before)
        .iter()
        .map(|raw| message(raw))
        .collect();
    (reply, sent)
}

/// Emails a proposal to its one contact and returns the accept link's path.
async fn emailed_link(
    stack: &TestStack,
    key: &str,
    client: &Client,
    proposal: &Proposal,
) -> String {
    let (reply, sent) = email_proposal(stack, key, client, proposal).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(sent.len(), 1);
    accept_link_in(&sent[0])
}

async fn acceptances(stack: &TestStack, company: &Company, client: &Client) -> Vec<Channel> {
    stack
        .store()
        .client_portal(&company.slug, &client.id)
        .await
        .expect("read")
        .expect("the client")
        .acceptances
        .values()
        .map(|a| a.channel)
        .collect()
}

fn problem_fields(reply: &Reply) -> Vec<(String, String)> {
    reply.json()["invalid_fields"]
        .as_array()
        .expect("invalid fields")
        .iter()
        .map(|f| {
            let text = |name: &str| f[name].as_str().expect("text").to_owned();
            (text("name"), text("reason"))
        })
        .collect()
}

/// Unknown placeholders and malformed braces are refused when the template is saved,
/// naming the field and the placeholder; nothing is stored. A good template is saved and
/// used for the next email.
#[tokio::test]
async fn templates_are_checked_when_saved() {
    let stack = TestStack::new("2026-06-03T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let key = stack.api_key(&fixture.greenridge).await;
    let quote = proposal(
        &stack,
        &fixture.greenridge,
        &fixture.dana,
        "GR-Q-90",
        "2026-06-30",
        80_000,
    )
    .await;

    let bad = json!({ "subject": "Your quote {{quote_number}}",
        "body": "Hi {{client_name}}, accept here: {{accept_link" });
    let put = Event::put("/api/v1/templates/proposal").bearer(&key);
    let refused = stack.call(put.clone().body_json(&bad)).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(
        refused.header(header::CONTENT_TYPE),
        Some("application/problem+json")
    );
    let fields = problem_fields(&refused);
    assert_eq!(fields.len(), 2, "{fields:?}");
    assert_eq!(fields[0].0, "subject");
    assert!(
        fields[0]
            .1
            .contains("unknown placeholder `{{quote_number}}`")
    );
    assert!(
        fields[0].1.contains("{{document_number}}"),
        "the known ones"
    );
    assert_eq!(fields[1].0, "body");
    assert!(fields[1].1.contains("never closed"), "{}", fields[1].1);

    let invoice_only = json!({ "subject": "Invoice {{document_number}}",
        "body": "Accept: {{accept_link}}" });
    let refused = stack
        .call(
            Event::put("/api/v1/templates/invoice")
                .bearer(&key)
                .body_json(&invoice_only),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert_eq!(problem_fields(&refused)[0].0, "body");
    assert!(problem_fields(&refused)[0].1.contains("{{accept_link}}"));
    let unknown_kind = Event::put("/api/v1/templates/receipt").bearer(&key);
    assert_eq!(stack.call(unknown_kind.body_json(&bad)).await.status, 404);

    let shown = stack
        .call(Event::get("/api/v1/templates/proposal").bearer(&key))
        .await;
    assert_eq!(shown.status, 200);
    let shown = shown.json();
    assert_eq!(shown["default"], true, "the refused saves stored nothing");
    assert_eq!(shown["version"], 0);
    assert!(
        shown["placeholders"]
            .as_array()
            .expect("a list")
            .contains(&json!("{{accept_link}}"))
    );

    let good = json!({ "version": 0,
        "subject": "Quote {{ document_number }} for {{client_name}}",
        "body": "Dear {{client_name}},\r\n\r\n{{total}} <until {{valid_until}}>.\r\n\
                 Yes: {{accept_link}}\r\nPortal: {{portal_link}}" });
    let saved = stack.call(put.clone().body_json(&good)).await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert_eq!(saved.json()["version"], 1);
    assert_eq!(saved.json()["default"], false);
    let stale = stack.call(put.body_json(&good)).await;
    assert_eq!(stale.status, 409, "version 0 is stale now");

    let (reply, sent) = email_proposal(&stack, &key, &fixture.dana, &quote).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mail = &sent[0];
    assert_eq!(mail.subject, "Quote GR-Q-90 for Dana Whitfield");
    assert!(
        mail.text
            .starts_with("Dear Dana Whitfield,\r\n\r\n$800.00 <until Jun 30, 2026>.")
    );
    assert!(
        mail.html
            .contains("Dear Dana Whitfield,<br><br>$800.00 &lt;until Jun 30, 2026&gt;.<br>"),
        "{}",
        mail.html
    );
}

/// One message per contact address, each with both parts, the portal link and its own
/// accept link; the links open the portal and the confirm page.
#[tokio::test]
async fn a_proposal_goes_to_every_contact_with_working_links() {
    let stack = TestStack::new("2026-06-03T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let greenridge = &fixture.greenridge;
    let key = stack.api_key(greenridge).await;
    let family = client_with_contacts(
        &stack,
        greenridge,
        "Rivera Family",
        &["ana@example.net", "luis@example.net"],
    )
    .await;
    let quote = proposal(
        &stack,
        greenridge,
        &family,
        "GR-Q-91",
        "2026-06-30",
        125_000,
    )
    .await;

    let (reply, sent) = email_proposal(&stack, &key, &family, &quote).await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["sent"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        reply.json()["accept_links_expire_at"],
        "2026-07-01T05:00:00Z"
    );
    let mut recipients: Vec<&str> = sent.iter().map(|m| m.to.as_str()).collect();
    recipients.sort();
    assert_eq!(recipients, ["ana@example.net", "luis@example.net"]);
    let portal_link = format!("{BASE_URL}/p/greenridge");
    let mut links = Vec::new();
    for mail in &sent {
        assert_eq!(mail.subject, "Proposal #GR-Q-91 from Greenridge Lawn Co.");
        assert!(mail.text.contains("Hello Rivera Family,"));
        assert!(
            mail.text
                .contains("for $1,250.00. It is valid until Jun 30, 2026.")
        );
        assert!(mail.text.contains(&portal_link));
        let link = accept_link_in(mail);
        assert!(mail.html.starts_with("<!DOCTYPE html>"));
        assert!(mail.html.contains(&format!("href=\"{BASE_URL}{link}\"")));
        assert!(mail.html.contains(&format!("href=\"{portal_link}\"")));
        assert!(
            mail.raw
                .contains("\r\nReply-To: office@greenridge.example\r\n")
        );
        links.push(link);
    }
    assert_ne!(links[0], links[1], "each contact gets a link of their own");
    let token = links[0].rsplit('/').next().expect("a token");
    assert!(token.len() >= 32, "at least 128 bits");

    let portal = stack.call(Event::get("/p/greenridge")).await;
    assert_eq!(portal.status, 200);
    assert!(portal.body.contains("Welcome to Greenridge Lawn Co."));
    for link in &links {
        let page = stack.call(Event::get(link)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("Proposal #GR-Q-91"));
        assert!(page.body.contains("Rivera Family"));
        assert!(page.body.contains("$1,250.00"));
        assert!(page.body.contains("Accept proposal"));
    }
}

/// Opening the link (GET, HEAD, as mail scanners do) changes nothing; pressing the button
/// accepts through the email channel as the client, from the caller's address, tells staff
/// and the client, and the proposal leaves the portal. The link then refuses.
#[tokio::test]
async fn the_link_accepts_only_when_the_button_is_pressed() {
    let stack = TestStack::new("2026-06-03T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let (greenridge, dana) = (&fixture.greenridge, &fixture.dana);
    let key = stack.api_key(greenridge).await;
    let quote = proposal(&stack, greenridge, dana, "GR-Q-92", "2026-06-30", 60_000).await;
    let link = emailed_link(&stack, &key, dana, &quote).await;
    let before = stack.mail();

    for _ in 0..3 {
        assert_eq!(stack.call(Event::get(&link)).await.status, 200);
    }
    let head = stack.call(Event::head(&link)).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let json = stack.call(Event::get(&link).json()).await;
    assert_eq!(json.json()["status"], "open");
    assert_eq!(json.json()["proposal"]["number"], "GR-Q-92");
    assert!(acceptances(&stack, greenridge, dana).await.is_empty());
    assert!(
        stack.mail_since(&before).is_empty(),
        "opening sends nothing"
    );

    let accepted = stack.call(Event::post(&link).from_ip("203.0.113.9")).await;

    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert!(accepted.body.contains("You accepted proposal #GR-Q-92"));
    let portal = stack
        .store()
        .client_portal(&greenridge.slug, &dana.id)
        .await
        .expect("read")
        .expect("the client");
    let acceptance = &portal.acceptances[&quote.id];
    assert_eq!(acceptance.channel, Channel::EmailLink);
    assert_eq!(acceptance.accepted_by, "Dana Whitfield");
    assert_eq!(
        acceptance.accepted_by_email.as_deref(),
        Some("dana@example.net")
    );
    assert_eq!(acceptance.source_ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(acceptance.accepted_on.to_string(), "2026-06-03");
    let job = portal.jobs.values().next().expect("the proposal's job");
    assert_eq!(job.stage, porchlight_shared::domain::Stage::Active);

    let notices: Vec<Message> = stack
        .mail_since(&before)
        .iter()
        .map(|m| message(m))
        .collect();
    assert_eq!(notices.len(), 2, "a staff notice and a confirmation");
    let staff = notices
        .iter()
        .find(|m| m.to == "office@greenridge.example")
        .expect("a staff notice");
    assert!(staff.text.contains("through the emailed accept link"));
    assert!(
        staff
            .html
            .contains("Dana Whitfield accepted proposal #GR-Q-92")
    );
    let client = notices
        .iter()
        .find(|m| m.to == "dana@example.net")
        .expect("a confirmation");
    assert!(client.text.contains("You accepted proposal #GR-Q-92"));

    let cookie = sign_in(&stack, "greenridge", "dana@example.net").await;
    let home = stack
        .call(Event::get("/p/greenridge/").cookie(Some(&cookie)).json())
        .await
        .json();
    assert_eq!(home["proposals"], json!([]), "email-link acceptances leave");
    let why = stack
        .call(Event::get(&format!("/api/v1/clients/{}/portal", dana.id)).bearer(&key))
        .await
        .json();
    let document = &why["documents"][0];
    assert_eq!(document["number"], "GR-Q-92");
    assert_eq!(document["shown"], false);
    assert_eq!(document["reason"], "accepted_by_email_link");

    let again = stack.call(Event::post(&link)).await;
    assert_eq!(again.status, 409);
    assert!(
        again
            .body
            .contains("already accepted on Jun 3, 2026 by Dana Whitfield")
    );
    assert_eq!(stack.call(Event::get(&link)).await.status, 409);
    assert_eq!(acceptances(&stack, greenridge, dana).await.len(), 1);
}

/// C12 through the link: in Denver, valid until 2026-05-15, the link accepts at 05:00Z
/// (23:00 on the 15th) and refuses at 06:01Z (00:01 on the 16th) with 409.
#[tokio::test]
async fn c12_the_link_ends_with_the_proposals_last_local_day() {
    let stack = TestStack::new("2026-05-10T15:00:00Z").await;
    let denver = stack
        .company("greenridge", "Greenridge Lawn Co.", "America/Denver")
        .await;
    let dana = stack
        .client(&denver, "Dana Whitfield", "dana@example.net")
        .await;
    let key = stack.api_key(&denver).await;
    let late = proposal(&stack, &denver, &dana, "GR-Q-80", "2026-05-15", 150_000).await;
    let expired = proposal(&stack, &denver, &dana, "GR-Q-81", "2026-05-15", 90_000).await;
    let late_link = emailed_link(&stack, &key, &dana, &late).await;
    let expired_link = emailed_link(&stack, &key, &dana, &expired).await;

    stack.set_now("2026-05-16T05:00:00Z");
    let accepted = stack.call(Event::post(&late_link)).await;
    assert_eq!(
        accepted.status, 200,
        "23:00 on the 15th in Denver: still valid"
    );

    stack.set_now("2026-05-16T06:01:00Z");
    let page = stack.call(Event::get(&expired_link)).await;
    assert_eq!(page.status, 409);
    assert!(
        page.body.contains("expired after May 15, 2026"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Accept proposal"));
    let refused = stack.call(Event::post(&expired_link)).await;
    assert_eq!(refused.status, 409);
    assert!(refused.body.contains("expired"));
    let refused = stack.call(Event::post(&expired_link).json()).await;
    assert_eq!(refused.status, 409);
    assert_eq!(
        refused.header(header::CONTENT_TYPE),
        Some("application/problem+json")
    );
    assert_eq!(
        acceptances(&stack, &denver, &dana).await,
        [Channel::EmailLink],
        "only the proposal accepted in time"
    );

    let (reply, sent) = email_proposal(&stack, &key, &dana, &expired).await;
    assert_eq!(reply.status, 409, "an expired proposal is not mailed");
    assert!(sent.is_empty());
}

/// A proposal accepted in the portal after it was emailed: the link refuses, and the
/// acceptance stays the portal's.
#[tokio::test]
async fn a_portal_acceptance_stops_the_link() {
    let stack = TestStack::new("2026-06-03T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let (greenridge, dana) = (&fixture.greenridge, &fixture.dana);
    let key = stack.api_key(greenridge).await;
    let quote = proposal(&stack, greenridge, dana, "GR-Q-93", "2026-06-30", 40_000).await;
    let link = emailed_link(&stack, &key, dana, &quote).await;
    let cookie = sign_in(&stack, "greenridge", "dana@example.net").await;

    let portal_accept = Event::post(&format!("/p/greenridge/proposals/{}/accept", quote.id));
    assert_eq!(
        stack.call(portal_accept.cookie(Some(&cookie))).await.status,
        303
    );

    let page = stack.call(Event::get(&link)).await;
    assert_eq!(page.status, 409);
    assert!(page.body.contains("already accepted"));
    let refused = stack.call(Event::post(&link)).await;
    assert_eq!(refused.status, 409);
    assert_eq!(
        acceptances(&stack, greenridge, dana).await,
        [Channel::Portal]
    );
    let (again, sent) = email_proposal(&stack, &key, dana, &quote).await;
    assert_eq!(
        again.status, 409,
        "an accepted proposal is not mailed again"
    );
    assert!(sent.is_empty());
}

/// C13 with the email link: two portal accepts at once, then the emailed link 200 ms later.
/// One acceptance (the portal's), one staff notice, one confirmation; the link gets 409 and
/// the proposal stays in the portal.
#[tokio::test]
async fn c13_two_portal_accepts_and_the_link_record_one_acceptance() {
    let stack = TestStack::new("2026-06-03T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let (greenridge, dana) = (&fixture.greenridge, &fixture.dana);
    let key = stack.api_key(greenridge).await;
    let quote = proposal(&stack, greenridge, dana, "GR-Q-77", "2026-06-30", 240_000).await;
    let link = emailed_link(&stack, &key, dana, &quote).await;
    let cookie = sign_in(&stack, "greenridge", "dana@example.net").await;
    let before = stack.mail();

    let accept = || {
        let event = Event::post(&format!("/p/greenridge/proposals/{}/accept", quote.id));
        stack.call(event.cookie(Some(&cookie)))
    };
    let by_link = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stack.call(Event::post(&link)).await
    };
    let (first, second, third) = tokio::join!(accept(), accept(), by_link);

    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(statuses, [303, 409]);
    assert_eq!(third.status, 409, "{}", third.body);
    assert!(third.body.contains("already accepted"));
    assert_eq!(
        acceptances(&stack, greenridge, dana).await,
        [Channel::Portal]
    );
    assert_eq!(
        stack.mail_since(&before).len(),
        2,
        "one notice, one confirmation"
    );
    let home = stack
        .call(Event::get("/p/greenridge/").cookie(Some(&cookie)).json())
        .await
        .json();
    assert_eq!(home["proposals"][0]["number"], "GR-Q-77");
    assert_eq!(
        home["proposals"][0]["status"], "accepted",
        "the portal won: it stays"
    );
}

/// A token opens nothing but its own proposal in its own company: another proposal's id,
/// another company's slug or a made-up token all get 404, and nothing is accepted.
#[tokio::test]
async fn a_token_works_only_for_its_proposal_and_company() {
    let stack = TestStack::new("2026-06-03T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let (greenridge, dana) = (&fixture.greenridge, &fixture.dana);
    let key = stack.api_key(greenridge).await;
    let mine = proposal(&stack, greenridge, dana, "GR-Q-94", "2026-06-30", 30_000).await;
    let other = proposal(&stack, greenridge, dana, "GR-Q-95", "2026-06-30", 35_000).await;
    let sams = proposal(
        &stack,
        &fixture.oakleaf,
        &fixture.sam,
        "OK-Q-1",
        "2026-06-30",
        20_000,
    )
    .await;
    let link = emailed_link(&stack, &key, dana, &mine).await;
    let token = link.rsplit('/').next().expect("a token").to_owned();

    let elsewhere = [
        format!("/p/greenridge/proposals/{}/accept/{token}", other.id),
        format!("/p/oakleaf/proposals/{}/accept/{token}", mine.id),
        format!("/p/oakleaf/proposals/{}/accept/{token}", sams.id),
        format!(
            "/p/greenridge/proposals/{}/accept/{}",
            mine.id,
            "ab".repeat(32)
        ),
        format!("/p/greenridge/proposals/{}/accept/short", mine.id),
    ];
    for target in &elsewhere {
        assert_eq!(stack.call(Event::get(target)).await.status, 404, "{target}");
        assert_eq!(
            stack.call(Event::post(target)).await.status,
            404,
            "{target}"
        );
    }
    assert!(acceptances(&stack, greenridge, dana).await.is_empty());
    assert!(
        acceptances(&stack, &fixture.oakleaf, &fixture.sam)
            .await
            .is_empty()
    );
    assert_eq!(
        stack.call(Event::get(&link)).await.status,
        200,
        "its own still works"
    );

    // Taken off the client, the address the link went to can no longer accept with it.
    let without_dana = Client {
        emails: vec!["office@greenridge-family.example".into()],
        ..dana.clone()
    };
    stack
        .store()
        .save_client(&greenridge.slug, &without_dana)
        .await
        .expect("stored");
    assert_eq!(stack.call(Event::get(&link)).await.status, 404);
    assert_eq!(stack.call(Event::post(&link)).await.status, 404);
    assert!(acceptances(&stack, greenridge, dana).await.is_empty());
}

/// The API's refusals: ids of another client or company are 404, declined proposals and
/// voided invoices 409, and nothing is sent. An invoice email carries the portal link.
#[tokio::test]
async fn emails_are_refused_for_the_wrong_ids_and_states() {
    let stack = TestStack::new("2026-06-03T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let (greenridge, dana, lee) = (&fixture.greenridge, &fixture.dana, &fixture.lee);
    let key = stack.api_key(greenridge).await;
    let oakleaf_key = stack.api_key(&fixture.oakleaf).await;
    let quote = proposal(&stack, greenridge, dana, "GR-Q-96", "2026-06-30", 30_000).await;
    let before = stack.mail();

    let (wrong_client, _) = email_proposal(&stack, &key, lee, &quote).await;
    assert_eq!(wrong_client.status, 404);
    let (wrong_company, _) = email_proposal(&stack, &oakleaf_key, dana, &quote).await;
    assert_eq!(wrong_company.status, 404);

    let declined = Proposal {
        state: ProposalState::Declined,
        ..quote.clone()
    };
    stack
        .store()
        .upsert_record(
            &keys::proposal(&greenridge.slug, &dana.id, &quote.id),
            Entity::Proposal,
            &declined,
            None,
        )
        .await
        .expect("stored");
    let (refused, _) = email_proposal(&stack, &key, dana, &quote).await;
    assert_eq!(refused.status, 409);
    assert!(
        refused.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("declined"))
    );
    assert!(stack.mail_since(&before).is_empty());

    let bill = invoice(
        &stack,
        greenridge,
        dana,
        "GR-1200",
        "2026-06-01",
        9_000,
        4_000,
    )
    .await;
    let path = format!("/api/v1/clients/{}/invoices/{}/email", dana.id, bill.id);
    let sent = stack.call(Event::post(&path).bearer(&key)).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let mail: Vec<Message> = stack
        .mail_since(&before)
        .iter()
        .map(|m| message(m))
        .collect();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].subject, "Invoice #GR-1200 from Greenridge Lawn Co.");
    assert!(
        mail[0]
            .text
            .contains("The balance of $40.00 is due on receipt.")
    );
    assert!(mail[0].text.contains(&format!("{BASE_URL}/p/greenridge")));
    assert!(!mail[0].text.contains("/accept/"));
    assert!(
        mail[0]
            .html
            .contains(&format!("href=\"{BASE_URL}/p/greenridge\""))
    );

    let other = format!("/api/v1/clients/{}/invoices/{}/email", lee.id, bill.id);
    assert_eq!(
        stack.call(Event::post(&other).bearer(&key)).await.status,
        404
    );
    let elsewhere = Event::post(&path).bearer(&oakleaf_key);
    assert_eq!(stack.call(elsewhere).await.status, 404);
    let mut voided = bill.clone();
    voided.voided = true;
    stack
        .store()
        .upsert_record(
            &keys::invoice(&greenridge.slug, &dana.id, &bill.id),
            Entity::Invoice,
            &voided,
            None,
        )
        .await
        .expect("stored");
    let before = stack.mail();
    let refused = stack.call(Event::post(&path).bearer(&key)).await;
    assert_eq!(refused.status, 409);
    assert!(stack.mail_since(&before).is_empty());
}

/// Calls an email endpoint, with an `Idempotency-Key` when given; returns the reply and the
/// messages it sent.
async fn email_keyed(
    stack: &TestStack,
    event: Event,
    idempotency_key: Option<&str>,
) -> (Reply, Vec<Message>) {
    let before = stack.mail();
    let event = match idempotency_key {
        Some(value) => event.header("idempotency-key", value),
        None => event,
    };
    let reply = stack.call(event).await;
    let sent = stack
        .mail_since(&before)
        .iter()
        .map(|raw| message(raw))
        .collect();
    (reply, sent)
}

fn proposal_email(key: &str, client: &Client, proposal: &Proposal) -> Event {
    let path = format!(
        "/api/v1/clients/{}/proposals/{}/email",
        client.id, proposal.id
    );
    Event::post(&path).bearer(key)
}

/// Issue 3, "writes are idempotent": with an `Idempotency-Key` the proposal goes to each
/// contact once. A retry answers the first result again (even after the proposal was
/// accepted) and sends nothing; two attempts at once send one set; the key reused for
/// another proposal, another body or an invoice is 422 naming the header; a refused attempt
/// does not use the key up; without a key every call sends, as before.
#[tokio::test]
async fn an_idempotency_key_emails_a_proposal_once() {
    let stack = TestStack::new("2026-06-03T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let greenridge = &fixture.greenridge;
    let key = stack.api_key(greenridge).await;
    let family = client_with_contacts(
        &stack,
        greenridge,
        "Rivera Family",
        &["ana@example.net", "luis@example.net"],
    )
    .await;
    let quote = proposal(&stack, greenridge, &family, "GR-Q-60", "2026-06-30", 50_000).await;
    let other = proposal(&stack, greenridge, &family, "GR-Q-61", "2026-06-30", 70_000).await;
    let send = |key_value: Option<&'static str>| {
        email_keyed(&stack, proposal_email(&key, &family, &quote), key_value)
    };

    let (first, sent) = send(Some("rivera-quote-60")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(sent.len(), 2, "one message per contact");
    assert_eq!(
        first.header("idempotent-replayed".parse().expect("a name")),
        None
    );
    let recorded = stack
        .store()
        .email_send(&greenridge.slug, "rivera-quote-60")
        .await
        .expect("read")
        .expect("the send is recorded under the company");
    assert_eq!(
        recorded.target,
        format!("clients/{}/proposals/{}/email", family.id, quote.id)
    );
    let result = recorded.result.expect("the result is recorded");
    assert_eq!(result.recipients, 2);
    assert_eq!(result.sent_at.to_rfc3339(), "2026-06-03T15:00:00+00:00");

    let (retry, sent) = send(Some("rivera-quote-60")).await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert!(sent.is_empty(), "a retry sends nothing");
    assert_eq!(
        retry.json(),
        first.json(),
        "the first result, message ids and all"
    );
    assert_eq!(
        retry.header("idempotent-replayed".parse().expect("a name")),
        Some("true")
    );

    let refusals = [
        email_keyed(
            &stack,
            proposal_email(&key, &family, &other),
            Some("rivera-quote-60"),
        )
        .await,
        email_keyed(
            &stack,
            proposal_email(&key, &family, &quote).body_json(&json!({ "note": "again" })),
            Some("rivera-quote-60"),
        )
        .await,
        email_keyed(
            &stack,
            Event::post(&format!(
                "/api/v1/clients/{}/invoices/{}/email",
                fixture.sam.id, fixture.sam_invoice.id
            ))
            .bearer(&key),
            Some("rivera-quote-60"),
        )
        .await,
    ];
    for (refused, sent) in &refusals {
        assert_eq!(refused.status, 422, "{}", refused.body);
        assert_eq!(
            refused.header(header::CONTENT_TYPE),
            Some("application/problem+json")
        );
        assert_eq!(problem_fields(refused)[0].0, "Idempotency-Key");
        assert!(sent.is_empty());
    }

    // Each call's own count would see the other's messages, so the outbox is read around both.
    let before = stack.mail();
    let (a, b) = tokio::join!(send(Some("rivera-both")), send(Some("rivera-both")));
    assert_eq!(
        stack.mail_since(&before).len(),
        2,
        "one set of messages between them"
    );
    let mut statuses = [a.0.status, b.0.status];
    statuses.sort();
    assert!(
        statuses == [200, 200] || statuses == [200, 409],
        "{statuses:?}: {} / {}",
        a.0.body,
        b.0.body
    );

    let cookie = sign_in(&stack, "greenridge", "ana@example.net").await;
    let accept = Event::post(&format!("/p/greenridge/proposals/{}/accept", quote.id));
    assert_eq!(stack.call(accept.cookie(Some(&cookie))).await.status, 303);
    let (after, sent) = send(Some("rivera-quote-60")).await;
    assert_eq!(
        after.status, 200,
        "a retry is answered as the first attempt was"
    );
    assert_eq!(after.json(), first.json());
    assert!(sent.is_empty());
    let (fresh, sent) = send(Some("rivera-quote-60-b")).await;
    assert_eq!(
        fresh.status, 409,
        "a new key is a new email: refused once accepted"
    );
    assert!(sent.is_empty());

    let declined = Proposal {
        state: ProposalState::Declined,
        ..other.clone()
    };
    let other_key = keys::proposal(&greenridge.slug, &family.id, &other.id);
    let store = stack.store();
    store
        .upsert_record(&other_key, Entity::Proposal, &declined, None)
        .await
        .expect("stored");
    let resend = || {
        email_keyed(
            &stack,
            proposal_email(&key, &family, &other),
            Some("rivera-61"),
        )
    };
    let (refused, sent) = resend().await;
    assert_eq!(refused.status, 409);
    assert!(sent.is_empty());
    store
        .upsert_record(&other_key, Entity::Proposal, &other, None)
        .await
        .expect("stored");
    let (reopened, sent) = resend().await;
    assert_eq!(
        reopened.status, 200,
        "a refusal left the key unused: {}",
        reopened.body
    );
    assert_eq!(sent.len(), 2);

    let unkeyed = || email_keyed(&stack, proposal_email(&key, &family, &other), None);
    assert_eq!(unkeyed().await.1.len(), 2);
    assert_eq!(unkeyed().await.1.len(), 2, "without a key every call sends");
}

/// The invoice email honours the key the same way, and keys belong to their company: the
/// same key in another company is another email. The OpenAPI document names the header.
#[tokio::test]
async fn an_idempotency_key_emails_an_invoice_once() {
    let stack = TestStack::new("2026-06-03T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let (greenridge, dana) = (&fixture.greenridge, &fixture.dana);
    let key = stack.api_key(greenridge).await;
    let oakleaf_key = stack.api_key(&fixture.oakleaf).await;
    let bill = invoice(
        &stack,
        greenridge,
        dana,
        "GR-1300",
        "2026-06-01",
        9_000,
        9_000,
    )
    .await;
    let path = format!("/api/v1/clients/{}/invoices/{}/email", dana.id, bill.id);
    let send = |api_key: &str| Event::post(&path).bearer(api_key);

    let (first, sent) = email_keyed(&stack, send(&key), Some("GR-1300 reminder")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].subject, "Invoice #GR-1300 from Greenridge Lawn Co.");
    let (retry, sent) = email_keyed(&stack, send(&key), Some("GR-1300 reminder")).await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.json(), first.json());
    assert!(sent.is_empty());

    let sams_path = format!(
        "/api/v1/clients/{}/invoices/{}/email",
        fixture.sam.id, fixture.sam_invoice.id
    );
    let elsewhere = Event::post(&sams_path).bearer(&oakleaf_key);
    let (theirs, sent) = email_keyed(&stack, elsewhere, Some("GR-1300 reminder")).await;
    assert_eq!(theirs.status, 200, "{}", theirs.body);
    assert_eq!(
        sent.len(),
        1,
        "another company's key of the same name is its own"
    );
    assert_eq!(sent[0].to, "sam@example.org");

    let long = "k".repeat(201);
    let (refused, sent) = email_keyed(&stack, send(&key), Some(&long)).await;
    assert_eq!(refused.status, 422);
    assert_eq!(problem_fields(&refused)[0].0, "Idempotency-Key");
    assert!(sent.is_empty());

    let document = stack.call(Event::get("/api/v1/openapi.json")).await.json();
    for (path, document_param) in [
        (
            "/api/v1/clients/{client}/proposals/{proposal}/email",
            "proposal",
        ),
        (
            "/api/v1/clients/{client}/invoices/{invoice}/email",
            "invoice",
        ),
    ] {
        let operation = &document["paths"][path]["post"];
        let params = operation["parameters"].as_array().expect("parameters");
        let names: Vec<(&str, &str)> = params
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().expect("a name"),
                    p["in"].as_str().expect("in"),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("client", "path"),
                (document_param, "path"),
                ("Idempotency-Key", "header")
            ]
        );
        assert!(operation["responses"]["422"].is_object(), "{path}");
        assert!(
            operation["responses"]["200"]["headers"]["Idempotent-Replayed"].is_object(),
            "{path}"
        );
    }
}
