//! The OpenAPI document (functions/api/openapi.json) describes exactly what the code serves:
//! its paths, methods and statuses are the router's table, its schemas are the ones generated
//! from the Rust types. Regenerate the schemas with `MEC_UPDATE_OPENAPI=1 cargo test -p mec-api
//! --test openapi` (or `make openapi`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use mec_api::errors::ErrorBody;
use mec_api::routes::ROUTES;
use mec_api::EnvironmentList;
use mec_shared::record::EnvironmentRecord;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi.json")
}

/// The component schemas from the code: the request body as it is deserialized (the committed
/// spec schema, without its `$schema`), the answers as they are serialized.
fn generated_schemas() -> Map<String, Value> {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .for_serialize()
        .into_generator();
    generator.subschema_for::<EnvironmentRecord>();
    generator.subschema_for::<EnvironmentList>();
    generator.subschema_for::<ErrorBody>();
    let mut schemas = generator.take_definitions(true);
    let (spec, definitions) = as_component(mec_shared::spec::json_schema());
    schemas.insert("EnvironmentSpec".into(), spec);
    schemas.extend(definitions);
    schemas
}

/// A standalone JSON Schema as an OpenAPI component: no `$schema`, its `$defs` moved beside it
/// in `components/schemas` and its references rewritten (inside the document, `#/$defs/…` would
/// point at the document's root).
fn as_component(schema: Value) -> (Value, Map<String, Value>) {
    let mut schema = schema.as_object().unwrap().clone();
    schema.remove("$schema");
    let definitions = match schema.remove("$defs") {
        Some(Value::Object(defs)) => defs,
        _ => Map::new(),
    };
    let rewrite = |value: Value| -> Value {
        let text = serde_json::to_string(&value)
            .unwrap()
            .replace("\"#/$defs/", "\"#/components/schemas/");
        serde_json::from_str(&text).unwrap()
    };
    let definitions = definitions
        .into_iter()
        .map(|(name, def)| (name, rewrite(def)))
        .collect();
    (rewrite(Value::Object(schema)), definitions)
}

fn document() -> Value {
    let text = std::fs::read_to_string(path()).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn schemas_are_the_generated_ones() {
    let generated = Value::Object(generated_schemas());
    if std::env::var_os("MEC_UPDATE_OPENAPI").is_some() {
        let mut doc = document();
        doc["components"]["schemas"] = generated.clone();
        std::fs::write(path(), serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
    }
    let doc = document();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(
        doc["components"]["schemas"] == generated,
        "{} has stale schemas: run `make openapi` and commit the result",
        path().display()
    );
}

#[test]
fn spec_schema_is_the_committed_one() {
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(
            // functions/shared/schema, beside this crate in the workspace.
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .unwrap()
                .join("shared")
                .join("schema")
                .join("environment-spec.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let (committed, definitions) = as_component(committed);
    let doc = document();
    assert_eq!(doc["components"]["schemas"]["EnvironmentSpec"], committed);
    for (name, definition) in definitions {
        assert_eq!(doc["components"]["schemas"][&name], definition, "{name}");
    }
}

#[test]
fn paths_methods_and_statuses_are_the_routers() {
    let doc = document();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let statuses: BTreeSet<u16> = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "default")
                .map(|k| k.parse().unwrap())
                .collect();
            assert!(
                operation["responses"]["default"].is_object(),
                "{method} {path}: AWS failures are documented as `default`"
            );
            documented.insert((method.to_uppercase(), path.clone(), statuses));
        }
    }
    let served: BTreeSet<(String, String, BTreeSet<u16>)> = ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.path.to_string(),
                r.statuses.iter().copied().collect(),
            )
        })
        .collect();
    assert_eq!(documented, served);
}

#[test]
fn every_reference_resolves() {
    fn refs(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    found.push(r.clone());
                }
                map.values().for_each(|v| refs(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }
    let doc = document();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for r in found {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r} is not a component reference"));
        assert!(doc["components"]["schemas"][name].is_object(), "{r}");
    }
}
