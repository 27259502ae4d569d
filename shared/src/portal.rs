//! What one client's portal shows on a given day: the document rules applied to everything in
//! the client's partition. The portal pages, their JSON, and `porchlight portal show` all read
//! from here, so they can never disagree.

use chrono::NaiveDate;
use serde::Serialize;

use crate::domain::{
    Acceptance, Billing, ClientRef, Company, Invoice, Line, PaymentStatus, Proposal,
};
use crate::ids::{CompanySlug, DocumentId};
use crate::money::Money;
use crate::rules::{self, Decision, ProposalStatus};
use crate::store::ClientPortal;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompanySummary {
    pub slug: CompanySlug,
    pub name: String,
}

/// The portal home, in the shape of the JSON contract in DESIGN.md.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortalHome {
    pub company: CompanySummary,
    pub client: ClientRef,
    pub today: NaiveDate,
    pub proposals: Vec<ProposalSummary>,
    pub invoices: Vec<InvoiceSummary>,
    /// The open balance of the invoices shown.
    pub balance_due: Money,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProposalSummary {
    pub id: DocumentId,
    pub number: String,
    pub status: ProposalStatus,
    pub total: Money,
    pub created_on: NaiveDate,
    pub valid_until: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvoiceSummary {
    pub id: DocumentId,
    pub number: String,
    /// The invoice date, or for an undated invoice the day it appeared.
    pub invoice_date: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    pub status: PaymentStatus,
    pub total: Money,
    pub balance: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// The last day a paid invoice stays in the portal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shown_until: Option<NaiveDate>,
}

/// A document and the rule's decision about it on the day: shown or not, since and until
/// when, the reason, and the reason in plain words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExplainedDocument {
    pub id: DocumentId,
    pub number: String,
    pub kind: DocumentKind,
    pub explanation: &'static str,
    #[serde(flatten)]
    pub decision: Decision,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Proposal,
    Invoice,
}

/// A proposal with everything its detail page needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProposalDetail {
    #[serde(flatten)]
    pub summary: ProposalSummary,
    pub lines: Vec<Line>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_by: Option<String>,
    pub can_accept: bool,
}

/// An invoice with everything its detail page needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvoiceDetail {
    #[serde(flatten)]
    pub summary: InvoiceSummary,
    pub lines: Vec<Line>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
}

/// Applies the rules to one client's documents for `today`.
pub struct PortalDay<'a> {
    company: &'a Company,
    portal: &'a ClientPortal,
    today: NaiveDate,
}

impl<'a> PortalDay<'a> {
    pub fn new(company: &'a Company, portal: &'a ClientPortal, today: NaiveDate) -> Self {
        Self {
            company,
            portal,
            today,
        }
    }

    fn acceptance(&self, proposal: &Proposal) -> Option<&'a Acceptance> {
        self.portal.acceptances.get(&proposal.id)
    }

    pub fn proposal_decision(&self, proposal: &Proposal) -> Decision {
        let job = proposal
            .job_id
            .as_ref()
            .and_then(|id| self.portal.jobs.get(id));
        rules::proposal_decision(proposal, job, self.acceptance(proposal), self.today)
    }

    pub fn invoice_decision(&self, invoice: &Invoice) -> Decision {
        let job = invoice
            .job_id
            .as_ref()
            .and_then(|id| self.portal.jobs.get(id));
        let visit = match &invoice.billing {
            Billing::PerVisit { visit_id } => self.portal.visits.get(visit_id),
            Billing::OneOff | Billing::Fixed { .. } => None,
        };
        rules::invoice_decision(invoice, job, visit, &self.company.settings, self.today)
    }

    fn proposal_summary(&self, proposal: &Proposal) -> ProposalSummary {
        let acceptance = self.acceptance(proposal);
        ProposalSummary {
            id: proposal.id.clone(),
            number: proposal.number.clone(),
            status: rules::proposal_status(proposal, acceptance, self.today),
            total: proposal.total.clone(),
            created_on: proposal.created_on,
            valid_until: proposal.valid_until,
            property: proposal.property_name.clone(),
            accepted_on: acceptance.map(|a| a.accepted_on),
        }
    }

    fn invoice_summary(&self, invoice: &Invoice, decision: &Decision) -> InvoiceSummary {
        InvoiceSummary {
            id: invoice.id.clone(),
            number: invoice.number.clone(),
            invoice_date: invoice.invoice_date.or(decision.shown_since),
            due_date: invoice.due_date,
            status: invoice.payment_status(),
            total: invoice.total.clone(),
            balance: invoice.balance.clone(),
            property: invoice.property_name.clone(),
            shown_until: decision.shown_until,
        }
    }

    /// The portal home: shown proposals and invoices, newest first.
    pub fn home(&self) -> PortalHome {
        let mut proposals: Vec<ProposalSummary> = self
            .portal
            .proposals
            .iter()
            .filter(|p| self.proposal_decision(p).shown)
            .map(|p| self.proposal_summary(p))
            .collect();
        proposals.sort_by(|a, b| {
            b.created_on
                .cmp(&a.created_on)
                .then(b.number.cmp(&a.number))
        });

        let mut invoices: Vec<InvoiceSummary> = self
            .portal
            .invoices
            .iter()
            .filter_map(|invoice| {
                let decision = self.invoice_decision(invoice);
                decision
                    .shown
                    .then(|| self.invoice_summary(invoice, &decision))
            })
            .collect();
        invoices.sort_by(|a, b| {
            b.invoice_date
                .cmp(&a.invoice_date)
                .then(b.number.cmp(&a.number))
        });

        let due = invoices.iter().map(|i| i.balance.minor.max(0)).sum();
        PortalHome {
            company: CompanySummary {
                slug: self.company.slug.clone(),
                name: self.company.name.clone(),
            },
            client: ClientRef {
                id: self.portal.client.id.clone(),
                name: self.portal.client.name.clone(),
            },
            today: self.today,
            proposals,
            invoices,
            balance_due: Money::new(due, self.company.currency.clone()),
        }
    }

    /// Every document of the client with the rule's decision, by number: what staff ask
    /// "why is this shown?" about.
    pub fn documents(&self) -> Vec<ExplainedDocument> {
        let proposals = self.portal.proposals.iter().map(|p| {
            explained(
                &p.id,
                &p.number,
                DocumentKind::Proposal,
                self.proposal_decision(p),
            )
        });
        let invoices = self.portal.invoices.iter().map(|i| {
            explained(
                &i.id,
                &i.number,
                DocumentKind::Invoice,
                self.invoice_decision(i),
            )
        });
        let mut all: Vec<ExplainedDocument> = proposals.chain(invoices).collect();
        all.sort_by(|a, b| a.number.cmp(&b.number));
        all
    }

    /// Everything the home leaves out, with the rule's reason.
    pub fn hidden(&self) -> Vec<ExplainedDocument> {
        self.documents()
            .into_iter()
            .filter(|d| !d.decision.shown)
            .collect()
    }

    /// A shown proposal's detail; `None` for one not shown, exactly as for one not on record.
    pub fn proposal(&self, id: &DocumentId) -> Option<ProposalDetail> {
        let proposal = self.portal.proposals.iter().find(|p| &p.id == id)?;
        if !self.proposal_decision(proposal).shown {
            return None;
        }
        let summary = self.proposal_summary(proposal);
        let acceptance = self.acceptance(proposal);
        Some(ProposalDetail {
            can_accept: summary.status == ProposalStatus::Open,
            summary,
            lines: proposal.lines.clone(),
            message: proposal.message.clone(),
            accepted_by: acceptance.map(|a| a.accepted_by.clone()),
        })
    }

    /// A shown invoice's detail; `None` for one not shown, exactly as for one not on record.
    pub fn invoice(&self, id: &DocumentId) -> Option<InvoiceDetail> {
        let invoice = self.portal.invoices.iter().find(|i| &i.id == id)?;
        let decision = self.invoice_decision(invoice);
        if !decision.shown {
            return None;
        }
        Some(InvoiceDetail {
            summary: self.invoice_summary(invoice, &decision),
            lines: invoice.lines.clone(),
            memo: invoice.memo.clone(),
        })
    }

    /// The proposal record itself, when the client may act on it.
    pub fn proposal_record(&self, id: &DocumentId) -> Option<&'a Proposal> {
        self.portal
            .proposals
            .iter()
            .find(|p| &p.id == id && self.proposal_decision(p).shown)
    }
}

fn explained(
    id: &DocumentId,
    number: &str,
    kind: DocumentKind,
    decision: Decision,
) -> ExplainedDocument {
    ExplainedDocument {
        id: id.clone(),
        number: number.to_owned(),
        kind,
        explanation: decision.reason.explain(),
        decision,
    }
}
