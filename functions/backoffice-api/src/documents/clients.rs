//! `POST clients`, `GET` and `PATCH clients/{client}`: a client with its contacts (each
//! with an email address that can sign in to the portal) and its properties.
//!
//! Every create and change keeps the email index right: each contact's address reaches the
//! client, and an address taken off the client stops reaching it. A client may carry
//! `external_id`, its id in the field-service app: the client's id is derived from it, so
//! sending the same client twice stores it once.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{Value, json};

use porchlight_shared::domain::{Client, ClientRef, Property};
use porchlight_shared::ids::{ClientId, DocumentId};
use porchlight_shared::mail::Mailbox;
use porchlight_shared::store::backoffice::{ApiNotes, ApiRecord, Contact};
use porchlight_shared::store::{Entity, keys};

use super::{
    Guard, IDEMPOTENCY_KEY, MAX_KEY, doc, expected_version, idempotency_key, insert, read_version,
    replay, route, stale,
};
use crate::input::Fields;
use crate::reply::{self, ApiError};
use crate::{Call, Route};

/// The client endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Create,
    Show,
    Change,
}

/// The client routes.
pub fn routes() -> Vec<Route> {
    let at = |e| super::Endpoint::Clients(e);
    vec![
        route(Method::POST, "clients", at(Endpoint::Create)),
        route(Method::GET, "clients/{client}", at(Endpoint::Show)),
        route(Method::PATCH, "clients/{client}", at(Endpoint::Change)),
    ]
}

/// Answers one call to a client endpoint.
pub async fn serve(endpoint: Endpoint, call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    match endpoint {
        Endpoint::Create => create(call).await,
        Endpoint::Show => show(call).await,
        Endpoint::Change => change(call).await,
    }
}

const MAX_CONTACTS: usize = 50;
const MAX_PROPERTIES: usize = 200;

/// A client as the API shows it.
#[derive(Serialize)]
struct ClientView<'a> {
    id: &'a ClientId,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<&'a str>,
    contacts: Vec<Contact>,
    phone: Option<&'a str>,
    billing_address: Option<&'a str>,
    properties: &'a [Property],
    version: u64,
}

fn answer(status: StatusCode, stored: &ApiRecord<Client>) -> Response<Body> {
    let client = &stored.record;
    let view = ClientView {
        id: &client.id,
        name: &client.name,
        external_id: stored.notes.external_id.as_deref(),
        contacts: contacts_of(stored),
        phone: client.phone.as_deref(),
        billing_address: client.billing_address.as_deref(),
        properties: &client.properties,
        version: stored.version,
    };
    reply::ok(status, &view)
}

/// The client's sign-in addresses with the contacts' names. The addresses on the record
/// rule: an import may have changed them without the API's notes.
fn contacts_of(stored: &ApiRecord<Client>) -> Vec<Contact> {
    let named = stored.notes.contacts.as_deref().unwrap_or_default();
    stored
        .record
        .emails
        .iter()
        .map(|email| Contact {
            name: named
                .iter()
                .find(|c| &c.email == email)
                .and_then(|c| c.name.clone()),
            email: email.clone(),
        })
        .collect()
}

async fn show(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let id = call.client_id()?;
    let key = keys::client(&call.company.slug, &id);
    let stored = call
        .ctx
        .store
        .api_record::<Client>(&key, Entity::Client)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(answer(StatusCode::OK, &stored))
}

async fn create(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let body = call.body();
    let mut fields = Fields::of(body)?;
    fields.only(&[
        "external_id",
        "name",
        "contacts",
        "phone",
        "billing_address",
        "properties",
    ]);
    let external_id = fields.optional_text("external_id", MAX_KEY);
    let mut client = Client {
        id: ClientId::random(),
        name: String::new(),
        emails: vec![],
        phone: None,
        billing_address: None,
        properties: vec![],
    };
    let mut contacts = vec![];
    read_client(&mut fields, &mut client, &mut contacts, true);
    fields.finish()?;

    // The natural key wins over the header: it keeps one client per field-service record
    // even when two different requests (with different keys) send it.
    let secret = &call.company.id_secret;
    let guard = match (&external_id, idempotency_key(call)?) {
        (Some(external), _) => {
            client.id = ClientId::derived(secret, &format!("api:client-external:{external}"));
            Some(Guard::new("external_id", body))
        }
        (None, Some(key)) => {
            client.id = ClientId::derived(secret, &format!("api:client:{key}"));
            Some(Guard::new(IDEMPOTENCY_KEY, body))
        }
        (None, None) => None,
    };
    let key = keys::client(&call.company.slug, &client.id);
    if let Some(stored) = replay::<Client>(call, guard.as_ref(), &key, Entity::Client).await? {
        // The first attempt may have stopped before the email index was written.
        reach_emails(call, &stored.record, &[]).await?;
        return Ok(answer(StatusCode::OK, &stored));
    }

    let notes = ApiNotes {
        external_id,
        contacts: Some(contacts),
        ..Guard::notes(guard.as_ref())
    };
    let (status, stored) =
        insert(call, guard.as_ref(), &key, Entity::Client, client, notes).await?;
    reach_emails(call, &stored.record, &[]).await?;
    Ok(answer(status, &stored))
}

async fn change(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let id = call.client_id()?;
    let mut fields = Fields::of(call.body())?;
    let key = keys::client(&call.company.slug, &id);
    let stored = call
        .ctx
        .store
        .api_record::<Client>(&key, Entity::Client)
        .await?
        .ok_or(ApiError::NotFound)?;

    fields.only(&[
        "version",
        "name",
        "contacts",
        "phone",
        "billing_address",
        "properties",
        "external_id",
    ]);
    if fields.has("external_id") {
        fields.problem(
            "external_id",
            "cannot change: the client's id was derived from it",
        );
    }
    let version = read_version(&mut fields);
    let mut client = stored.record.clone();
    let mut contacts = contacts_of(&stored);
    read_client(&mut fields, &mut client, &mut contacts, false);
    fields.finish()?;

    let expected = expected_version(version)?;
    if expected != stored.version {
        return Err(stale("client", Some(stored.version)));
    }
    let notes = ApiNotes {
        contacts: Some(contacts),
        ..stored.notes
    };
    let store = &call.ctx.store;
    match store
        .replace_api_record(&key, Entity::Client, &client, &notes, expected)
        .await?
    {
        Ok(version) => {
            reach_emails(call, &client, &stored.record.emails).await?;
            tracing::info!(slug = %call.company.slug, version, "client changed through the API");
            let changed = ApiRecord {
                record: client,
                version,
                notes,
            };
            Ok(answer(StatusCode::OK, &changed))
        }
        Err(conflict) => Err(stale("client", conflict.current)),
    }
}

/// Applies the fields present to `client`; on a create, `name` is required.
fn read_client(
    fields: &mut Fields<'_>,
    client: &mut Client,
    contacts: &mut Vec<Contact>,
    creating: bool,
) {
    let name = if creating {
        fields.required_text("name", 120)
    } else {
        fields.optional_text("name", 120)
    };
    if let Some(name) = name {
        client.name = name;
    }
    if let Some(read) = read_contacts(fields) {
        client.emails = read.iter().map(|c| c.email.clone()).collect();
        *contacts = read;
    }
    if fields.is_cleared("phone") {
        client.phone = None;
    } else if let Some(phone) = fields.optional_text("phone", 40) {
        client.phone = Some(phone);
    }
    if fields.is_cleared("billing_address") {
        client.billing_address = None;
    } else if let Some(address) = fields.optional_paragraphs("billing_address", 500) {
        client.billing_address = Some(address);
    }
    if let Some(properties) = read_properties(fields, &client.properties, creating) {
        client.properties = properties;
    }
}

/// The whole list of contacts, each with a distinct email address.
fn read_contacts(fields: &mut Fields<'_>) -> Option<Vec<Contact>> {
    let readers = fields.optional_objects("contacts", MAX_CONTACTS)?;
    let mut contacts: Vec<Contact> = Vec::with_capacity(readers.len());
    for mut contact in readers {
        contact.only(&["name", "email"]);
        let name = contact.optional_text("name", 120);
        let email = contact.required_text("email", 254);
        if let Some(email) = email {
            match Mailbox::parse(&email) {
                Ok(mailbox) if contacts.iter().any(|c| c.email == mailbox.address) => {
                    contact.problem("email", "appears in another contact of this client");
                }
                Ok(mailbox) => contacts.push(Contact {
                    name,
                    email: mailbox.address,
                }),
                Err(_) => contact.problem("email", "must be an email address"),
            }
        }
        fields.absorb(contact);
    }
    Some(contacts)
}

/// The whole list of properties. A property sent with its `id` keeps it (it must be one of
/// the client's); one sent without gets a new id.
fn read_properties(
    fields: &mut Fields<'_>,
    known: &[Property],
    creating: bool,
) -> Option<Vec<Property>> {
    let readers = fields.optional_objects("properties", MAX_PROPERTIES)?;
    let mut properties: Vec<Property> = Vec::with_capacity(readers.len());
    for mut property in readers {
        property.only(&["id", "name", "address"]);
        let id = match property.optional_text("id", 32) {
            None => Some(DocumentId::random()),
            Some(_) if creating => {
                property.problem("id", "is given by Porchlight when the client is created");
                None
            }
            Some(text) => {
                let id = DocumentId::parse(&text)
                    .ok()
                    .filter(|id| known.iter().any(|p| &p.id == id));
                if id.is_none() {
                    property.problem("id", "is not a property of this client");
                }
                if id
                    .as_ref()
                    .is_some_and(|id| properties.iter().any(|p| &p.id == id))
                {
                    property.problem("id", "appears twice");
                }
                id
            }
        };
        let name = property.required_text("name", 120);
        let address = property.optional_paragraphs("address", 500);
        if let (Some(id), Some(name)) = (id, name) {
            properties.push(Property { id, name, address });
        }
        fields.absorb(property);
    }
    Some(properties)
}

/// Points every address of `client` at it (with its current name) and takes it off the
/// addresses in `before` that it no longer has, so a removed contact can no longer ask
/// for a sign-in link to this client.
async fn reach_emails(call: &Call<'_>, client: &Client, before: &[String]) -> Result<(), ApiError> {
    let store = &call.ctx.store;
    let slug = &call.company.slug;
    let reference = ClientRef {
        id: client.id.clone(),
        name: client.name.clone(),
    };
    for email in &client.emails {
        store.add_email_client(slug, email, &reference).await?;
    }
    for email in before.iter().filter(|e| !client.emails.contains(e)) {
        store.remove_email_client(slug, email, &client.id).await?;
    }
    Ok(())
}

/// The OpenAPI description of the client routes.
pub fn openapi_paths() -> Value {
    let contact = json!({ "type": "object", "required": ["email"], "properties": {
        "name": { "type": "string" }, "email": { "type": "string", "format": "email" } } });
    let property = json!({ "type": "object", "required": ["name"], "properties": {
        "id": { "type": "string", "description": "Keeps an existing property (changes only)" },
        "name": { "type": "string" }, "address": { "type": "string" } } });
    let fields = json!({
        "name": { "type": "string", "maxLength": 120 },
        "contacts": { "type": "array", "items": contact,
            "description": "Every contact's email can sign in to this client's portal" },
        "phone": { "type": ["string", "null"] },
        "billing_address": { "type": ["string", "null"] },
        "properties": { "type": "array", "items": property }
    });
    let mut create = fields.clone();
    create["external_id"] = json!({ "type": "string", "maxLength": 200,
        "description": "The client's id in your app; the same id always names one client" });
    let mut change = fields;
    change["version"] = doc::version();
    json!({
        "/api/v1/clients": { "post": {
            "summary": "Create a client with its contacts and properties",
            "parameters": doc::create_params(&[], false),
            "requestBody": doc::json_body(json!({ "type": "object", "required": ["name"],
                "properties": create })),
            "responses": doc::created("client")
        } },
        "/api/v1/clients/{client}": {
            "get": {
                "summary": "A client",
                "parameters": doc::path_params(&["client"]),
                "responses": doc::shown("client")
            },
            "patch": {
                "summary": "Change a client; lists (contacts, properties) are replaced whole",
                "parameters": doc::path_params(&["client"]),
                "requestBody": doc::json_body(json!({ "type": "object",
                    "required": ["version"], "properties": change })),
                "responses": doc::changed("client")
            }
        }
    })
}
