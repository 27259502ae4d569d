//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`, assembled from each endpoint
//! module's own description, so a route and its documentation live side by side.

use serde_json::{Value, json};

use crate::{documents, emails, leads, payments_feed, settings, why};

pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    paths.insert(
        "/api/v1/openapi.json".into(),
        json!({ "get": {
            "summary": "This document",
            "security": [],
            "responses": { "200": { "description": "The OpenAPI document" } }
        } }),
    );
    let parts = [
        settings::openapi_paths(),
        why::openapi_paths(),
        documents::openapi_paths(),
        emails::openapi_paths(),
        leads::openapi_paths(),
        payments_feed::openapi_paths(),
    ];
    for part in parts {
        if let Value::Object(entries) = part {
            for (path, operations) in entries {
                merge(&mut paths, path, operations);
            }
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Porchlight back-office API",
            "version": "1",
            "description": "How a field-service app tells Porchlight about its clients' work. \
                Every call acts inside the company its API key belongs to."
        },
        "servers": [{ "url": "/" }],
        "security": [{ "apiKey": [] }],
        "components": {
            "securitySchemes": {
                "apiKey": { "type": "http", "scheme": "bearer",
                    "description": "A key from `porchlight api-key create`" }
            },
            "schemas": {
                "Money": { "type": "object", "required": ["minor", "currency"],
                    "properties": { "minor": { "type": "integer" },
                        "currency": { "type": "string" } } },
                "Problem": { "type": "object", "properties": {
                    "type": { "type": "string" }, "title": { "type": "string" },
                    "status": { "type": "integer" }, "detail": { "type": "string" },
                    "invalid_fields": { "type": "array", "items": { "type": "object",
                        "properties": { "name": { "type": "string" },
                            "reason": { "type": "string" } } } } } }
            }
        },
        "paths": paths,
    })
}

/// Two modules may describe different methods of one path.
fn merge(paths: &mut serde_json::Map<String, Value>, path: String, operations: Value) {
    match (paths.get_mut(&path), operations) {
        (Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
        (_, operations) => {
            paths.insert(path, operations);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every route is documented, and every documented operation is a route.
    #[test]
    fn the_document_matches_the_routes() {
        let routes: BTreeSet<(String, String)> = crate::routes()
            .iter()
            .map(|r| {
                (
                    format!("/api/v1/{}", r.path),
                    r.method.as_str().to_lowercase(),
                )
            })
            .collect();
        let document = document();
        let mut documented = BTreeSet::new();
        for (path, operations) in document["paths"].as_object().expect("paths") {
            for method in operations.as_object().expect("operations").keys() {
                documented.insert((path.clone(), method.clone()));
            }
        }
        assert_eq!(routes, documented);
    }
}
