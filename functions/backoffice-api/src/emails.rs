//! Proposal and invoice emails, and the templates companies edit for them.
//!
//! - `GET templates/{kind}`: the company's subject and body for `proposal` or `invoice`
//!   emails, or the defaults when it saved none.
//! - `PUT templates/{kind}`: saves them. Placeholders are checked here, at save time, so a
//!   typo is a 422 naming `subject` or `body` and never a broken email later.
//! - `POST clients/{client}/proposals/{proposal}/email`: one message to each of the client's
//!   contact addresses, each with its own accept link that works without signing in.
//! - `POST clients/{client}/invoices/{invoice}/email`: one message to each contact, with the
//!   portal link.
//!
//! Both emailings honour an `Idempotency-Key` header. The key is claimed under the company
//! with a conditional write before the first message goes out, so a retry (or a concurrent
//! duplicate) sends nothing: once the first attempt finished it gets that attempt's answer
//! again, 200, with `Idempotent-Replayed: true`; while it is still sending, or if it failed
//! part-way, 409. The key reused for another document or another body is refused (422).
//! A claim under which nothing went out is withdrawn, so the key can be tried again.

use chrono::{DateTime, Utc};
use lambda_http::http::{HeaderValue, Method, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{Value, json};

use porchlight_shared::domain::{Client, Company};
use porchlight_shared::ids::{DocumentId, SecretToken};
use porchlight_shared::mail::{Email, Mailbox};
use porchlight_shared::rules::{self, ProposalStatus};
use porchlight_shared::store::backoffice::request_fingerprint;
use porchlight_shared::store::{AcceptLink, ClientPortal, EmailSend, SendResult, end_of_day};
use porchlight_shared::templates::{
    EmailTemplate, Rendered, SavedTemplate, TemplateKind, TemplateText, Values,
};
use porchlight_shared::views;

use crate::documents::{IDEMPOTENCY_KEY, MAX_KEY, idempotency_key};
use crate::input::Fields;
use crate::reply::{self, ApiError};
use crate::{Call, Handler, Route};

/// The endpoints of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ShowTemplate,
    SaveTemplate,
    EmailProposal,
    EmailInvoice,
}

/// This module's routes, for the router and the OpenAPI check.
pub fn routes() -> Vec<Route> {
    let route = |method, path, endpoint| Route {
        method,
        path,
        handler: Handler::Emails(endpoint),
    };
    vec![
        route(Method::GET, "templates/{kind}", Endpoint::ShowTemplate),
        route(Method::PUT, "templates/{kind}", Endpoint::SaveTemplate),
        route(
            Method::POST,
            "clients/{client}/proposals/{proposal}/email",
            Endpoint::EmailProposal,
        ),
        route(
            Method::POST,
            "clients/{client}/invoices/{invoice}/email",
            Endpoint::EmailInvoice,
        ),
    ]
}

/// Answers one call of this module's endpoints.
pub async fn serve(endpoint: Endpoint, call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    match endpoint {
        Endpoint::ShowTemplate => show_template(call).await,
        Endpoint::SaveTemplate => save_template(call).await,
        Endpoint::EmailProposal => email_proposal(call).await,
        Endpoint::EmailInvoice => email_invoice(call).await,
    }
}

/// Longest subject accepted; mail clients cut long ones anyway.
const MAX_SUBJECT: usize = 200;
/// Longest body accepted, in characters.
const MAX_BODY: usize = 10_000;

fn kind_of(call: &Call<'_>) -> Result<TemplateKind, ApiError> {
    TemplateKind::parse(call.param("kind")).ok_or(ApiError::NotFound)
}

/// A template as the API shows it.
#[derive(Debug, Serialize)]
struct TemplateView {
    kind: &'static str,
    subject: String,
    body: String,
    /// True while the company has saved none: these are Porchlight's defaults.
    default: bool,
    /// 0 while the company has saved none; send it back with the next `PUT`.
    version: u64,
    placeholders: Vec<String>,
}

fn template_view(template: &EmailTemplate, version: u64) -> TemplateView {
    TemplateView {
        kind: template.kind.name(),
        subject: template.subject.source().to_owned(),
        body: template.body.source().to_owned(),
        default: version == 0,
        version,
        placeholders: placeholder_names(template.kind),
    }
}

fn placeholder_names(kind: TemplateKind) -> Vec<String> {
    kind.placeholders()
        .iter()
        .map(|p| format!("{{{{{}}}}}", p.name()))
        .collect()
}

/// The company's template of `kind` and its version, or the default at version 0.
async fn current_template(
    call: &Call<'_>,
    kind: TemplateKind,
) -> Result<(EmailTemplate, u64), ApiError> {
    let stored = call
        .ctx
        .store
        .email_template(&call.company.slug, kind)
        .await?;
    let Some(stored) = stored else {
        return Ok((EmailTemplate::default_for(kind), 0));
    };
    match stored.record.template() {
        Ok(template) => Ok((template, stored.version)),
        Err(error) => {
            // It passed this parse when saved; only a placeholder withdrawn since can fail.
            // Mail still goes out, in the default wording, rather than not at all.
            tracing::error!(slug = %call.company.slug, kind = kind.name(), error = %error,
                "stored email template no longer parses; using the default");
            Ok((EmailTemplate::default_for(kind), stored.version))
        }
    }
}

async fn show_template(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let kind = kind_of(call)?;
    let (template, version) = current_template(call, kind).await?;
    Ok(reply::ok(
        StatusCode::OK,
        &template_view(&template, version),
    ))
}

/// Parses one part of a template, naming the field and the offending placeholder.
fn parse_part(
    fields: &mut Fields<'_>,
    field: &str,
    kind: TemplateKind,
    text: Option<String>,
) -> Option<TemplateText> {
    match TemplateText::parse(kind, &text?) {
        Ok(parsed) => Some(parsed),
        Err(error) => {
            let reason = format!(
                "{error}; {} emails can use {}",
                kind.name(),
                placeholder_names(kind).join(", ")
            );
            fields.problem(field, &reason);
            None
        }
    }
}

async fn save_template(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let kind = kind_of(call)?;
    let body = with_unix_line_ends(call.body());
    let mut fields = Fields::of(&body)?;
    fields.only(&["subject", "body", "version"]);
    let subject = fields.required_text("subject", MAX_SUBJECT);
    let subject = parse_part(&mut fields, "subject", kind, subject);
    let body = if fields.has("body") {
        fields.optional_paragraphs("body", MAX_BODY)
    } else {
        fields.problem("body", "is required");
        None
    };
    let body = parse_part(&mut fields, "body", kind, body);
    let version = fields.value("version").map(|v| v.as_u64());
    if let Some(None) = version {
        fields.problem(
            "version",
            "must be the version you read (0 while none is saved)",
        );
    }
    fields.finish()?;
    let subject = subject.expect("finish() refused a missing or unparsed subject");
    let body = body.expect("finish() refused a missing or unparsed body");

    let current = call
        .ctx
        .store
        .email_template(&call.company.slug, kind)
        .await?
        .map_or(0, |stored| stored.version);
    if let Some(Some(expected)) = version
        && expected != current
    {
        return Err(stale(current));
    }
    let template = EmailTemplate {
        kind,
        subject,
        body,
    };
    let saved = SavedTemplate::of(&template, call.now);
    match call
        .ctx
        .store
        .save_email_template(&call.company.slug, &saved, current)
        .await?
    {
        Ok(next) => {
            tracing::info!(slug = %call.company.slug, kind = kind.name(), version = next,
                "email template saved");
            Ok(reply::ok(StatusCode::OK, &template_view(&template, next)))
        }
        Err(conflict) => Err(stale(conflict.current.unwrap_or(current + 1))),
    }
}

/// The body with CRLF line ends in `body` made LF, so text from Windows is not refused for
/// its carriage returns.
fn with_unix_line_ends(body: &serde_json::Value) -> serde_json::Value {
    let mut body = body.clone();
    if let Some(text) = body.get_mut("body")
        && let Some(normalised) = text.as_str().map(|t| t.replace("\r\n", "\n"))
    {
        *text = normalised.into();
    }
    body
}

fn stale(current: u64) -> ApiError {
    ApiError::Conflict(format!(
        "the template changed since you read it (now version {current}); read it again"
    ))
}

/// The client's partition; 404 for a client of no company but this one.
async fn client_portal(call: &Call<'_>) -> Result<ClientPortal, ApiError> {
    let client = call.client_id()?;
    call.ctx
        .store
        .client_portal(&call.company.slug, &client)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The client's contact addresses that can take mail, each once.
fn recipients(client: &Client) -> Result<Vec<Mailbox>, ApiError> {
    let mut found: Vec<Mailbox> = Vec::new();
    for email in &client.emails {
        match Mailbox::parse(email) {
            Ok(mailbox) if !found.contains(&mailbox) => found.push(mailbox),
            Ok(_) => {}
            Err(_) => tracing::warn!(client = %client.id, "a contact address does not parse"),
        }
    }
    if found.is_empty() {
        return Err(ApiError::Conflict(
            "the client has no contact email address to send to".into(),
        ));
    }
    Ok(found)
}

/// The configured sender, under the company's name.
fn sender(call: &Call<'_>) -> Result<Mailbox, ApiError> {
    Mailbox::parse_with_name(&call.ctx.config.mail_from)
        .map(|sender| sender.named(&call.company.name))
        .map_err(|_| {
            tracing::error!("PORCHLIGHT_MAIL_FROM is not an address; no email sent");
            ApiError::Conflict("Porchlight's sender address is not set up; nothing was sent".into())
        })
}

fn email_of(company: &Company, from: &Mailbox, to: Mailbox, rendered: Rendered) -> Email {
    Email {
        from: from.clone(),
        to: vec![to],
        reply_to: Mailbox::parse(&company.notify_email).ok(),
        subject: rendered.subject,
        unsubscribe: None,
        html: Some(views::email::message(&company.name, rendered.html)),
        body: rendered.text,
    }
}

fn portal_link(call: &Call<'_>) -> String {
    format!("{}/p/{}", call.ctx.config.base_url, call.company.slug)
}

/// One message sent.
#[derive(Debug, Serialize)]
struct Sent {
    to: String,
    message_id: String,
}

async fn email_proposal(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let keyed = Keyed::of(call, "proposal")?;
    if let Some(answer) = earlier_answer(call, keyed.as_ref()).await? {
        return Ok(answer);
    }
    let portal = client_portal(call).await?;
    let id = call.document_id("proposal")?;
    let proposal = portal
        .proposals
        .iter()
        .find(|p| p.id == id)
        .ok_or(ApiError::NotFound)?;
    let today = call.company.today(call.now);
    let acceptance = portal.acceptances.get(&id);
    let refusal = match rules::proposal_status(proposal, acceptance, today) {
        ProposalStatus::Open => None,
        ProposalStatus::Accepted => Some("the proposal is already accepted".to_owned()),
        ProposalStatus::Declined => Some("the proposal was declined".to_owned()),
        ProposalStatus::Expired => Some(format!(
            "the proposal expired after {}",
            proposal.valid_until
        )),
    };
    if let Some(refusal) = refusal {
        return Err(ApiError::Conflict(format!("{refusal}; nothing was sent")));
    }
    let to = recipients(&portal.client)?;
    let from = sender(call)?;

    let (template, _) = current_template(call, TemplateKind::Proposal).await?;
    let expires_at = end_of_day(&call.company, proposal.valid_until);
    let portal_link = portal_link(call);
    let mut sending = match Sending::start(call, keyed.as_ref()).await? {
        Start::Go(sending) => sending,
        Start::Answered(answer) => return Ok(answer),
    };
    for mailbox in to {
        // A link per contact, so the acceptance records which address it came through.
        let accept_link = match issue_accept_link(call, &portal, &id, &mailbox, expires_at).await {
            Ok(link) => link,
            Err(error) => return Err(sending.stop(call, error).await),
        };
        let values = Values::proposal(
            &call.company,
            &portal.client,
            proposal,
            &portal_link,
            &accept_link,
        );
        let email = email_of(&call.company, &from, mailbox, template.render(&values));
        sending.send(call, email).await?;
    }
    tracing::info!(slug = %call.company.slug, proposal = %id, messages = sending.sent.len(),
        "proposal emailed");
    let answer = json!({
        "proposal": id, "number": proposal.number, "sent": sending.sent,
        "accept_links_expire_at": expires_at,
        "valid_until": proposal.valid_until,
    });
    Ok(sending.finish(call, answer).await)
}

/// Stores a fresh accept link for one contact and returns its URL.
async fn issue_accept_link(
    call: &Call<'_>,
    portal: &ClientPortal,
    proposal: &DocumentId,
    mailbox: &Mailbox,
    expires_at: DateTime<Utc>,
) -> Result<String, ApiError> {
    let token = SecretToken::generate();
    let link = AcceptLink {
        client_id: portal.client.id.clone(),
        proposal_id: proposal.clone(),
        email: mailbox.address.clone(),
        issued_at: call.now,
        expires_at,
    };
    call.ctx
        .store
        .put_accept_link(&call.company.slug, &token.hash(), &link)
        .await?;
    Ok(format!(
        "{}/p/{}/proposals/{}/accept/{}",
        call.ctx.config.base_url,
        call.company.slug,
        proposal,
        token.expose()
    ))
}

/// An `Idempotency-Key` sent with an emailing, and what a retry must match: the document
/// it was for and the body that came with it.
struct Keyed<'c> {
    key: &'c str,
    target: String,
    fingerprint: String,
}

impl<'c> Keyed<'c> {
    /// The call's key, if it sent one; `document` names the path parameter of the document.
    fn of(call: &'c Call<'_>, document: &str) -> Result<Option<Self>, ApiError> {
        let Some(key) = idempotency_key(call)? else {
            return Ok(None);
        };
        let target = format!(
            "clients/{}/{document}s/{}/email",
            call.param("client"),
            call.param(document)
        );
        Ok(Some(Self {
            key,
            target,
            fingerprint: request_fingerprint(call.body()),
        }))
    }
}

/// What an earlier request with the same key means for this one: its answer again, or a
/// refusal. `None` while the key is unused. Asked before the document is read, so a retry
/// is answered as the first attempt was even if the proposal was accepted since.
async fn earlier_answer(
    call: &Call<'_>,
    keyed: Option<&Keyed<'_>>,
) -> Result<Option<Response<Body>>, ApiError> {
    let Some(keyed) = keyed else {
        return Ok(None);
    };
    match call
        .ctx
        .store
        .email_send(&call.company.slug, keyed.key)
        .await?
    {
        Some(earlier) => answer_of(earlier, keyed).map(Some),
        None => Ok(None),
    }
}

fn answer_of(earlier: EmailSend, keyed: &Keyed<'_>) -> Result<Response<Body>, ApiError> {
    if earlier.target != keyed.target || earlier.request_fingerprint != keyed.fingerprint {
        return Err(ApiError::invalid(
            IDEMPOTENCY_KEY,
            "was already used for a different email or body; use a new key for a new email",
        ));
    }
    if let Some(result) = earlier.result {
        tracing::info!(request = %keyed.target, recipients = result.recipients,
            "email retry answered from the store; nothing sent");
        // The stored text is the first answer's body exactly; the headers are built anew.
        let mut answer = reply::ok(StatusCode::OK, &Value::Null);
        *answer.body_mut() = Body::Text(result.response);
        answer
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        return Ok(answer);
    }
    Err(ApiError::Conflict(match earlier.failed_after {
        Some(sent) => format!(
            "an earlier request with this Idempotency-Key failed after sending {sent} \
             message(s); nothing was sent now; use a new key to send the email again"
        ),
        None => format!(
            "an earlier request with this Idempotency-Key has been sending since {}; \
             nothing was sent now; send this request again shortly for its answer",
            earlier
                .claimed_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    }))
}

/// The claim an emailing holds on its `Idempotency-Key` while it sends.
struct Claim<'c> {
    key: &'c str,
    attempt: String,
}

/// An emailing under way: its claim (with a key) and the messages sent so far.
struct Sending<'c> {
    claim: Option<Claim<'c>>,
    sent: Vec<Sent>,
}

enum Start<'c> {
    Go(Sending<'c>),
    /// Another attempt with the same key claimed it first: its answer, for this one.
    Answered(Response<Body>),
}

impl<'c> Sending<'c> {
    /// Claims the key, if there is one, before anything is sent.
    async fn start(call: &Call<'_>, keyed: Option<&Keyed<'c>>) -> Result<Start<'c>, ApiError> {
        let Some(keyed) = keyed else {
            return Ok(Start::Go(Self {
                claim: None,
                sent: Vec::new(),
            }));
        };
        let attempt = DocumentId::random().to_string();
        let record = EmailSend {
            target: keyed.target.clone(),
            request_fingerprint: keyed.fingerprint.clone(),
            attempt: attempt.clone(),
            claimed_at: call.now,
            result: None,
            failed_after: None,
        };
        let store = &call.ctx.store;
        if store
            .claim_email_send(&call.company.slug, keyed.key, &record)
            .await?
        {
            let claim = Claim {
                key: keyed.key,
                attempt,
            };
            return Ok(Start::Go(Self {
                claim: Some(claim),
                sent: Vec::new(),
            }));
        }
        match store.email_send(&call.company.slug, keyed.key).await? {
            Some(earlier) => answer_of(earlier, keyed).map(Start::Answered),
            // Claimed and withdrawn again in the meantime: nothing was sent under it.
            None => Err(ApiError::Conflict(
                "another request with this Idempotency-Key just stopped without sending; \
                 send this request again"
                    .into(),
            )),
        }
    }

    /// Sends one message; a failure settles the claim before it is returned.
    async fn send(&mut self, call: &Call<'_>, email: Email) -> Result<(), ApiError> {
        let to = email.to.iter().map(|m| m.address.clone()).collect();
        match call.ctx.mailer.send(&email, call.now).await {
            Ok(message_id) => {
                self.sent.push(Sent { to, message_id });
                Ok(())
            }
            Err(error) => {
                let error = ApiError::from(porchlight_shared::http::Failure::from(error));
                Err(self.stop(call, error).await)
            }
        }
    }

    /// Settles the claim of an emailing that cannot go on, and gives back why: withdrawn if
    /// nothing went out, so the same key can try again; marked failed otherwise, so a retry
    /// does not mail the same people twice.
    async fn stop(&mut self, call: &Call<'_>, error: ApiError) -> ApiError {
        let Some(claim) = self.claim.take() else {
            return error;
        };
        let store = &call.ctx.store;
        let slug = &call.company.slug;
        let settled = if self.sent.is_empty() {
            store
                .release_email_send(slug, claim.key, &claim.attempt)
                .await
        } else {
            let sent = u32::try_from(self.sent.len()).unwrap_or(u32::MAX);
            store
                .fail_email_send(slug, claim.key, &claim.attempt, sent)
                .await
        };
        if let Err(store_error) = settled {
            tracing::error!(slug = %slug, error = %store_error, sent = self.sent.len(),
                "an interrupted email's idempotency claim was not settled");
        }
        error
    }

    /// Records the answer under the claim, then gives it. The messages are out by now, so
    /// a failure to record is logged rather than answered: an error would invite a retry,
    /// and that retry then gets 409 instead of a second copy of every message.
    async fn finish(self, call: &Call<'_>, answer: Value) -> Response<Body> {
        if let Some(claim) = &self.claim {
            let result = SendResult {
                recipients: u32::try_from(self.sent.len()).unwrap_or(u32::MAX),
                sent_at: call.now,
                response: answer.to_string(),
            };
            let recorded = call
                .ctx
                .store
                .finish_email_send(&call.company.slug, claim.key, &claim.attempt, &result)
                .await;
            if let Err(error) = recorded {
                tracing::error!(slug = %call.company.slug, error = %error,
                    "a sent email's answer was not recorded under its idempotency key");
            }
        }
        reply::ok(StatusCode::OK, &answer)
    }
}

async fn email_invoice(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let keyed = Keyed::of(call, "invoice")?;
    if let Some(answer) = earlier_answer(call, keyed.as_ref()).await? {
        return Ok(answer);
    }
    let portal = client_portal(call).await?;
    let id = call.document_id("invoice")?;
    let invoice = portal
        .invoices
        .iter()
        .find(|i| i.id == id)
        .ok_or(ApiError::NotFound)?;
    if invoice.voided {
        return Err(ApiError::Conflict(
            "the invoice is voided; nothing was sent".into(),
        ));
    }
    let to = recipients(&portal.client)?;
    let from = sender(call)?;

    let (template, _) = current_template(call, TemplateKind::Invoice).await?;
    let values = Values::invoice(&call.company, &portal.client, invoice, &portal_link(call));
    let rendered = template.render(&values);
    let mut sending = match Sending::start(call, keyed.as_ref()).await? {
        Start::Go(sending) => sending,
        Start::Answered(answer) => return Ok(answer),
    };
    for mailbox in to {
        let email = email_of(&call.company, &from, mailbox, rendered.clone());
        sending.send(call, email).await?;
    }
    tracing::info!(slug = %call.company.slug, invoice = %id, messages = sending.sent.len(),
        "invoice emailed");
    let answer = json!({ "invoice": id, "number": invoice.number, "sent": sending.sent,
        "due_date": invoice.due_date });
    Ok(sending.finish(call, answer).await)
}

/// The OpenAPI description of these endpoints.
pub fn openapi_paths() -> serde_json::Value {
    let kind = json!({ "name": "kind", "in": "path", "required": true,
        "schema": { "type": "string", "enum": ["proposal", "invoice"] } });
    let path_id = |name: &str| {
        let schema = json!({ "type": "string" });
        json!({ "name": name, "in": "path", "required": true, "schema": schema })
    };
    let template = json!({
        "type": "object",
        "required": ["subject", "body"],
        "properties": {
            "kind": { "type": "string", "readOnly": true },
            "subject": { "type": "string", "maxLength": MAX_SUBJECT,
                "example": "Proposal #{{document_number}} from {{company_name}}" },
            "body": { "type": "string", "maxLength": MAX_BODY },
            "default": { "type": "boolean", "readOnly": true },
            "version": { "type": "integer",
                "description": "The version read; 0 while none is saved. Optional on PUT." },
            "placeholders": { "type": "array", "readOnly": true,
                "items": { "type": "string" } }
        }
    });
    let sent = json!({ "type": "array", "items": { "type": "object", "properties": {
        "to": { "type": "string" }, "message_id": { "type": "string" } } } });
    let send_params = |document: &str| {
        json!([path_id("client"), path_id(document), {
            "name": IDEMPOTENCY_KEY, "in": "header", "required": false,
            "description": "Makes the email safe to retry. The key is recorded before the \
                first message goes out: the same key for the same document and body sends \
                nothing again and answers the first attempt's result (200, with \
                `Idempotent-Replayed: true`), or 409 while that attempt is still sending or \
                if it failed after sending some messages; with another document or body it \
                is refused (422). Without the header every call sends.",
            "schema": { "type": "string", "maxLength": MAX_KEY } }])
    };
    let replayed = json!({ "Idempotent-Replayed": { "description": "`true` when the answer \
        is an earlier request's, given again because it carried the same Idempotency-Key; \
        nothing was sent", "schema": { "type": "string", "enum": ["true"] } } });
    let refused_key = json!({ "description": "The Idempotency-Key is longer than 200 \
        characters or has control characters, or it was already used for another document \
        or another body; named in `invalid_fields`; nothing was sent" });
    json!({
        "/api/v1/templates/{kind}": {
            "get": {
                "summary": "The subject and body of proposal or invoice emails",
                "description": "The company's own, or the defaults while it saved none. \
                    Proposals can use {{client_name}}, {{company_name}}, {{portal_link}}, \
                    {{accept_link}}, {{document_number}}, {{total}}, {{valid_until}}; \
                    invoices {{client_name}}, {{company_name}}, {{portal_link}}, \
                    {{document_number}}, {{total}}, {{balance}}, {{due_date}}.",
                "parameters": [kind],
                "responses": {
                    "200": { "description": "The template",
                        "content": { "application/json": { "schema": template } } },
                    "404": { "description": "No such kind of email" }
                }
            },
            "put": {
                "summary": "Save the subject and body of proposal or invoice emails",
                "parameters": [kind],
                "requestBody": { "required": true,
                    "content": { "application/json": { "schema": template } } },
                "responses": {
                    "200": { "description": "The saved template" },
                    "409": { "description": "The template changed since the version sent" },
                    "422": { "description": "`subject` or `body` is missing, too long, or \
                        uses an unknown placeholder or malformed braces, each named" }
                }
            }
        },
        "/api/v1/clients/{client}/proposals/{proposal}/email": {
            "post": {
                "summary": "Email the proposal to every contact of the client",
                "description": "Each message carries the portal link and its own accept \
                    link, which accepts without signing in until the end of the proposal's \
                    valid-until day in the company's time zone.",
                "parameters": send_params("proposal"),
                "responses": {
                    "200": { "description": "One message per contact address",
                        "headers": replayed,
                        "content": { "application/json": { "schema": { "type": "object",
                            "properties": { "proposal": { "type": "string" },
                                "number": { "type": "string" }, "sent": sent,
                                "accept_links_expire_at":
                                    { "type": "string", "format": "date-time" },
                                "valid_until": { "type": "string", "format": "date" } } } } } },
                    "404": { "description": "No such proposal of this client in this company" },
                    "409": { "description": "The proposal is accepted, declined or expired, or \
                        the client has no contact address, or an earlier request with the same \
                        Idempotency-Key is still sending or failed part-way; nothing was sent" },
                    "422": refused_key
                }
            }
        },
        "/api/v1/clients/{client}/invoices/{invoice}/email": {
            "post": {
                "summary": "Email the invoice to every contact of the client",
                "parameters": send_params("invoice"),
                "responses": {
                    "200": { "description": "One message per contact address",
                        "headers": replayed,
                        "content": { "application/json": { "schema": { "type": "object",
                            "properties": { "invoice": { "type": "string" },
                                "number": { "type": "string" }, "sent": sent,
                                "due_date": { "type": ["string", "null"],
                                    "format": "date" } } } } } },
                    "404": { "description": "No such invoice of this client in this company" },
                    "409": { "description": "The invoice is voided, or the client has no \
                        contact address, or an earlier request with the same Idempotency-Key \
                        is still sending or failed part-way; nothing was sent" },
                    "422": refused_key
                }
            }
        }
    })
}
