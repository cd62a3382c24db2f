//! The route table: the single source of the API's paths, methods and answers. The router uses
//! it, and a test compares it with the OpenAPI document (functions/api/openapi.json).

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    List,
    Get,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    /// OpenAPI path template; `{name}` matches one path segment.
    pub path: &'static str,
    pub operation: Operation,
    /// Every status the operation answers with for a request (AWS failures aside).
    pub statuses: &'static [u16],
}

pub const ROUTES: &[Route] = &[
    Route {
        method: "POST",
        path: "/environments",
        operation: Operation::Create,
        statuses: &[202, 400, 409, 413],
    },
    Route {
        method: "GET",
        path: "/environments",
        operation: Operation::List,
        statuses: &[200],
    },
    Route {
        method: "GET",
        path: "/environments/{name}",
        operation: Operation::Get,
        statuses: &[200, 400, 404],
    },
    Route {
        method: "DELETE",
        path: "/environments/{name}",
        operation: Operation::Delete,
        statuses: &[202, 400, 404, 409],
    },
];

/// The outcome of matching a request line against [`ROUTES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matched {
    Route {
        operation: Operation,
        /// The `{name}` segment, when the path has one (still percent-encoded: names never are).
        name: Option<String>,
    },
    /// The path exists, the method does not: the methods that do, for the `Allow` header.
    MethodNotAllowed(Vec<&'static str>),
    NotFound,
}

pub fn match_route(method: &str, path: &str) -> Matched {
    let mut allowed = Vec::new();
    for route in ROUTES {
        let Some(name) = match_path(route.path, path) else {
            continue;
        };
        if route.method.eq_ignore_ascii_case(method) {
            return Matched::Route {
                operation: route.operation,
                name,
            };
        }
        allowed.push(route.method);
    }
    if allowed.is_empty() {
        Matched::NotFound
    } else {
        Matched::MethodNotAllowed(allowed)
    }
}

/// `Some(param)` when `path` fits `template` (`param` = the `{name}` segment, if any).
fn match_path(template: &str, path: &str) -> Option<Option<String>> {
    let wanted: Vec<&str> = template.split('/').collect();
    let got: Vec<&str> = path.split('/').collect();
    if wanted.len() != got.len() {
        return None;
    }
    let mut param = None;
    for (w, g) in wanted.iter().zip(&got) {
        if w.starts_with('{') {
            if g.is_empty() {
                return None;
            }
            param = Some((*g).to_string());
        } else if w != g {
            return None;
        }
    }
    Some(param)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_routes_methods_and_parameters() {
        assert_eq!(
            match_route("GET", "/environments/lab-1"),
            Matched::Route {
                operation: Operation::Get,
                name: Some("lab-1".into())
            }
        );
        assert_eq!(
            match_route("post", "/environments"),
            Matched::Route {
                operation: Operation::Create,
                name: None
            }
        );
        assert_eq!(
            match_route("PUT", "/environments/lab-1"),
            Matched::MethodNotAllowed(vec!["GET", "DELETE"])
        );
        for path in ["/", "/environments/", "/environments/a/b", "/other", ""] {
            assert_eq!(match_route("GET", path), Matched::NotFound, "{path}");
        }
    }
}
