//! What `template.yaml` declares, read from the file itself.
//!
//! The local stack mounts the functions under the routes the HTTP API has, and creates
//! the table the stack deploys; both come from here so that the template stays the one
//! place they are written down. The template is embedded at compile time and checked by
//! the unit tests below, so the accessors that read it do not return errors.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_yaml::{Mapping, Value};

/// The SAM template, as it is in the repository.
pub const TEMPLATE_YAML: &str = include_str!("../../template.yaml");

/// Logical id of the one DynamoDB table.
pub const TABLE_LOGICAL_ID: &str = "PorchlightTable";

const FUNCTION_TYPE: &str = "AWS::Serverless::Function";
const TABLE_TYPE: &str = "AWS::DynamoDB::Table";

/// The path of the route that catches what no other route matches.
pub const DEFAULT_ROUTE: &str = "$default";

/// One route of the HTTP API and the function behind it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TemplateRoute {
    /// Logical id of the function, e.g. `PortalFunction`.
    pub function: String,
    /// HTTP method in upper case, e.g. `GET`.
    pub method: String,
    /// Path with API Gateway parameters, e.g. `/p/{slug}/login/{token}`.
    pub path: String,
}

/// The table as `template.yaml` declares it: what CreateTable needs, and what
/// DescribeTable must show afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    /// Logical id in the template.
    pub logical_id: String,
    pub attribute_definitions: Vec<AttributeDefinition>,
    /// Partition key first, then the sort key if there is one.
    pub key_schema: Vec<KeySchemaElement>,
    pub global_secondary_indexes: Vec<GlobalSecondaryIndex>,
    pub billing_mode: BillingMode,
    /// Attribute holding the expiry time, when TTL is enabled.
    pub ttl_attribute: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDefinition {
    pub attribute_name: String,
    pub attribute_type: AttributeType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum AttributeType {
    S,
    N,
    B,
}

impl AttributeType {
    /// The name DynamoDB uses on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S => "S",
            Self::N => "N",
            Self::B => "B",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySchemaElement {
    pub attribute_name: String,
    pub key_type: KeyType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum KeyType {
    Hash,
    Range,
}

impl KeyType {
    /// The name DynamoDB uses on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hash => "HASH",
            Self::Range => "RANGE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GlobalSecondaryIndex {
    pub index_name: String,
    pub key_schema: Vec<KeySchemaElement>,
    pub projection: Projection,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Projection {
    pub projection_type: ProjectionType,
    /// Only for `INCLUDE`.
    #[serde(default)]
    pub non_key_attributes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProjectionType {
    All,
    KeysOnly,
    Include,
}

impl ProjectionType {
    /// The name DynamoDB uses on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "ALL",
            Self::KeysOnly => "KEYS_ONLY",
            Self::Include => "INCLUDE",
        }
    }
}

/// Only on-demand capacity is supported: a provisioned table would need throughput
/// settings that the local stack has no use for, so parsing rejects one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BillingMode {
    PayPerRequest,
}

impl BillingMode {
    /// The name DynamoDB uses on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PayPerRequest => "PAY_PER_REQUEST",
        }
    }
}

/// Why a template could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("the template is not valid YAML")]
    Yaml(#[source] serde_yaml::Error),
    #[error("the template has no Resources mapping")]
    NoResources,
    #[error("the template has no resource {logical_id} of type {expected_type}")]
    MissingResource {
        logical_id: String,
        expected_type: &'static str,
    },
    #[error("resource {logical_id}: {problem}")]
    Invalid { logical_id: String, problem: String },
    #[error("resource {logical_id}: table properties do not have the expected shape")]
    TableShape {
        logical_id: String,
        #[source]
        source: serde_yaml::Error,
    },
}

/// A parsed template: the parts of it that Porchlight's own tooling uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    routes: Vec<TemplateRoute>,
    table: TableDefinition,
}

impl Template {
    /// Parses a SAM template. CloudFormation's short-form tags (`!Ref`, `!Sub`,
    /// `!GetAtt`, ...) are accepted and read as their long forms.
    pub fn parse(yaml: &str) -> Result<Self, TemplateError> {
        let raw: Value = serde_yaml::from_str(yaml).map_err(TemplateError::Yaml)?;
        let document = long_form(raw);
        let resources = document
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or(TemplateError::NoResources)?;
        Ok(Self {
            routes: parse_routes(resources)?,
            table: parse_table(resources, TABLE_LOGICAL_ID)?,
        })
    }

    /// The template embedded in this crate.
    pub fn embedded() -> &'static Template {
        static EMBEDDED: OnceLock<Template> = OnceLock::new();
        EMBEDDED.get_or_init(|| {
            Template::parse(TEMPLATE_YAML)
                .expect("invariant: the embedded template.yaml parses (checked by unit tests)")
        })
    }

    /// Every HttpApi route of every function, in template order.
    pub fn routes(&self) -> &[TemplateRoute] {
        &self.routes
    }

    /// The Porchlight table.
    pub fn table(&self) -> &TableDefinition {
        &self.table
    }
}

/// Every HttpApi route in the embedded template.
pub fn routes() -> Vec<TemplateRoute> {
    Template::embedded().routes().to_vec()
}

/// The table in the embedded template.
pub fn table() -> &'static TableDefinition {
    Template::embedded().table()
}

/// Rewrites short-form intrinsic tags into the long form CloudFormation also accepts,
/// so the rest of the parser sees plain mappings and never has to know about tags.
fn long_form(value: Value) -> Value {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = long_form(tagged.value);
            let (key, inner) = match name {
                "Ref" | "Condition" => (name.to_owned(), inner),
                // `!GetAtt Res.Attr` is a string; the long form is a two-element list.
                "GetAtt" => {
                    let inner = match inner {
                        Value::String(s) => match s.split_once('.') {
                            Some((resource, attribute)) => Value::Sequence(vec![
                                Value::String(resource.to_owned()),
                                Value::String(attribute.to_owned()),
                            ]),
                            None => Value::String(s),
                        },
                        other => other,
                    };
                    ("Fn::GetAtt".to_owned(), inner)
                }
                other => (format!("Fn::{other}"), inner),
            };
            let mut map = Mapping::new();
            map.insert(Value::String(key), inner);
            Value::Mapping(map)
        }
        Value::Mapping(map) => {
            Value::Mapping(map.into_iter().map(|(k, v)| (k, long_form(v))).collect())
        }
        Value::Sequence(items) => Value::Sequence(items.into_iter().map(long_form).collect()),
        scalar => scalar,
    }
}

fn resource_type(resource: &Value) -> Option<&str> {
    resource.get("Type").and_then(Value::as_str)
}

fn parse_routes(resources: &Mapping) -> Result<Vec<TemplateRoute>, TemplateError> {
    let mut routes = Vec::new();
    for (id, resource) in resources {
        if resource_type(resource) != Some(FUNCTION_TYPE) {
            continue;
        }
        let function = id.as_str().unwrap_or_default().to_owned();
        let Some(events) = resource
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(Value::as_mapping)
        else {
            continue;
        };
        for (event_name, event) in events {
            if event.get("Type").and_then(Value::as_str) != Some("HttpApi") {
                continue;
            }
            let event_name = event_name.as_str().unwrap_or_default();
            let properties = event.get("Properties");
            let literal = |name: &str| {
                properties
                    .and_then(|p| p.get(name))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let (method, path) = match (literal("Method"), literal("Path")) {
                (Some(method), Some(path)) => (method.to_ascii_uppercase(), path),
                // SAM's catch-all: neither given makes the API's `$default` route, which
                // answers every request no other route matches.
                (None, None) => ("ANY".to_owned(), DEFAULT_ROUTE.to_owned()),
                (method, _) => {
                    let missing = if method.is_none() { "Method" } else { "Path" };
                    return Err(TemplateError::Invalid {
                        logical_id: function,
                        problem: format!("HttpApi event {event_name} has no literal {missing}"),
                    });
                }
            };
            if path != DEFAULT_ROUTE && !path.starts_with('/') {
                return Err(TemplateError::Invalid {
                    logical_id: function,
                    problem: format!("HttpApi event {event_name} path {path:?} is not absolute"),
                });
            }
            routes.push(TemplateRoute {
                function: function.clone(),
                method,
                path,
            });
        }
    }
    Ok(routes)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TableProperties {
    billing_mode: BillingMode,
    attribute_definitions: Vec<AttributeDefinition>,
    key_schema: Vec<KeySchemaElement>,
    #[serde(default)]
    global_secondary_indexes: Vec<GlobalSecondaryIndex>,
    time_to_live_specification: Option<TimeToLiveSpecification>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TimeToLiveSpecification {
    attribute_name: String,
    enabled: bool,
}

fn parse_table(resources: &Mapping, logical_id: &str) -> Result<TableDefinition, TemplateError> {
    let missing = || TemplateError::MissingResource {
        logical_id: logical_id.to_owned(),
        expected_type: TABLE_TYPE,
    };
    let resource = resources.get(logical_id).ok_or_else(missing)?;
    if resource_type(resource) != Some(TABLE_TYPE) {
        return Err(missing());
    }
    let properties = resource.get("Properties").cloned().unwrap_or(Value::Null);
    let properties: TableProperties =
        serde_yaml::from_value(properties).map_err(|source| TemplateError::TableShape {
            logical_id: logical_id.to_owned(),
            source,
        })?;
    let table = TableDefinition {
        logical_id: logical_id.to_owned(),
        attribute_definitions: properties.attribute_definitions,
        key_schema: properties.key_schema,
        global_secondary_indexes: properties.global_secondary_indexes,
        billing_mode: properties.billing_mode,
        ttl_attribute: properties
            .time_to_live_specification
            .filter(|ttl| ttl.enabled)
            .map(|ttl| ttl.attribute_name),
    };
    check_table(&table).map_err(|problem| TemplateError::Invalid {
        logical_id: logical_id.to_owned(),
        problem,
    })?;
    Ok(table)
}

/// Catches the mistakes CreateTable would reject, with a message naming the template.
fn check_table(table: &TableDefinition) -> Result<(), String> {
    let check_keys = |owner: &str, keys: &[KeySchemaElement]| -> Result<(), String> {
        let shape: Vec<KeyType> = keys.iter().map(|k| k.key_type).collect();
        if shape != [KeyType::Hash] && shape != [KeyType::Hash, KeyType::Range] {
            return Err(format!(
                "{owner} key schema must be HASH or HASH then RANGE"
            ));
        }
        for key in keys {
            if !table
                .attribute_definitions
                .iter()
                .any(|a| a.attribute_name == key.attribute_name)
            {
                return Err(format!(
                    "{owner} key {} has no attribute definition",
                    key.attribute_name
                ));
            }
        }
        Ok(())
    };
    check_keys("table", &table.key_schema)?;
    for index in &table.global_secondary_indexes {
        check_keys(&format!("index {}", index.index_name), &index.key_schema)?;
    }
    // DynamoDB rejects a definition no key uses: only key attributes are declared.
    let is_key = |name: &str| {
        table
            .key_schema
            .iter()
            .chain(
                table
                    .global_secondary_indexes
                    .iter()
                    .flat_map(|i| &i.key_schema),
            )
            .any(|k| k.attribute_name == name)
    };
    if let Some(unused) = table
        .attribute_definitions
        .iter()
        .find(|a| !is_key(&a.attribute_name))
    {
        return Err(format!(
            "attribute {} is defined but is no key",
            unused.attribute_name
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(function: &str, method: &str, path: &str) -> TemplateRoute {
        TemplateRoute {
            function: function.to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
        }
    }

    #[test]
    fn embedded_template_has_every_contract_route() {
        let routes = routes();
        let expected = [
            route("LoginLinkFunction", "POST", "/p/{slug}/login"),
            route("LoginLinkFunction", "GET", "/p/{slug}/login/{token}"),
            route("LoginLinkFunction", "HEAD", "/p/{slug}/login/{token}"),
            route("LoginLinkFunction", "POST", "/p/{slug}/login/{token}"),
            route("LoginLinkFunction", "POST", "/p/{slug}/logout"),
            route("LoginLinkFunction", "POST", "/p/{slug}/account"),
            route("PortalFunction", "GET", "/p/{slug}"),
            route("PortalFunction", "GET", "/p/{slug}/"),
            route("PortalFunction", "GET", "/p/{slug}/proposals/{id}"),
            route(
                "PortalFunction",
                "GET",
                "/p/{slug}/calendar/{client}/{feed}",
            ),
            route(
                "PortalFunction",
                "HEAD",
                "/p/{slug}/calendar/{client}/{feed}",
            ),
            route("PreferencesFunction", "GET", "/p/{slug}/emails/off"),
            route("PreferencesFunction", "HEAD", "/p/{slug}/emails/off"),
            route("PreferencesFunction", "POST", "/p/{slug}/emails/off"),
            route("PreferencesFunction", "POST", "/p/{slug}/emails/on"),
            route("PreferencesFunction", "POST", "/p/{slug}/calendar"),
            route("PortalFunction", "GET", "/p/{slug}/invoices/{id}"),
            route("PortalFunction", "HEAD", "/p/{slug}"),
            route("PortalFunction", "HEAD", "/p/{slug}/"),
            route("PortalFunction", "HEAD", "/p/{slug}/proposals/{id}"),
            route("PortalFunction", "HEAD", "/p/{slug}/invoices/{id}"),
            route("PortalFunction", "GET", "/p/{slug}/payments"),
            route("PortalFunction", "HEAD", "/p/{slug}/payments"),
            route("PortalFunction", "GET", "/p/{slug}/login"),
            route("PortalFunction", "ANY", DEFAULT_ROUTE),
            route(
                "AcceptProposalFunction",
                "POST",
                "/p/{slug}/proposals/{id}/accept",
            ),
            route(
                "AcceptProposalFunction",
                "GET",
                "/p/{slug}/proposals/{id}/accept/{token}",
            ),
            route(
                "AcceptProposalFunction",
                "HEAD",
                "/p/{slug}/proposals/{id}/accept/{token}",
            ),
            route(
                "AcceptProposalFunction",
                "POST",
                "/p/{slug}/proposals/{id}/accept/{token}",
            ),
            route("CheckoutFunction", "POST", "/p/{slug}/invoices/{id}/pay"),
            route("CheckoutFunction", "GET", "/p/{slug}/invoices/{id}/payment"),
            route(
                "CheckoutFunction",
                "HEAD",
                "/p/{slug}/invoices/{id}/payment",
            ),
            route("LeadFunction", "GET", "/p/{slug}/request"),
            route("LeadFunction", "POST", "/p/{slug}/request"),
            route("BackofficeApiFunction", "ANY", "/api/v1/{proxy+}"),
            route("PaymentWebhookFunction", "POST", "/webhooks/stripe"),
        ];
        for want in &expected {
            assert!(
                routes.contains(want),
                "missing route {want:?} in {routes:#?}"
            );
        }
        assert_eq!(
            routes.len(),
            expected.len(),
            "unexpected routes: {routes:#?}"
        );
    }

    #[test]
    fn no_two_functions_claim_one_route() {
        let routes = routes();
        for (i, a) in routes.iter().enumerate() {
            for b in &routes[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "{} {} is declared twice ({} and {})",
                    a.method,
                    a.path,
                    a.function,
                    b.function
                );
            }
        }
    }

    #[test]
    fn embedded_template_declares_the_single_table() {
        let table = table();
        assert_eq!(table.logical_id, "PorchlightTable");
        let names: Vec<(&str, AttributeType)> = table
            .attribute_definitions
            .iter()
            .map(|a| (a.attribute_name.as_str(), a.attribute_type))
            .collect();
        assert_eq!(
            names,
            [
                ("PK", AttributeType::S),
                ("SK", AttributeType::S),
                ("GSI1PK", AttributeType::S),
                ("GSI1SK", AttributeType::S),
            ]
        );
        let keys = |k: &[KeySchemaElement]| -> Vec<(String, KeyType)> {
            k.iter()
                .map(|e| (e.attribute_name.clone(), e.key_type))
                .collect()
        };
        assert_eq!(
            keys(&table.key_schema),
            [
                ("PK".to_owned(), KeyType::Hash),
                ("SK".to_owned(), KeyType::Range)
            ]
        );
        assert_eq!(table.global_secondary_indexes.len(), 1);
        let gsi = &table.global_secondary_indexes[0];
        assert_eq!(gsi.index_name, "GSI1");
        assert_eq!(
            keys(&gsi.key_schema),
            [
                ("GSI1PK".to_owned(), KeyType::Hash),
                ("GSI1SK".to_owned(), KeyType::Range)
            ]
        );
        assert_eq!(gsi.projection.projection_type, ProjectionType::All);
        assert_eq!(table.billing_mode, BillingMode::PayPerRequest);
        assert_eq!(table.ttl_attribute.as_deref(), Some("ttl"));
    }

    const MINIMAL: &str = r#"
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          TABLE: !Ref PorchlightTable
          ARN: !GetAtt PorchlightTable.Arn
          URL: !Sub "https://${Api}.example"
      Events:
        Hello: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: get, Path: "/p/{slug}"}}
        Tick: {Type: Schedule, Properties: {Schedule: rate(1 day)}}
  PorchlightTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-table"
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: PK, AttributeType: S}]
      KeySchema: [{AttributeName: PK, KeyType: HASH}]
"#;

    #[test]
    fn short_form_tags_become_long_form() {
        let value: Value =
            serde_yaml::from_str("a: !GetAtt T.Arn\nb: !Ref X\nc: !Sub s").expect("test yaml");
        let value = long_form(value);
        assert_eq!(value["a"]["Fn::GetAtt"][0].as_str(), Some("T"));
        assert_eq!(value["a"]["Fn::GetAtt"][1].as_str(), Some("Arn"));
        assert_eq!(value["b"]["Ref"].as_str(), Some("X"));
        assert_eq!(value["c"]["Fn::Sub"].as_str(), Some("s"));
    }

    #[test]
    fn tagged_values_and_other_events_are_handled() {
        let template = Template::parse(MINIMAL).expect("minimal template parses");
        assert_eq!(template.routes(), [route("Fn", "GET", "/p/{slug}")]);
        assert_eq!(template.table().global_secondary_indexes, []);
        assert_eq!(template.table().ttl_attribute, None);
    }

    #[test]
    fn catch_all_http_event_is_the_default_route() {
        let yaml = MINIMAL.replace(", Method: get, Path: \"/p/{slug}\"", "");
        let template = Template::parse(&yaml).expect("a catch-all event parses");
        assert_eq!(template.routes()[0].path, DEFAULT_ROUTE);
        assert_eq!(template.routes()[0].method, "ANY");

        let half = MINIMAL.replace(", Method: get", "");
        let err = Template::parse(&half).expect_err("a path without a method");
        assert!(matches!(err, TemplateError::Invalid { .. }), "{err:?}");
    }

    #[test]
    fn missing_table_is_reported() {
        let yaml = MINIMAL.replace("PorchlightTable:\n", "OtherTable:\n");
        let err = Template::parse(&yaml).expect_err("no table");
        assert!(
            matches!(err, TemplateError::MissingResource { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn provisioned_billing_is_rejected() {
        let yaml = MINIMAL.replace("PAY_PER_REQUEST", "PROVISIONED");
        let err = Template::parse(&yaml).expect_err("provisioned is unsupported");
        assert!(matches!(err, TemplateError::TableShape { .. }), "{err:?}");
    }

    #[test]
    fn attribute_that_is_no_key_is_rejected() {
        let yaml = MINIMAL.replace(
            "[{AttributeName: PK, AttributeType: S}]",
            "[{AttributeName: PK, AttributeType: S}, {AttributeName: X, AttributeType: N}]",
        );
        let err = Template::parse(&yaml).expect_err("unused attribute definition");
        assert!(matches!(err, TemplateError::Invalid { .. }), "{err:?}");
    }

    #[test]
    fn key_without_attribute_definition_is_rejected() {
        let yaml = MINIMAL.replace("AttributeName: PK, KeyType", "AttributeName: ID, KeyType");
        let err = Template::parse(&yaml).expect_err("undefined key attribute");
        assert!(matches!(err, TemplateError::Invalid { .. }), "{err:?}");
    }
}
