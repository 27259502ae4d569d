//! API Gateway HTTP API (payload 2.0) events, built the way API Gateway sends them and turned
//! into requests by `lambda_http` itself.

use lambda_http::Request;

/// A request to send to a handler.
#[derive(Debug, Clone)]
pub struct Event {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    cookies: Vec<String>,
    body: Option<String>,
    source_ip: String,
}

impl Event {
    fn new(method: &str, target: &str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: vec![("user-agent".into(), "porchlight-tests".into())],
            cookies: vec![],
            body: None,
            source_ip: "198.51.100.7".into(),
        }
    }

    pub fn get(target: &str) -> Self {
        Self::new("GET", target)
    }

    pub fn head(target: &str) -> Self {
        Self::new("HEAD", target)
    }

    pub fn post(target: &str) -> Self {
        Self::new("POST", target)
    }

    /// A form body, URL-encoded.
    pub fn form(mut self, fields: &[(&str, &str)]) -> Self {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.headers.push((
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        self.body = Some(body);
        self
    }

    pub fn cookie(mut self, cookie: Option<&str>) -> Self {
        if let Some(cookie) = cookie {
            self.cookies.push(cookie.into());
        }
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_lowercase(), value.into()));
        self
    }

    pub fn patch(target: &str) -> Self {
        Self::new("PATCH", target)
    }

    pub fn put(target: &str) -> Self {
        Self::new("PUT", target)
    }

    pub fn delete(target: &str) -> Self {
        Self::new("DELETE", target)
    }

    /// A JSON body.
    pub fn body_json(mut self, value: &serde_json::Value) -> Self {
        self.headers
            .push(("content-type".into(), "application/json".into()));
        self.body = Some(value.to_string());
        self
    }

    /// A body sent as it is, for malformed input.
    pub fn body_text(mut self, text: &str) -> Self {
        self.body = Some(text.to_owned());
        self
    }

    /// `Authorization: Bearer <key>`.
    pub fn bearer(self, key: &str) -> Self {
        self.header("authorization", &format!("Bearer {key}"))
    }

    pub fn json(self) -> Self {
        self.header("accept", "application/json")
    }

    pub fn from_ip(mut self, ip: &str) -> Self {
        self.source_ip = ip.into();
        self
    }

    /// The event as API Gateway would deliver it to Lambda.
    pub fn to_json(&self) -> serde_json::Value {
        let headers: serde_json::Map<String, serde_json::Value> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect();
        let query: serde_json::Map<String, serde_json::Value> =
            form_urlencoded::parse(self.query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned().into()))
                .collect();
        let route_key = format!("{} {}", self.method, self.path);
        serde_json::json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": self.path,
            "rawQueryString": self.query,
            "cookies": self.cookies,
            "headers": headers,
            "queryStringParameters": query,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api-id",
                "domainName": "portal.example.com",
                "domainPrefix": "portal",
                "http": {
                    "method": self.method,
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": self.source_ip,
                    "userAgent": "porchlight-tests",
                },
                "requestId": "test-request",
                "routeKey": route_key,
                "stage": "$default",
                "time": "04/Dec/2026:12:00:00 +0000",
                "timeEpoch": 1_796_385_600_000u64,
            },
            "body": self.body,
            "isBase64Encoded": false,
        })
    }

    pub fn into_request(&self) -> Request {
        lambda_http::request::from_str(&self.to_json().to_string())
            .expect("the test event is a valid API Gateway v2 event")
    }
}
