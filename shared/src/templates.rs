//! Company email templates: the subject and body a company writes for each kind of email
//! (a proposal, an invoice), with `{{placeholder}}`s that Porchlight fills in when it sends.
//!
//! A template is parsed when the company saves it, so an unknown placeholder or a stray brace
//! is refused then, naming what is wrong, and never surfaces when mail goes out. Rendering
//! gives the text part as written and an HTML part in which the template's own text and every
//! value are escaped.

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use crate::domain::{Client, Company, Invoice, Proposal};
use crate::views::date;

/// Which email a template is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateKind {
    Proposal,
    Invoice,
}

impl TemplateKind {
    /// Every kind, in the order the API lists them.
    pub const ALL: [TemplateKind; 2] = [TemplateKind::Proposal, TemplateKind::Invoice];

    /// The name in URLs and stored keys: `proposal`, `invoice`.
    pub fn name(self) -> &'static str {
        match self {
            TemplateKind::Proposal => "proposal",
            TemplateKind::Invoice => "invoice",
        }
    }

    /// The kind a URL names; `None` for any other word.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The placeholders this kind of email can use.
    pub fn placeholders(self) -> Vec<Placeholder> {
        Placeholder::ALL
            .into_iter()
            .filter(|p| p.allowed_in(self))
            .collect()
    }
}

/// A value Porchlight fills into a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placeholder {
    ClientName,
    CompanyName,
    PortalLink,
    /// Proposals only: the link that accepts without signing in.
    AcceptLink,
    DocumentNumber,
    Total,
    /// Proposals only.
    ValidUntil,
    /// Invoices only.
    Balance,
    /// Invoices only.
    DueDate,
}

impl Placeholder {
    /// Every placeholder, in the order the API lists them.
    pub const ALL: [Placeholder; 9] = [
        Placeholder::ClientName,
        Placeholder::CompanyName,
        Placeholder::PortalLink,
        Placeholder::AcceptLink,
        Placeholder::DocumentNumber,
        Placeholder::Total,
        Placeholder::ValidUntil,
        Placeholder::Balance,
        Placeholder::DueDate,
    ];

    /// The name written between the braces.
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::ClientName => "client_name",
            Placeholder::CompanyName => "company_name",
            Placeholder::PortalLink => "portal_link",
            Placeholder::AcceptLink => "accept_link",
            Placeholder::DocumentNumber => "document_number",
            Placeholder::Total => "total",
            Placeholder::ValidUntil => "valid_until",
            Placeholder::Balance => "balance",
            Placeholder::DueDate => "due_date",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether emails of `kind` have a value for this placeholder.
    pub fn allowed_in(self, kind: TemplateKind) -> bool {
        match self {
            Placeholder::AcceptLink | Placeholder::ValidUntil => kind == TemplateKind::Proposal,
            Placeholder::Balance | Placeholder::DueDate => kind == TemplateKind::Invoice,
            _ => true,
        }
    }

    /// Links become anchors in the HTML part.
    fn is_link(self) -> bool {
        matches!(self, Placeholder::PortalLink | Placeholder::AcceptLink)
    }
}

/// Why a template was refused; each names the offending text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown placeholder `{{{{{name}}}}}`")]
    Unknown { name: String },
    #[error("`{{{{{name}}}}}` is only available in {only_in} emails")]
    NotForKind { name: String, only_in: &'static str },
    #[error("`{snippet}` opens a placeholder with `{{{{` that is never closed with `}}}}`")]
    Unclosed { snippet: String },
    #[error("`{snippet}` closes a placeholder with `}}}}` that was never opened")]
    Unopened { snippet: String },
    #[error("`{snippet}` is not a placeholder: write a name between `{{{{` and `}}}}`")]
    Malformed { snippet: String },
    #[error("`{snippet}` has single braces: write `{{{{{name}}}}}`")]
    SingleBraces { snippet: String, name: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(String),
    Value(Placeholder),
}

/// One parsed template text (a subject or a body), keeping the source as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateText {
    source: String,
    segments: Vec<Segment>,
}

/// At most this many characters of the source are quoted back in an error.
const SNIPPET: usize = 24;

fn snippet(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let mut cut: String = line.chars().take(SNIPPET).collect();
    if cut.len() < line.len() {
        cut.push('…');
    }
    cut
}

impl TemplateText {
    /// Parses `source` for a `kind` of email: `{{name}}` (spaces inside allowed) must name
    /// one of the kind's placeholders; any other use of double braces is refused.
    pub fn parse(kind: TemplateKind, source: &str) -> Result<Self, TemplateError> {
        let mut segments = Vec::new();
        let mut rest = source;
        loop {
            let open = rest.find("{{");
            let close = rest.find("}}");
            if let Some(close) = close.filter(|c| open.is_none_or(|o| *c < o)) {
                let start = rest[..close].rfind('\n').map_or(0, |n| n + 1);
                return Err(TemplateError::Unopened {
                    snippet: snippet(&rest[start..]),
                });
            }
            let Some(open) = open else {
                push_text(&mut segments, rest)?;
                break;
            };
            push_text(&mut segments, &rest[..open])?;
            let after = &rest[open + 2..];
            let Some(end) = after.find("}}") else {
                return Err(TemplateError::Unclosed {
                    snippet: snippet(&rest[open..]),
                });
            };
            let inner = &after[..end];
            let whole = &rest[open..open + 2 + end + 2];
            let trailing_brace = after[end + 2..].starts_with('}');
            if inner.contains(['{', '}', '\n']) || trailing_brace {
                let shown = if trailing_brace {
                    &rest[open..open + 2 + end + 3]
                } else {
                    whole
                };
                return Err(TemplateError::Malformed {
                    snippet: snippet(shown),
                });
            }
            segments.push(Segment::Value(placeholder(kind, inner.trim(), whole)?));
            rest = &after[end + 2..];
        }
        Ok(Self {
            source: source.to_owned(),
            segments,
        })
    }

    /// The text as the company wrote it.
    pub fn source(&self) -> &str {
        &self.source
    }

    fn render_text(&self, values: &Values) -> String {
        self.segments
            .iter()
            .map(|segment| match segment {
                Segment::Text(text) => text.as_str(),
                Segment::Value(p) => values.get(*p),
            })
            .collect()
    }

    fn render_html(&self, values: &Values) -> Markup {
        html! {
            @for segment in &self.segments {
                @match segment {
                    Segment::Text(text) => {
                        @for (i, line) in text.split('\n').enumerate() {
                            @if i > 0 { br; }
                            (line)
                        }
                    }
                    Segment::Value(p) if p.is_link() => {
                        a href=(values.get(*p)) style="color:#1d6b43" { (values.get(*p)) }
                    }
                    Segment::Value(p) => (values.get(*p)),
                }
            }
        }
    }
}

fn placeholder(kind: TemplateKind, name: &str, whole: &str) -> Result<Placeholder, TemplateError> {
    let is_name = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !is_name {
        return Err(TemplateError::Malformed {
            snippet: snippet(whole),
        });
    }
    let Some(found) = Placeholder::from_name(name) else {
        return Err(TemplateError::Unknown {
            name: name.to_owned(),
        });
    };
    if !found.allowed_in(kind) {
        let only_in = TemplateKind::ALL
            .into_iter()
            .find(|k| found.allowed_in(*k))
            .map_or("other", TemplateKind::name);
        return Err(TemplateError::NotForKind {
            name: name.to_owned(),
            only_in,
        });
    }
    Ok(found)
}

/// Literal text; `{client_name}` with single braces around a placeholder name is almost
/// certainly a mistake that would be mailed out verbatim, so it is refused too.
fn push_text(segments: &mut Vec<Segment>, text: &str) -> Result<(), TemplateError> {
    for (at, _) in text.match_indices('{') {
        let Some(len) = text[at + 1..].find('}') else {
            continue;
        };
        let name = text[at + 1..at + 1 + len].trim();
        if Placeholder::from_name(name).is_some() {
            return Err(TemplateError::SingleBraces {
                snippet: text[at..at + len + 2].to_owned(),
                name: name.to_owned(),
            });
        }
    }
    if !text.is_empty() {
        segments.push(Segment::Text(text.to_owned()));
    }
    Ok(())
}

/// The values of one email's placeholders.
#[derive(Debug, Clone, Default)]
pub struct Values {
    pairs: Vec<(Placeholder, String)>,
}

impl Values {
    /// Sets one placeholder's value, replacing any set before.
    pub fn with(mut self, placeholder: Placeholder, value: impl Into<String>) -> Self {
        self.pairs.retain(|(p, _)| *p != placeholder);
        self.pairs.push((placeholder, value.into()));
        self
    }

    /// A proposal email's values; dates and money read as the portal shows them.
    pub fn proposal(
        company: &Company,
        client: &Client,
        proposal: &Proposal,
        portal_link: &str,
        accept_link: &str,
    ) -> Self {
        Self::default()
            .with(Placeholder::ClientName, &client.name)
            .with(Placeholder::CompanyName, &company.name)
            .with(Placeholder::PortalLink, portal_link)
            .with(Placeholder::AcceptLink, accept_link)
            .with(Placeholder::DocumentNumber, &proposal.number)
            .with(Placeholder::Total, proposal.total.to_string())
            .with(Placeholder::ValidUntil, date(proposal.valid_until))
    }

    /// An invoice email's values; an invoice without a due date is due on receipt.
    pub fn invoice(
        company: &Company,
        client: &Client,
        invoice: &Invoice,
        portal_link: &str,
    ) -> Self {
        let due = invoice
            .due_date
            .map_or_else(|| "on receipt".to_owned(), date);
        Self::default()
            .with(Placeholder::ClientName, &client.name)
            .with(Placeholder::CompanyName, &company.name)
            .with(Placeholder::PortalLink, portal_link)
            .with(Placeholder::DocumentNumber, &invoice.number)
            .with(Placeholder::Total, invoice.total.to_string())
            .with(Placeholder::Balance, invoice.balance.to_string())
            .with(Placeholder::DueDate, due)
    }

    /// Parsing admits only placeholders of the template's kind and the builders above set
    /// all of a kind's, so a miss here is a mismatched kind; it renders as nothing.
    fn get(&self, placeholder: Placeholder) -> &str {
        self.pairs
            .iter()
            .find(|(p, _)| *p == placeholder)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// A company's subject and body for one kind of email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailTemplate {
    pub kind: TemplateKind,
    pub subject: TemplateText,
    pub body: TemplateText,
}

/// One email made from a template: the subject, the text part and the HTML part's content.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    /// The body as HTML, for [`crate::views::email::message`] to frame.
    pub html: Markup,
}

const DEFAULT_PROPOSAL_SUBJECT: &str = "Proposal #{{document_number}} from {{company_name}}";
const DEFAULT_PROPOSAL_BODY: &str = "Hello {{client_name}},

{{company_name}} has sent you proposal #{{document_number}} for {{total}}. \
It is valid until {{valid_until}}.

You can read it in your portal: {{portal_link}}

Or accept it right away, without signing in: {{accept_link}}

Thank you,
{{company_name}}
";
const DEFAULT_INVOICE_SUBJECT: &str = "Invoice #{{document_number}} from {{company_name}}";
const DEFAULT_INVOICE_BODY: &str = "Hello {{client_name}},

Invoice #{{document_number}} for {{total}} is ready. \
The balance of {{balance}} is due {{due_date}}.

You can see it in your portal: {{portal_link}}

Thank you,
{{company_name}}
";

impl EmailTemplate {
    /// What a company that saved no template of this kind sends.
    pub fn default_for(kind: TemplateKind) -> Self {
        let (subject, body) = match kind {
            TemplateKind::Proposal => (DEFAULT_PROPOSAL_SUBJECT, DEFAULT_PROPOSAL_BODY),
            TemplateKind::Invoice => (DEFAULT_INVOICE_SUBJECT, DEFAULT_INVOICE_BODY),
        };
        Self {
            kind,
            subject: TemplateText::parse(kind, subject).expect("the default subjects parse"),
            body: TemplateText::parse(kind, body).expect("the default bodies parse"),
        }
    }

    /// The subject and both parts of one email, with `values` filled in.
    pub fn render(&self, values: &Values) -> Rendered {
        Rendered {
            subject: self.subject.render_text(values),
            text: self.body.render_text(values),
            html: self.body.render_html(values),
        }
    }
}

/// A template as stored: its source text, parsed again when used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedTemplate {
    pub kind: TemplateKind,
    pub subject: String,
    pub body: String,
    pub updated_at: DateTime<Utc>,
}

impl SavedTemplate {
    /// What to store for `template`, saved at `now`.
    pub fn of(template: &EmailTemplate, now: DateTime<Utc>) -> Self {
        Self {
            kind: template.kind,
            subject: template.subject.source().to_owned(),
            body: template.body.source().to_owned(),
            updated_at: now,
        }
    }

    /// The stored text parsed; it passed the same parse when saved.
    pub fn template(&self) -> Result<EmailTemplate, TemplateError> {
        Ok(EmailTemplate {
            kind: self.kind,
            subject: TemplateText::parse(self.kind, &self.subject)?,
            body: TemplateText::parse(self.kind, &self.body)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal_text(source: &str) -> Result<TemplateText, TemplateError> {
        TemplateText::parse(TemplateKind::Proposal, source)
    }

    fn values() -> Values {
        Values::default()
            .with(Placeholder::ClientName, "Dana <Whitfield> & Co")
            .with(Placeholder::CompanyName, "Greenridge Lawn Co.")
            .with(
                Placeholder::PortalLink,
                "https://portal.example/p/greenridge",
            )
            .with(
                Placeholder::AcceptLink,
                "https://portal.example/p/greenridge/proposals/1/accept/t?x=1&y=2",
            )
            .with(Placeholder::DocumentNumber, "GR-Q-77")
            .with(Placeholder::Total, "$2,400.00")
            .with(Placeholder::ValidUntil, "Jun 30, 2026")
    }

    #[test]
    fn placeholders_are_substituted() {
        let text = proposal_text("Hi {{client_name}}, #{{ document_number }} is {{total}}.")
            .expect("valid");
        assert_eq!(
            text.render_text(&values()),
            "Hi Dana <Whitfield> & Co, #GR-Q-77 is $2,400.00."
        );
    }

    #[test]
    fn html_escapes_the_template_and_the_values() {
        let text =
            proposal_text("<b>Hi</b> {{client_name}},\nAccept: {{accept_link}}\n").expect("valid");
        assert_eq!(
            text.render_html(&values()).into_string(),
            "&lt;b&gt;Hi&lt;/b&gt; Dana &lt;Whitfield&gt; &amp; Co,<br>Accept: \
             <a href=\"https://portal.example/p/greenridge/proposals/1/accept/t?x=1&amp;y=2\" \
             style=\"color:#1d6b43\">https://portal.example/p/greenridge/proposals/1/accept/t?\
             x=1&amp;y=2</a><br>"
        );
    }

    #[test]
    fn refusals_name_the_offending_text() {
        let rows: [(&str, TemplateError); 9] = [
            (
                "Hi {{clientname}}",
                TemplateError::Unknown {
                    name: "clientname".into(),
                },
            ),
            (
                "Hi {{Client_Name}}",
                TemplateError::Unknown {
                    name: "Client_Name".into(),
                },
            ),
            (
                "Due {{due_date}}",
                TemplateError::NotForKind {
                    name: "due_date".into(),
                    only_in: "invoice",
                },
            ),
            (
                "Hi {{client_name",
                TemplateError::Unclosed {
                    snippet: "{{client_name".into(),
                },
            ),
            (
                "Hi client_name}} there",
                TemplateError::Unopened {
                    snippet: "Hi client_name}} there".into(),
                },
            ),
            (
                "Hi {{{client_name}}}",
                TemplateError::Malformed {
                    snippet: "{{{client_name}}}".into(),
                },
            ),
            (
                "Hi {{client_name}}}",
                TemplateError::Malformed {
                    snippet: "{{client_name}}}".into(),
                },
            ),
            (
                "Hi {{client name}}",
                TemplateError::Malformed {
                    snippet: "{{client name}}".into(),
                },
            ),
            (
                "Hi {client_name}",
                TemplateError::SingleBraces {
                    snippet: "{client_name}".into(),
                    name: "client_name".into(),
                },
            ),
        ];
        for (source, expected) in rows {
            assert_eq!(proposal_text(source), Err(expected), "{source:?}");
        }
        assert_eq!(
            TemplateText::parse(TemplateKind::Invoice, "{{accept_link}}")
                .expect_err("proposal only")
                .to_string(),
            "`{{accept_link}}` is only available in proposal emails"
        );
        assert_eq!(
            proposal_text("{{nope}}").expect_err("unknown").to_string(),
            "unknown placeholder `{{nope}}`"
        );
    }

    #[test]
    fn lone_braces_are_text() {
        let text = proposal_text("Sizes {small} and } or { alone").expect("valid");
        assert_eq!(
            text.render_text(&values()),
            "Sizes {small} and } or { alone"
        );
    }

    #[test]
    fn defaults_parse_and_use_every_value_of_their_kind() {
        for kind in TemplateKind::ALL {
            let template = EmailTemplate::default_for(kind);
            let mut used: Vec<Placeholder> = [&template.subject, &template.body]
                .iter()
                .flat_map(|t| t.segments.iter())
                .filter_map(|s| match s {
                    Segment::Value(p) => Some(*p),
                    Segment::Text(_) => None,
                })
                .collect();
            used.sort_by_key(|p| p.name());
            used.dedup();
            let mut all = kind.placeholders();
            all.sort_by_key(|p| p.name());
            assert_eq!(used, all, "{kind:?}");
        }
    }

    #[test]
    fn saved_templates_round_trip() {
        let template = EmailTemplate {
            kind: TemplateKind::Proposal,
            subject: proposal_text("Quote {{document_number}}").expect("valid"),
            body: proposal_text("Hello {{client_name}}").expect("valid"),
        };
        let saved = SavedTemplate::of(&template, Utc::now());
        assert_eq!(saved.template(), Ok(template));
    }
}
