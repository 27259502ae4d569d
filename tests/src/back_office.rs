//! The back office as tests drive it: one company's API key and the calls a field-service
//! app makes under `/api/v1/`, plus what the client's portal shows on a day.

use serde_json::{Value, json};

use porchlight_shared::domain::Company;

use crate::{Event, Reply, TestStack};

/// One company's view of the API: its key, and the calls a back office makes.
pub struct BackOffice<'a> {
    stack: &'a TestStack,
    pub key: String,
}

impl<'a> BackOffice<'a> {
    pub async fn of(stack: &'a TestStack, company: &Company) -> Self {
        let key = stack.api_key(company).await;
        Self { stack, key }
    }

    pub async fn send(&self, event: Event) -> Reply {
        self.stack.call(event.bearer(&self.key)).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Event::get(&format!("/api/v1/{path}"))).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        let event = Event::post(&format!("/api/v1/{path}")).body_json(&body);
        self.send(event).await
    }

    pub async fn post_keyed(&self, path: &str, key: &str, body: Value) -> Reply {
        let event = Event::post(&format!("/api/v1/{path}"))
            .header("idempotency-key", key)
            .body_json(&body);
        self.send(event).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        let event = Event::patch(&format!("/api/v1/{path}")).body_json(&body);
        self.send(event).await
    }

    /// Creates a record and returns its JSON, insisting on 201.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        let reply = self.post(path, body).await;
        assert_eq!(reply.status, 201, "POST {path}: {}", reply.body);
        reply.json()
    }

    /// Changes a record and returns its JSON, insisting on 200.
    pub async fn change(&self, path: &str, body: Value) -> Value {
        let reply = self.patch(path, body).await;
        assert_eq!(reply.status, 200, "PATCH {path}: {}", reply.body);
        reply.json()
    }

    /// What `GET clients/{client}/portal?on=DAY` says: the portal home and every document.
    pub async fn portal_on(&self, client: &str, day: &str) -> Value {
        let reply = self.get(&format!("clients/{client}/portal?on={day}")).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }

    pub async fn invoices_on(&self, client: &str, day: &str) -> Vec<String> {
        numbers(&self.portal_on(client, day).await["portal"]["invoices"])
    }

    pub async fn proposals_on(&self, client: &str, day: &str) -> Vec<String> {
        numbers(&self.portal_on(client, day).await["portal"]["proposals"])
    }

    /// The explanation of one document, by number, on a day.
    pub async fn why(&self, client: &str, day: &str, number: &str) -> Value {
        let portal = self.portal_on(client, day).await;
        portal["documents"]
            .as_array()
            .expect("documents")
            .iter()
            .find(|d| d["number"] == number)
            .cloned()
            .unwrap_or_else(|| panic!("{number} is not among the client's documents"))
    }
}

pub fn numbers(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|d| d["number"].as_str().expect("a number").to_owned())
        .collect()
}

pub fn id(record: &Value) -> String {
    record["id"].as_str().expect("an id").to_owned()
}

pub fn usd(minor: i64) -> Value {
    json!({ "minor": minor, "currency": "USD" })
}

pub fn lines(minor: i64) -> Value {
    json!([{ "description": "Crown thinning", "quantity": 1, "unit_price": usd(minor),
        "amount": usd(minor) }])
}
