//! Service requests reach staff through the back-office API: listing and filtering, the CSV
//! export (case C14 test 2), marking handled twice, turning a request into a client who can
//! sign in at once, and one company's key never reaching another company's requests.

use lambda_http::http::header;
use serde_json::{Value, json};

use porchlight_shared::domain::{Lead, Stage};
use porchlight_shared::ids::DocumentId;
use porchlight_shared::store::{Entity, Key, keys};
use porchlight_tests::fixtures::{cases, sign_in};
use porchlight_tests::{Event, Reply, TestStack, instant};

/// A service request as the public form sends it, from `ip`; returns its id.
async fn request(stack: &TestStack, name: &str, email: &str, address: &str, ip: &str) -> String {
    let form_id = DocumentId::random().to_string();
    let form = [
        ("form_id", form_id.as_str()),
        ("name", name),
        ("email", email),
        ("phone", "(312) 555-0142"),
        ("service_address", address),
        ("service_wanted", "Aerate and overseed the back lawn"),
        ("preferred_timing", "Within 2 weeks"),
        ("notes", "-15.00"),
        ("website", ""),
    ];
    let reply = stack
        .call(Event::post("/p/greenridge/request").form(&form).from_ip(ip))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    form_id
}

async fn get(stack: &TestStack, key: &str, target: &str) -> Reply {
    stack.call(Event::get(target).bearer(key)).await
}

async fn post(stack: &TestStack, key: &str, target: &str) -> Reply {
    stack.call(Event::post(target).bearer(key)).await
}

fn ids(reply: &Reply) -> Vec<String> {
    reply.json()["leads"]
        .as_array()
        .expect("a list of leads")
        .iter()
        .map(|lead| lead["id"].as_str().expect("an id").to_owned())
        .collect()
}

#[tokio::test]
async fn leads_are_listed_newest_first_and_filtered_by_status() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let key = stack.api_key(&fixture.greenridge).await;
    let first = request(
        &stack,
        "Pat Lee",
        "pat@example.com",
        "12 Elm St",
        "203.0.113.1",
    )
    .await;
    stack.set_now("2026-04-02T16:30:00Z");
    let second = request(
        &stack,
        "Kim Ng",
        "kim@example.com",
        "3 Oak Ave",
        "203.0.113.2",
    )
    .await;
    stack.set_now("2026-04-03T09:00:00Z");
    let third = request(
        &stack,
        "Ash Roy",
        "ash@example.com",
        "9 Fir Ln",
        "203.0.113.3",
    )
    .await;

    let all = get(&stack, &key, "/api/v1/leads").await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(ids(&all), [third.as_str(), &second, &first]);
    let newest = &all.json()["leads"][0];
    assert_eq!(
        newest,
        &json!({
            "id": third,
            "received_at": "2026-04-03T09:00:00Z",
            "name": "Ash Roy",
            "email": "ash@example.com",
            "phone": "(312) 555-0142",
            "service_address": "9 Fir Ln",
            "service_wanted": "Aerate and overseed the back lawn",
            "preferred_timing": "Within 2 weeks",
            "notes": "-15.00",
            "client_id": null,
            "job_id": null,
            "status": "open",
            "handled_at": null,
        })
    );

    let marked = post(&stack, &key, &format!("/api/v1/leads/{second}/handled")).await;
    assert_eq!(marked.status, 200, "{}", marked.body);
    let open = get(&stack, &key, "/api/v1/leads?status=open").await;
    assert_eq!(ids(&open), [third.as_str(), &first]);
    let handled = get(&stack, &key, "/api/v1/leads?status=handled").await;
    assert_eq!(ids(&handled), [second.as_str()]);
    assert_eq!(handled.json()["leads"][0]["status"], "handled");

    let bad = get(&stack, &key, "/api/v1/leads?status=done").await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.json()["invalid_fields"][0]["name"], "status");
}

/// C14 test 2: the formula typed as a name and the one typed as an address are quoted text
/// with a leading `'` in the export; the received date and a plain number are not touched.
#[tokio::test]
async fn c14_the_csv_export_writes_formulas_as_text() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let key = stack.api_key(&fixture.greenridge).await;
    let name = r#"=HYPERLINK("http://example.invalid/x","Open")"#;
    let id = request(&stack, name, "pat@example.com", "@SUM(1+1)", "203.0.113.1").await;

    let csv = get(&stack, &key, "/api/v1/leads.csv").await;

    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(
        csv.header(header::CONTENT_TYPE),
        Some("text/csv; charset=utf-8")
    );
    assert_eq!(
        csv.header(header::CONTENT_DISPOSITION),
        Some("attachment; filename=\"service-requests-greenridge-2026-04-02.csv\"")
    );
    let lines: Vec<&str> = csv.body.split("\r\n").collect();
    assert_eq!(lines.len(), 3, "header, one row, and the final line break");
    assert!(
        lines[0].starts_with("\"received_at\",\"name\",\"email\""),
        "{}",
        lines[0]
    );
    let expected = format!(
        "\"2026-04-02T15:00:00+00:00\",\
         \"'=HYPERLINK(\"\"http://example.invalid/x\"\",\"\"Open\"\")\",\
         \"pat@example.com\",\"(312) 555-0142\",\"'@SUM(1+1)\",\
         \"Aerate and overseed the back lawn\",\"Within 2 weeks\",\"-15.00\",\"\",\
         \"{id}\",\"open\",\"\""
    );
    assert_eq!(lines[1], expected);
}

#[tokio::test]
async fn marking_handled_twice_keeps_the_first_time() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let key = stack.api_key(&fixture.greenridge).await;
    let id = request(
        &stack,
        "Pat Lee",
        "pat@example.com",
        "12 Elm St",
        "203.0.113.1",
    )
    .await;
    let target = format!("/api/v1/leads/{id}/handled");

    stack.set_now("2026-04-02T17:00:00Z");
    let first = post(&stack, &key, &target).await;
    stack.set_now("2026-04-03T08:00:00Z");
    let second = post(&stack, &key, &target).await;

    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.json()["status"], "handled");
    assert_eq!(first.json()["handled_at"], "2026-04-02T17:00:00Z");
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(
        second.json(),
        first.json(),
        "the second call changes nothing"
    );
    let stored = stack
        .store()
        .lead(
            &fixture.greenridge.slug,
            &DocumentId::parse(&id).expect("an id"),
        )
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.handled_at, Some(instant("2026-04-02T17:00:00Z")));
    let converted = post(&stack, &key, &format!("/api/v1/leads/{id}/convert")).await;
    assert_eq!(converted.status, 201, "{}", converted.body);
    assert_eq!(
        converted.json()["lead"]["handled_at"],
        "2026-04-02T17:00:00Z",
        "converting a handled request keeps when it was handled"
    );

    let unknown = format!("/api/v1/leads/{}/handled", DocumentId::random());
    assert_eq!(post(&stack, &key, &unknown).await.status, 404);
    assert_eq!(
        post(&stack, &key, "/api/v1/leads/not-an-id/handled")
            .await
            .status,
        404
    );
    let with_fields = Event::post(&target)
        .bearer(&key)
        .body_json(&json!({ "handled": false }));
    let refused = stack.call(with_fields).await;
    assert_eq!(refused.status, 422);
    assert_eq!(refused.json()["invalid_fields"][0]["name"], "handled");
}

#[tokio::test]
async fn converting_makes_a_client_who_can_sign_in_and_a_lead_stage_job() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let key = stack.api_key(&fixture.greenridge).await;
    let id = request(
        &stack,
        "Pat Lee",
        "Pat@Example.com",
        "12 Elm St, Evanston",
        "203.0.113.1",
    )
    .await;
    let target = format!("/api/v1/leads/{id}/convert");

    stack.set_now("2026-04-02T18:00:00Z");
    let converted = post(&stack, &key, &target).await;

    assert_eq!(converted.status, 201, "{}", converted.body);
    let body = converted.json();
    let client = &body["client"];
    let job = &body["job"];
    assert_eq!(client["name"], "Pat Lee");
    assert_eq!(client["emails"], json!(["pat@example.com"]));
    assert_eq!(client["phone"], "(312) 555-0142");
    assert_eq!(client["properties"][0]["address"], "12 Elm St, Evanston");
    assert_eq!(job["title"], "Aerate and overseed the back lawn");
    assert_eq!(job["stage"], "lead");
    assert_eq!(job["created_stage"], "lead");
    assert_eq!(body["lead"]["status"], "handled");
    assert_eq!(body["lead"]["handled_at"], "2026-04-02T18:00:00Z");
    assert_eq!(body["lead"]["client_id"], client["id"]);
    assert_eq!(body["lead"]["job_id"], job["id"]);

    let client_id = client["id"].as_str().expect("an id").to_owned();
    let portal = stack
        .store()
        .client_portal(
            &fixture.greenridge.slug,
            &porchlight_shared::ids::ClientId::parse(&client_id).expect("an id"),
        )
        .await
        .expect("read")
        .expect("the client is stored");
    let stored_job = portal.jobs.values().next().expect("one job");
    assert_eq!(portal.jobs.len(), 1);
    assert_eq!(
        (stored_job.created_stage, stored_job.stage),
        (Stage::Lead, Stage::Lead)
    );

    // The address reaches the new client: a login link is sent, and it signs in.
    let cookie = sign_in(&stack, "greenridge", "pat@example.com").await;
    let home = stack
        .call(Event::get("/p/greenridge").cookie(Some(&cookie)).json())
        .await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert_eq!(home.json()["client"]["id"], client_id.as_str());
    assert_eq!(home.json()["client"]["name"], "Pat Lee");

    stack.set_now("2026-04-03T09:00:00Z");
    let again = post(&stack, &key, &target).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["client"]["id"], client_id.as_str());
    assert_eq!(again.json()["job"]["id"], job["id"]);
    assert_eq!(again.json()["lead"]["handled_at"], "2026-04-02T18:00:00Z");
    let entry = stack
        .store()
        .email_entry(&fixture.greenridge.slug, "pat@example.com")
        .await
        .expect("read")
        .expect("indexed");
    assert_eq!(entry.clients.len(), 1, "no second client");

    let listed = get(&stack, &key, "/api/v1/leads").await.json();
    assert_eq!(listed["leads"][0]["client_id"], client_id.as_str());
}

/// Two converts at once make one client; both answer with it.
#[tokio::test]
async fn concurrent_converts_make_one_client() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let key = stack.api_key(&fixture.greenridge).await;
    let id = request(
        &stack,
        "Pat Lee",
        "pat@example.com",
        "12 Elm St",
        "203.0.113.1",
    )
    .await;
    let target = format!("/api/v1/leads/{id}/convert");

    let (a, b) = tokio::join!(post(&stack, &key, &target), post(&stack, &key, &target));

    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 201], "{} / {}", a.body, b.body);
    assert_eq!(a.json()["client"]["id"], b.json()["client"]["id"]);
    assert_eq!(a.json()["job"]["id"], b.json()["job"]["id"]);
}

/// A request whose address already reaches a client is not made into a second one: 409
/// naming that client, and nothing changes.
#[tokio::test]
async fn converting_a_known_address_names_the_existing_client() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let key = stack.api_key(&fixture.greenridge).await;
    let id = request(
        &stack,
        "Dana W.",
        "DANA@example.net",
        "40 Birch Rd",
        "203.0.113.1",
    )
    .await;

    let refused = post(&stack, &key, &format!("/api/v1/leads/{id}/convert")).await;

    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(
        refused.header(header::CONTENT_TYPE),
        Some("application/problem+json")
    );
    assert_eq!(refused.json()["client_id"], fixture.dana.id.as_str());
    let lead = stack
        .store()
        .lead(
            &fixture.greenridge.slug,
            &DocumentId::parse(&id).expect("an id"),
        )
        .await
        .expect("read")
        .expect("stored");
    assert_eq!((lead.client_id, lead.handled_at), (None, None));
    let entry = stack
        .store()
        .email_entry(&fixture.greenridge.slug, "dana@example.net")
        .await
        .expect("read")
        .expect("indexed");
    assert_eq!(entry.clients.len(), 1);
    assert_eq!(entry.clients[0].id, fixture.dana.id);

    // A request a signed-in client sent names that client already.
    let cookie = sign_in(&stack, "greenridge", "lee@example.net").await;
    let form_id = DocumentId::random().to_string();
    let form = [
        ("form_id", form_id.as_str()),
        ("name", "Lee Park"),
        ("email", "lee.park@example.org"),
        ("phone", ""),
        ("service_address", "7 Ash Ct"),
        ("service_wanted", "Trim the hedges"),
        ("preferred_timing", "Within 2 weeks"),
        ("notes", ""),
        ("website", ""),
    ];
    let sent = stack
        .call(
            Event::post("/p/greenridge/request")
                .form(&form)
                .cookie(Some(&cookie)),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let from_client = post(&stack, &key, &format!("/api/v1/leads/{form_id}/convert")).await;
    assert_eq!(from_client.status, 409, "{}", from_client.body);
    assert_eq!(from_client.json()["client_id"], fixture.lee.id.as_str());
}

#[tokio::test]
async fn another_companys_key_reaches_none_of_its_leads() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let oakleaf_key = stack.api_key(&fixture.oakleaf).await;
    let id = request(
        &stack,
        "Pat Lee",
        "pat@example.com",
        "12 Elm St",
        "203.0.113.1",
    )
    .await;

    let listed = get(&stack, &oakleaf_key, "/api/v1/leads").await;
    let csv = get(&stack, &oakleaf_key, "/api/v1/leads.csv").await;
    let handled = post(&stack, &oakleaf_key, &format!("/api/v1/leads/{id}/handled")).await;
    let converted = post(&stack, &oakleaf_key, &format!("/api/v1/leads/{id}/convert")).await;

    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["leads"], json!([]));
    assert_eq!(csv.body.split("\r\n").count(), 2, "the header only");
    assert_eq!(handled.status, 404);
    assert_eq!(converted.status, 404);
    let lead = stack
        .store()
        .lead(
            &fixture.greenridge.slug,
            &DocumentId::parse(&id).expect("an id"),
        )
        .await
        .expect("read")
        .expect("stored");
    assert_eq!((lead.handled_at, lead.client_id), (None, None));
    assert!(
        stack
            .store()
            .email_entry(&fixture.oakleaf.slug, "pat@example.com")
            .await
            .expect("read")
            .is_none()
    );
    let anonymous = stack.call(Event::get("/api/v1/leads")).await;
    assert_eq!(anonymous.status, 401);
}

/// A request stored under the old time-ordered key is listed, moved to its id key, and can
/// then be handled and converted like any other.
#[tokio::test]
async fn requests_stored_under_the_old_key_are_moved_and_addressable() {
    let stack = TestStack::new("2026-04-02T15:00:00Z").await;
    let fixture = cases(&stack).await;
    let key = stack.api_key(&fixture.greenridge).await;
    let slug = &fixture.greenridge.slug;
    let lead = Lead {
        id: DocumentId::random(),
        received_at: instant("2026-03-30T12:00:00Z"),
        name: "Old Timer".into(),
        email: "old@example.com".into(),
        phone: String::new(),
        service_address: "1 Old Rd".into(),
        service_wanted: "Stump grinding".into(),
        preferred_timing: String::new(),
        notes: String::new(),
        client_id: None,
        source_ip: None,
        handled_at: None,
        job_id: None,
    };
    let old_key = Key {
        pk: keys::leads_partition(slug),
        sk: format!("LEAD#2026-03-30T12:00:00.000Z#{}", lead.id),
    };
    stack
        .store()
        .upsert_record(&old_key, Entity::Lead, &lead, None)
        .await
        .expect("stored the old way");
    let newer = request(
        &stack,
        "Pat Lee",
        "pat@example.com",
        "12 Elm St",
        "203.0.113.1",
    )
    .await;

    let listed = get(&stack, &key, "/api/v1/leads").await;
    assert_eq!(ids(&listed), [newer, lead.id.to_string()]);
    let again = get(&stack, &key, "/api/v1/leads").await;
    assert_eq!(ids(&again).len(), 2, "moved, not copied");
    assert!(
        stack
            .store()
            .lead(slug, &lead.id)
            .await
            .expect("read")
            .is_some()
    );

    let converted = post(&stack, &key, &format!("/api/v1/leads/{}/convert", lead.id)).await;
    assert_eq!(converted.status, 201, "{}", converted.body);
    let value: Value = converted.json();
    assert_eq!(value["job"]["title"], "Stump grinding");
}
