//! HTTP plumbing shared by the functions: reading requests (path, form, cookies, what the
//! caller accepts, where it came from) and building responses (HTML, JSON, problem details,
//! redirects). Every expected outcome is an `Ok` response, so the function owns the body.

use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use maud::Markup;
use serde::Serialize;

use crate::ids::CompanySlug;

/// A request's path under `/p/{slug}`, split into its segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalPath {
    pub slug: CompanySlug,
    pub rest: Vec<String>,
}

impl PortalPath {
    /// `None` for paths outside `/p/{slug}` or with a malformed slug.
    pub fn parse(path: &str) -> Option<Self> {
        let mut segments = path.trim_start_matches('/').split('/');
        if segments.next()? != "p" {
            return None;
        }
        let slug = CompanySlug::parse(segments.next()?).ok()?;
        let rest = segments
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        Some(Self { slug, rest })
    }

    pub fn rest(&self) -> Vec<&str> {
        self.rest.iter().map(String::as_str).collect()
    }
}

/// The request's path, as API Gateway received it.
pub fn path(req: &Request) -> &str {
    req.uri().path()
}

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name).map(str::to_owned))
        .or_else(|| {
            let query = req.uri().query()?;
            form_urlencoded::parse(query.as_bytes())
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
        })
}

/// A query string's name/value pairs, decoded.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Whether the caller asked for JSON rather than a page.
pub fn wants_json(req: &Request) -> bool {
    let accept: Vec<&str> = req
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    prefers_json(&accept)
}

/// Whether JSON is acceptable and ranks above HTML among the caller's media ranges
/// (RFC 9110: case-insensitive types, `q=0` meaning "not acceptable").
fn prefers_json(ranges: &[&str]) -> bool {
    let quality = |wanted: &[&str]| {
        ranges
            .iter()
            .filter_map(|range| {
                let mut parts = range.split(';');
                let media = parts.next()?.trim().to_ascii_lowercase();
                let q = parts
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                wanted.contains(&media.as_str()).then_some(q)
            })
            .fold(None, |best: Option<f32>, q| {
                Some(best.map_or(q, |b| b.max(q)))
            })
    };
    let json = quality(&["application/json", "application/problem+json"]).unwrap_or(0.0);
    let html = quality(&["text/html", "application/xhtml+xml"]).unwrap_or(0.0);
    json > 0.0 && json >= html
}

/// A form body (`application/x-www-form-urlencoded`) as name/value pairs.
pub fn form(req: &Request) -> Vec<(String, String)> {
    let bytes: &[u8] = req.body().as_ref();
    form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Whether the request carries a body that is not a URL-encoded form (JSON, multipart),
/// which [`form`] would read as no fields at all.
pub fn has_non_form_body(req: &Request) -> bool {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.is_empty() {
        return false;
    }
    let media_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    media_type.as_deref() != Some("application/x-www-form-urlencoded")
}

/// 415 for a body [`has_non_form_body`] refuses: the action takes a form and nothing else.
pub fn form_body_required(json: bool, company: Option<(&CompanySlug, &str)>) -> Response<Body> {
    let why = "Send the form's fields as application/x-www-form-urlencoded.";
    let status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
    refused(json, status, "Unsupported body", company, why)
}

/// A request refused before it did anything: problem details for a program, for a person
/// a "Request refused" page under the company's header, both saying `why`.
fn refused(
    json: bool,
    status: StatusCode,
    title: &str,
    company: Option<(&CompanySlug, &str)>,
    why: &str,
) -> Response<Body> {
    if json {
        problem(status, title, Some(why))
    } else {
        html(
            status,
            crate::views::message_page("Request refused", company, why),
        )
    }
}

pub fn form_value<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The value of one cookie from the `Cookie` header(s).
pub fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The caller's address as API Gateway saw it.
pub fn source_ip(req: &Request) -> Option<String> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

pub fn user_agent(req: &Request) -> Option<String> {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

pub fn is_method(req: &Request, method: Method) -> bool {
    req.method() == method
}

fn build(status: StatusCode, content_type: &str, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).expect("static"),
    );
    // Pages carry personal data: never cache them in shared caches, never frame them.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // `same-origin`, not `no-referrer`: under no-referrer browsers send `Origin: null` with
    // the portal's own form posts, which the cross-site check has to refuse.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}

pub fn html(status: StatusCode, page: Markup) -> Response<Body> {
    build(
        status,
        "text/html; charset=utf-8",
        Body::Text(page.into_string()),
    )
}

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(text) => build(status, "application/json", Body::Text(text)),
        Err(error) => {
            tracing::error!(error = %error, "response did not serialize");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                None,
            )
        }
    }
}

/// A file to save rather than show (an export), with the same protective headers as
/// pages. `filename` must be plain ASCII without quotes; callers build it from slugs and dates.
pub fn download(content_type: &str, filename: &str, body: String) -> Response<Body> {
    let mut response = build(StatusCode::OK, content_type, Body::Text(body));
    let disposition = format!("attachment; filename=\"{filename}\"");
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// RFC 9457 problem details for programs.
pub fn problem(status: StatusCode, title: &str, detail: Option<&str>) -> Response<Body> {
    let mut body = serde_json::json!({ "type": "about:blank", "title": title,
        "status": status.as_u16() });
    if let Some(detail) = detail {
        body["detail"] = detail.into();
    }
    build(
        status,
        "application/problem+json",
        Body::Text(body.to_string()),
    )
}

/// 303 See Other: after a form POST the browser loads the target with GET.
pub fn see_other(location: &str) -> Response<Body> {
    let mut response = build(
        StatusCode::SEE_OTHER,
        "text/plain; charset=utf-8",
        Body::Empty,
    );
    let value = HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/"));
    response.headers_mut().insert(header::LOCATION, value);
    response
}

pub fn with_cookie(mut response: Response<Body>, cookie: &str) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// A response to HEAD carries the headers of GET and no body.
pub fn without_body(mut response: Response<Body>) -> Response<Body> {
    *response.body_mut() = Body::Empty;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_paths_parse() {
        let path = PortalPath::parse("/p/greenridge/login/abc").expect("valid");
        assert_eq!(path.slug.as_str(), "greenridge");
        assert_eq!(path.rest(), ["login", "abc"]);
        assert_eq!(
            PortalPath::parse("/p/greenridge/").expect("valid").rest,
            Vec::<String>::new()
        );
        assert!(PortalPath::parse("/q/greenridge").is_none());
        assert!(PortalPath::parse("/p/Bad_Slug").is_none());
        assert!(PortalPath::parse("/p").is_none());
    }

    fn with_headers(pairs: &[(&str, &str)]) -> Request {
        let mut builder = lambda_http::http::Request::builder();
        for (name, value) in pairs {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::Empty).expect("valid request")
    }

    #[test]
    fn cross_site_posts_are_recognised() {
        let host = ("host", "portal.example.com");
        let rows: [(&[(&str, &str)], bool); 7] = [
            (&[host], false),
            (&[host, ("origin", "https://portal.example.com")], false),
            (&[host, ("origin", "https://evil.example")], true),
            (&[host, ("origin", "null")], true),
            (
                &[host, ("origin", "null"), ("sec-fetch-site", "same-origin")],
                false,
            ),
            (&[host, ("sec-fetch-site", "cross-site")], true),
            (&[host, ("sec-fetch-site", "same-site")], true),
        ];
        for (headers, cross) in rows {
            assert_eq!(is_cross_site(&with_headers(headers)), cross, "{headers:?}");
        }
    }

    #[test]
    fn json_is_chosen_by_media_ranges() {
        let rows: [(&[&str], bool); 7] = [
            (&["application/json"], true),
            (&["APPLICATION/JSON"], true),
            (&["application/json;q=0"], false),
            (&["text/html", "application/xhtml+xml", "*/*;q=0.8"], false),
            (&["text/html;q=0.5", "application/json"], true),
            (&["application/problem+json"], true),
            (&[], false),
        ];
        for (ranges, json) in rows {
            assert_eq!(prefers_json(ranges), json, "{ranges:?}");
        }
    }

    #[test]
    fn cookies_are_found_among_others() {
        let req = lambda_http::http::Request::builder()
            .header("cookie", "a=1; porchlight_session=xyz; b=2")
            .body(Body::Empty)
            .expect("valid request");
        assert_eq!(cookie(&req, "porchlight_session").as_deref(), Some("xyz"));
        assert_eq!(cookie(&req, "missing"), None);
    }
}

/// A failure that is ours, not the caller's: logged once in full, answered generically.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
}

/// A 500 with a generic message; the cause goes to the log, never to the caller.
pub fn failure_response(failure: &Failure, json: bool) -> Response<Body> {
    let cause: &dyn std::error::Error = failure;
    let mut chain = vec![cause.to_string()];
    let mut source = cause.source();
    while let Some(inner) = source {
        chain.push(inner.to_string());
        source = inner.source();
    }
    tracing::error!(error = %chain.join(": "), "request failed");
    if json {
        problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            None,
        )
    } else {
        html(
            StatusCode::INTERNAL_SERVER_ERROR,
            crate::views::server_error(),
        )
    }
}

/// The one 404, identical for what does not exist and for what belongs to someone else.
pub fn not_found(json: bool, company: Option<(&CompanySlug, &str)>) -> Response<Body> {
    if json {
        problem(StatusCode::NOT_FOUND, "Not found", None)
    } else {
        html(StatusCode::NOT_FOUND, crate::views::not_found(company))
    }
}

/// API Gateway's id of the request, which its access logs carry too.
fn request_id(req: &Request) -> Option<&str> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.request_id.as_deref(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// One log line per request. `route` is the template path, never the raw path, which can
/// hold a login token.
/// What a portal function's router answers: the route template it matched (for the log;
/// never the raw path, which can hold a token) and the response, or a failure.
pub type Routed = Result<(&'static str, Response<Body>), Failure>;

/// Turns a router's answer into the response: a failure becomes the error page or problem
/// details, the request gets its one log line, and a HEAD answer loses its body.
pub fn finish(function: &str, req: &Request, routed: Routed) -> Response<Body> {
    let (route, response) = match routed {
        Ok(answer) => answer,
        Err(failure) => ("-", failure_response(&failure, wants_json(req))),
    };
    log_request(function, route, req, &response);
    if req.method() == Method::HEAD {
        without_body(response)
    } else {
        response
    }
}

pub fn log_request(function: &str, route: &str, req: &Request, response: &Response<Body>) {
    let (duration_ms, dynamo_requests, named) = crate::request_scope::so_far()
        .map_or((None, None, None), |(ms, n, company)| {
            (Some(ms), Some(n), company)
        });
    let path_company = req.path_parameters().first("slug").map(str::to_owned);
    let company = named.map(|c| c.to_string()).or(path_company);
    tracing::info!(
        function,
        route,
        method = %req.method(),
        status = response.status().as_u16(),
        request_id = request_id(req).unwrap_or("-"),
        company = company.as_deref().unwrap_or("-"),
        duration_ms,
        dynamo_requests,
        "request handled"
    );
}

/// Whether a browser says this request comes from another site: `Sec-Fetch-Site` other
/// than `same-origin` (or `none`: typed by the person), or else an `Origin` whose host
/// differs from the request's own `Host` (`Origin: null` included). A request with neither
/// header comes from a program, not a browser, and passes. SameSite=Lax already keeps the
/// session cookie off cross-site POSTs; this refuses them outright for session actions.
pub fn is_cross_site(req: &Request) -> bool {
    let header_text = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    if let Some(site) = header_text("sec-fetch-site") {
        return !matches!(site.as_str(), "same-origin" | "none");
    }
    let Some(origin) = header_text("origin") else {
        return false;
    };
    let origin_host = origin
        .split_once("://")
        .map_or(origin.as_str(), |(_, rest)| rest);
    match header_text("host") {
        Some(host) => origin_host != host,
        None => true,
    }
}

/// 401 for a page that needs a session: the sign-in form with `why` above it, or for a
/// program the problem naming where to ask for a link.
pub fn sign_in_first(json: bool, company: (&CompanySlug, &str), why: &str) -> Response<Body> {
    if json {
        let detail = format!("POST an email to /p/{}/login", company.0);
        problem(StatusCode::UNAUTHORIZED, "Sign in first", Some(&detail))
    } else {
        html(
            StatusCode::UNAUTHORIZED,
            crate::views::login::login(company, Some(why), ""),
        )
    }
}

/// The refusal for a cross-site request.
pub fn cross_site_refused(json: bool, company: Option<(&CompanySlug, &str)>) -> Response<Body> {
    let why = "This action must come from the portal's own pages.";
    let title = "Cross-site request refused";
    refused(json, StatusCode::FORBIDDEN, title, company, why)
}
