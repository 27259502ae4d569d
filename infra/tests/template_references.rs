//! Checks of template.yaml that neither cfn-lint nor `sam validate` makes inside serverless
//! resources: every `!Ref`, `!GetAtt` and `${...}` in `!Sub` names a parameter, a resource
//! (or one SAM generates), a condition where one is expected, or a pseudo parameter; and
//! the local stack serves exactly the functions the template routes to.

use std::collections::BTreeSet;

use serde_yaml::{Mapping, Value};

const TEMPLATE: &str = include_str!("../../template.yaml");

/// Resources the SAM transform adds, which the template may name.
const GENERATED: &[&str] = &["PorchlightHttpApiApiGatewayDefaultStage"];

struct Names {
    parameters: BTreeSet<String>,
    resources: BTreeSet<String>,
    conditions: BTreeSet<String>,
}

fn keys(template: &Mapping, section: &str) -> BTreeSet<String> {
    template
        .get(section)
        .and_then(Value::as_mapping)
        .map(|m| {
            m.keys()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn template() -> Mapping {
    serde_yaml::from_str::<Value>(TEMPLATE)
        .expect("template.yaml parses")
        .as_mapping()
        .cloned()
        .expect("the template is a mapping")
}

impl Names {
    fn of(template: &Mapping) -> Self {
        let mut resources = keys(template, "Resources");
        resources.extend(GENERATED.iter().map(|s| (*s).to_owned()));
        Self {
            parameters: keys(template, "Parameters"),
            resources,
            conditions: keys(template, "Conditions"),
        }
    }

    fn referable(&self, name: &str) -> bool {
        name.starts_with("AWS::") || self.parameters.contains(name) || self.resources.contains(name)
    }
}

/// Every reference found under `value`, as (what, name) pairs.
fn references(value: &Value, found: &mut Vec<(&'static str, String)>) {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            match (tag.trim_start_matches('!'), &tagged.value) {
                ("Ref", Value::String(name)) => found.push(("Ref", name.clone())),
                ("GetAtt", Value::String(path)) => {
                    let resource = path.split('.').next().unwrap_or(path);
                    found.push(("GetAtt", resource.to_owned()));
                }
                ("Sub", Value::String(text)) => substitutions(text, &[], found),
                ("Sub", Value::Sequence(parts)) => {
                    let locals: Vec<String> = parts
                        .get(1)
                        .and_then(Value::as_mapping)
                        .map(|m| {
                            m.keys()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default();
                    if let Some(Value::String(text)) = parts.first() {
                        substitutions(text, &locals, found);
                    }
                    for part in parts.iter().skip(1) {
                        references(part, found);
                    }
                }
                ("If", Value::Sequence(parts)) => {
                    if let Some(Value::String(condition)) = parts.first() {
                        found.push(("Condition", condition.clone()));
                    }
                    for part in parts.iter().skip(1) {
                        references(part, found);
                    }
                }
                (_, inner) => references(inner, found),
            }
        }
        Value::Mapping(map) => {
            for (key, inner) in map {
                if key.as_str() == Some("Condition") {
                    if let Value::String(condition) = inner {
                        found.push(("Condition", condition.clone()));
                    }
                    continue;
                }
                references(inner, found);
            }
        }
        Value::Sequence(items) => items.iter().for_each(|item| references(item, found)),
        _ => {}
    }
}

fn substitutions(text: &str, locals: &[String], found: &mut Vec<(&'static str, String)>) {
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        // `${!Literal}` is an escaped dollar sign, not a reference.
        if !name.starts_with('!') && !locals.iter().any(|l| l == name) {
            let resource = name.split('.').next().unwrap_or(name);
            let what = if name.contains('.') { "GetAtt" } else { "Ref" };
            found.push((what, resource.to_owned()));
        }
        rest = &after[end + 1..];
    }
}

#[test]
fn every_reference_names_something_the_template_declares() {
    let template = template();
    let names = Names::of(&template);
    let mut found = Vec::new();
    for section in ["Resources", "Outputs", "Globals", "Conditions", "Rules"] {
        if let Some(value) = template.get(section) {
            references(value, &mut found);
        }
    }
    assert!(
        found.len() > 40,
        "the walk finds the template's references ({})",
        found.len()
    );
    let broken: Vec<String> = found
        .iter()
        .filter(|(what, name)| match *what {
            "Condition" => !names.conditions.contains(name),
            "GetAtt" => !names.resources.contains(name),
            _ => !names.referable(name),
        })
        .map(|(what, name)| format!("{what} {name}"))
        .collect();
    assert!(broken.is_empty(), "references to nothing: {broken:?}");
}

#[test]
fn a_misspelt_reference_is_caught() {
    let names = Names::of(&template());
    let yaml = "a: !Ref PorchlightTabel\nb: !Sub \"${PortalBaseUrl}/x/${Nope.Arn}\"";
    let value: Value = serde_yaml::from_str(yaml).expect("test yaml");
    let mut found = Vec::new();
    references(&value, &mut found);
    let bad: Vec<&str> = found
        .iter()
        .filter(|(what, name)| {
            if *what == "GetAtt" {
                !names.resources.contains(name)
            } else {
                !names.referable(name)
            }
        })
        .map(|(_, name)| name.as_str())
        .collect();
    assert_eq!(bad, ["PorchlightTabel", "Nope"]);
}

#[test]
fn the_local_stack_serves_exactly_the_routed_functions() {
    let routed: BTreeSet<String> = porchlight_infra::template::routes()
        .into_iter()
        .map(|route| route.function)
        .collect();
    let mounted: BTreeSet<String> = porchlight_infra::local::MOUNTED_FUNCTIONS
        .iter()
        .map(|f| (*f).to_owned())
        .collect();
    assert_eq!(
        mounted, routed,
        "mounted functions and template routes differ"
    );
}

#[test]
fn every_declared_function_binary_is_a_workspace_crate() {
    let template = template();
    let resources = template
        .get("Resources")
        .and_then(Value::as_mapping)
        .expect("resources");
    for (id, resource) in resources {
        let Some(binary) = resource
            .get("Metadata")
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|b| b.get("Binary"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let code_uri = resource
            .get("Properties")
            .and_then(|p| p.get("CodeUri"))
            .and_then(Value::as_str)
            .expect("a function has a CodeUri");
        let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(code_uri)
            .join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest)
            .unwrap_or_else(|_| panic!("{id:?}: no crate at {code_uri}"));
        assert!(
            text.contains(&format!("name = \"{binary}\"")),
            "{id:?}: {code_uri} does not build {binary}"
        );
    }
}
