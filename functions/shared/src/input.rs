//! Typed parsing of everything that arrives from outside, with errors that name the field.

use serde::de::DeserializeOwned;

use crate::error::MecError;

/// Deserializes `value` into `T`. On failure `make_error(field, rule)` builds the error, where
/// `field` is the path of the offending field (`root` when the whole value is wrong).
pub fn parse_value<T: DeserializeOwned>(
    value: serde_json::Value,
    root: &str,
    make_error: fn(&str, &str) -> MecError,
) -> Result<T, MecError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        let (field, rule) = describe(&path, &inner, root);
        make_error(&field, &rule)
    })
}

/// Turns serde's message into (field, rule). serde reports an unknown or missing field in the
/// message rather than in the path, so those names are lifted out of the text.
fn describe(path: &str, message: &str, root: &str) -> (String, String) {
    // serde_path_to_error already ends the path with an unknown field's name, not a missing one's.
    let join = |name: &str| {
        if path == "." || path.is_empty() {
            name.to_string()
        } else if path == name || path.ends_with(&format!(".{name}")) {
            path.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    if let Some(name) = quoted_after(message, "unknown field `") {
        return (join(&name), "is not a known field".to_string());
    }
    if let Some(name) = quoted_after(message, "missing field `") {
        return (join(&name), "is required".to_string());
    }
    if let Some(name) = quoted_after(message, "unknown variant `") {
        let field = if path == "." {
            root.to_string()
        } else {
            path.to_string()
        };
        return (
            field,
            format!(
                "`{name}` is not one of the accepted values ({})",
                strip_position(message)
            ),
        );
    }
    let field = if path == "." || path.is_empty() {
        root.to_string()
    } else {
        path.to_string()
    };
    (field, strip_position(message))
}

fn quoted_after(message: &str, marker: &str) -> Option<String> {
    let rest = &message[message.find(marker)? + marker.len()..];
    Some(rest[..rest.find('`')?].to_string())
}

/// serde_json appends " at line L column C", which means nothing for a parsed value.
fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u8,
    }

    fn field(value: serde_json::Value) -> String {
        match parse_value::<Outer>(value, "input", MecError::invalid_input) {
            Err(MecError::InvalidInput { field, .. }) => field,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn names_nested_fields() {
        assert_eq!(field(json!({"inner": {"count": "x"}})), "inner.count");
        assert_eq!(field(json!({"inner": {"count": 300}})), "inner.count");
        assert_eq!(field(json!({"inner": {}})), "inner.count");
        assert_eq!(
            field(json!({"inner": {"count": 1, "extra": 2}})),
            "inner.extra"
        );
        assert_eq!(field(json!({})), "inner");
        assert_eq!(field(json!([])), "input");
    }
}
