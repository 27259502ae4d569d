//! The local stack's HTTP listener: every function's handler mounted behind the routes that
//! `template.yaml` gives it, with each request turned into the API Gateway v2 event Lambda
//! would receive, so the handlers run exactly as they do in AWS.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::{Body, Request, Response};
use porchlight_shared::context::AppContext;
use tokio::net::TcpListener;

use crate::template::{self, TemplateRoute};

/// API Gateway refuses larger payloads; so does the local stack.
const MAX_BODY_BYTES: usize = 1 << 20;

/// The function a template route names, called with the event-built request.
pub async fn dispatch(function: &str, ctx: &AppContext, req: Request) -> Option<Response<Body>> {
    // Each handler's future is boxed: held inline, the largest of them would sit on the
    // caller's stack, which overflows debug builds' 2 MB test threads.
    let answer: std::pin::Pin<Box<dyn Future<Output = Response<Body>> + Send + '_>> = match function
    {
        "LoginLinkFunction" => Box::pin(login_link::handle(ctx, req)),
        "PortalFunction" => Box::pin(portal::handle(ctx, req)),
        "AcceptProposalFunction" => Box::pin(accept_proposal::handle(ctx, req)),
        "LeadFunction" => Box::pin(lead::handle(ctx, req)),
        "BackofficeApiFunction" => Box::pin(backoffice_api::handle(ctx, req)),
        "PreferencesFunction" => Box::pin(preferences::handle(ctx, req)),
        "CheckoutFunction" => Box::pin(checkout::handle(ctx, req)),
        "PaymentWebhookFunction" => Box::pin(payment_webhook::handle(ctx, req)),
        _ => return None,
    };
    // A request scope of its own, as the Lambda runtime gives each invocation, so the log
    // line carries its duration and DynamoDB request count.
    Some(porchlight_shared::request_scope::scoped(answer).await)
}

/// The function names [`dispatch`] knows, for the test that every template function is mounted.
pub const MOUNTED_FUNCTIONS: [&str; 8] = [
    "LoginLinkFunction",
    "PortalFunction",
    "AcceptProposalFunction",
    "LeadFunction",
    "BackofficeApiFunction",
    "PreferencesFunction",
    "CheckoutFunction",
    "PaymentWebhookFunction",
];

/// The route matching a method and path, with the path parameters it binds. As in API
/// Gateway, `ANY` matches every method and a last segment `{name+}` the rest of the path.
pub fn match_route<'a>(
    routes: &'a [TemplateRoute],
    method: &str,
    path: &str,
) -> Option<(&'a TemplateRoute, Vec<(String, String)>)> {
    let found = match_declared(routes, method, path);
    found.or_else(|| {
        let fallback = routes
            .iter()
            .find(|route| route.path == template::DEFAULT_ROUTE)?;
        Some((fallback, Vec::new()))
    })
}

fn match_declared<'a>(
    routes: &'a [TemplateRoute],
    method: &str,
    path: &str,
) -> Option<(&'a TemplateRoute, Vec<(String, String)>)> {
    let segments: Vec<&str> = path.split('/').collect();
    let method_matches =
        |route: &TemplateRoute| route.method == "ANY" || route.method.eq_ignore_ascii_case(method);
    routes
        .iter()
        .filter(|route| method_matches(route))
        .find_map(|route| {
            let pattern: Vec<&str> = route.path.split('/').collect();
            let mut params = Vec::new();
            for (i, want) in pattern.iter().enumerate() {
                let name = want.strip_prefix('{').and_then(|w| w.strip_suffix('}'));
                if let Some(greedy) = name.and_then(|n| n.strip_suffix('+')) {
                    let rest = segments
                        .get(i..)
                        .filter(|rest| rest.iter().any(|s| !s.is_empty()))?;
                    params.push((greedy.to_owned(), rest.join("/")));
                    return (i == pattern.len() - 1).then_some((route, params));
                }
                let got = segments.get(i)?;
                match name {
                    Some(name) if !got.is_empty() => {
                        params.push((name.to_owned(), (*got).to_owned()))
                    }
                    Some(_) => return None,
                    None if want == got => {}
                    None => return None,
                }
            }
            (pattern.len() == segments.len()).then_some((route, params))
        })
}

/// Serves until the listener fails; each connection runs on its own task.
pub async fn serve(listener: TcpListener, ctx: Arc<AppContext>, routes: Arc<Vec<TemplateRoute>>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(error = %error, "accept failed");
                continue;
            }
        };
        let ctx = Arc::clone(&ctx);
        let routes = Arc::clone(&routes);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let ctx = Arc::clone(&ctx);
                let routes = Arc::clone(&routes);
                async move { Ok::<_, Infallible>(answer(req, peer, &ctx, &routes).await) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %error, "connection ended with an error");
            }
        });
    }
}

fn plain(status: u16, text: &'static str) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = hyper::StatusCode::from_u16(status).expect("a valid status code");
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

async fn answer(
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
    ctx: &AppContext,
    routes: &[TemplateRoute],
) -> hyper::Response<Full<Bytes>> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let Some((route, params)) = match_route(routes, &method, &path) else {
        // What API Gateway answers for a route it does not have.
        return plain(404, r#"{"message":"Not Found"}"#);
    };
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return plain(413, r#"{"message":"Request Entity Too Large"}"#),
    };

    let event = api_gateway_event(&parts, &body, route, &params, peer);
    let request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(request) => request,
        Err(error) => {
            tracing::error!(error = %error, "event did not convert to a request");
            return plain(500, r#"{"message":"Internal Server Error"}"#);
        }
    };
    let Some(response) = dispatch(&route.function, ctx, request).await else {
        tracing::error!(function = %route.function, "template route names an unmounted function");
        return plain(500, r#"{"message":"Internal Server Error"}"#);
    };
    into_hyper(response)
}

/// The API Gateway HTTP API (payload 2.0) event for one request.
fn api_gateway_event(
    parts: &hyper::http::request::Parts,
    body: &Bytes,
    route: &TemplateRoute,
    params: &[(String, String)],
    peer: SocketAddr,
) -> serde_json::Value {
    let mut headers = serde_json::Map::new();
    let mut cookies = Vec::new();
    for (name, value) in &parts.headers {
        let Ok(value) = value.to_str() else { continue };
        if name == hyper::header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty()),
            );
            continue;
        }
        let joined = match headers.get(name.as_str()).and_then(|v| v.as_str()) {
            Some(existing) => format!("{existing},{value}"),
            None => value.to_owned(),
        };
        headers.insert(name.as_str().to_owned(), joined.into());
    }
    let query = parts.uri.query().unwrap_or("");
    let mut query_params = serde_json::Map::new();
    for (key, value) in porchlight_shared::http::query_pairs(query) {
        let joined = match query_params.get(&key).and_then(|v| v.as_str()) {
            Some(existing) => format!("{existing},{value}"),
            None => value,
        };
        query_params.insert(key, joined.into());
    }
    let path_params: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect();
    let (body, base64) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (porchlight_shared::mail::base64(body), true),
    };
    let now = chrono::Utc::now();
    let route_key = format!("{} {}", route.method, route.path);
    serde_json::json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": parts.uri.path(),
        "rawQueryString": query,
        "cookies": cookies,
        "headers": headers,
        "queryStringParameters": query_params,
        "pathParameters": path_params,
        "requestContext": {
            "accountId": "local",
            "apiId": "local",
            "domainName": headers.get("host").and_then(|h| h.as_str()).unwrap_or("127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": headers.get("user-agent").and_then(|h| h.as_str()).unwrap_or(""),
            },
            "requestId": porchlight_shared::ids::DocumentId::random().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "body": body,
        "isBase64Encoded": base64,
    })
}

fn into_hyper(response: Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(function: &str, method: &str, path: &str) -> TemplateRoute {
        TemplateRoute {
            function: function.into(),
            method: method.into(),
            path: path.into(),
        }
    }

    #[test]
    fn routes_match_like_api_gateway() {
        let routes = vec![
            route("PortalFunction", "GET", "/p/{slug}"),
            route("PortalFunction", "GET", "/p/{slug}/"),
            route("LoginLinkFunction", "POST", "/p/{slug}/login/{token}"),
        ];
        let (found, params) = match_route(&routes, "POST", "/p/oakleaf/login/abc").expect("match");
        assert_eq!(found.function, "LoginLinkFunction");
        assert_eq!(
            params,
            vec![
                ("slug".into(), "oakleaf".into()),
                ("token".into(), "abc".into())
            ]
        );
        assert!(match_route(&routes, "GET", "/p/oakleaf/").is_some());
        assert!(match_route(&routes, "GET", "/p//").is_none());
        assert!(match_route(&routes, "DELETE", "/p/oakleaf").is_none());
        assert!(match_route(&routes, "GET", "/p/oakleaf/login/abc").is_none());

        let api = vec![route("BackofficeApiFunction", "ANY", "/api/v1/{proxy+}")];
        let (_, params) = match_route(&api, "PATCH", "/api/v1/clients/c1/jobs/j1").expect("match");
        assert_eq!(params, vec![("proxy".into(), "clients/c1/jobs/j1".into())]);
        assert!(match_route(&api, "GET", "/api/v1/").is_none());
        assert!(match_route(&api, "GET", "/api/v1").is_none());
        assert!(match_route(&api, "GET", "/api/v2/clients").is_none());

        let mut with_default = routes.clone();
        with_default.push(route("PortalFunction", "ANY", template::DEFAULT_ROUTE));
        let (fallback, params) =
            match_route(&with_default, "DELETE", "/anything/else").expect("the default route");
        assert_eq!(fallback.path, template::DEFAULT_ROUTE);
        assert!(params.is_empty());
        let (declared, _) = match_route(&with_default, "GET", "/p/oakleaf").expect("a match");
        assert_eq!(
            declared.path, "/p/{slug}",
            "declared routes win over the default"
        );
    }

    #[test]
    fn every_template_function_is_mounted() {
        for route in crate::template::routes() {
            assert!(
                MOUNTED_FUNCTIONS.contains(&route.function.as_str()),
                "{} is not mounted",
                route.function
            );
        }
    }

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(
            porchlight_shared::http::query_pairs("leadform=true&x=a%20b+c"),
            vec![
                ("leadform".into(), "true".into()),
                ("x".into(), "a b c".into())
            ]
        );
        assert_eq!(
            porchlight_shared::http::query_pairs("q=100%"),
            vec![("q".into(), "100%".into())]
        );
    }
}
