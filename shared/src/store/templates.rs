//! Storage of company email templates: one versioned item per kind of email, in the
//! company's own partition beside its profile.

use super::{Entity, Item, Stale, Store, StoreError, Versioned, keys};
use crate::ids::CompanySlug;
use crate::templates::{SavedTemplate, TemplateKind};

impl Store {
    /// The template the company saved for `kind`, if any: one GetItem.
    pub async fn email_template(
        &self,
        slug: &CompanySlug,
        kind: TemplateKind,
    ) -> Result<Option<Versioned<SavedTemplate>>, StoreError> {
        self.get_versioned(&keys::email_template(slug, kind), Entity::EmailTemplate)
            .await
    }

    /// Saves a template if the stored one is still at `expected` (0 when none was stored),
    /// and returns the new version; a concurrent save in between makes this one stale.
    pub async fn save_email_template(
        &self,
        slug: &CompanySlug,
        template: &SavedTemplate,
        expected: u64,
    ) -> Result<Result<u64, Stale>, StoreError> {
        let key = keys::email_template(slug, template.kind);
        if expected > 0 {
            return self
                .replace_versioned(&key, Entity::EmailTemplate, template, expected, Item::new())
                .await;
        }
        let created = self
            .create_versioned(&key, Entity::EmailTemplate, template, Item::new())
            .await?;
        Ok(if created {
            Ok(1)
        } else {
            Err(Stale { current: None })
        })
    }
}
