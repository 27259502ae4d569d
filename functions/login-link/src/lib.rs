//! Signing in by emailed link: asking for a link, the confirm page, redeeming it, choosing an
//! account, and signing out.
//!
//! - `POST /p/{slug}/login`: emails a link if the address is on file; the same page either way.
//! - `GET|HEAD /p/{slug}/login/{token}`: the confirm page. It changes nothing, because mail
//!   scanners open links too.
//! - `POST /p/{slug}/login/{token}`: spends the link, opens a session, and voids the
//!   address's other open links.
//! - `POST /p/{slug}/account`: picks which of the address's accounts to view.
//! - `POST /p/{slug}/logout`: ends the session.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use maud::html;
use porchlight_shared::auth::{self, LOGIN_LINK_LIFETIME, SESSION_LIFETIME};
use porchlight_shared::context::AppContext;
use porchlight_shared::domain::Company;
use porchlight_shared::http::{self, Failure, PortalPath};
use porchlight_shared::ids::{ClientId, SecretToken};
use porchlight_shared::mail::{Email, Mailbox};
use porchlight_shared::store::{LinkState, LoginLink, Session};
use porchlight_shared::views::{self, login as pages};

/// Sign-in links one address can ask for in an hour; more would let anyone flood a mailbox.
const LINKS_PER_HOUR: u32 = 5;

pub async fn handle(ctx: &AppContext, req: Request) -> Response<Body> {
    let routed = route(ctx, &req).await;
    http::finish("login-link", &req, routed)
}

type Answer = http::Routed;

async fn route(ctx: &AppContext, req: &Request) -> Answer {
    let json = http::wants_json(req);
    let Some(path) = PortalPath::parse(http::path(req)) else {
        return Ok(("-", http::not_found(json, None)));
    };
    let Some(company) = ctx.store.company(&path.slug).await? else {
        return Ok(("-", http::not_found(json, None)));
    };
    let method = req.method().clone();
    // Redeeming is refused cross-site too: another site must not sign a visitor in to an
    // account of its choosing (login CSRF).
    let session_action = matches!(
        path.rest().as_slice(),
        ["account"] | ["logout"] | ["login", _]
    );
    if method == Method::POST && session_action && http::is_cross_site(req) {
        tracing::warn!(slug = %company.slug, "cross-site session action refused");
        let names = (&company.slug, company.name.as_str());
        return Ok(("-", http::cross_site_refused(json, Some(names))));
    }
    match (method, path.rest().as_slice()) {
        (Method::POST, ["login"]) => {
            Ok(("/p/{slug}/login", request_link(ctx, req, &company).await?))
        }
        (Method::GET, ["login", token]) => Ok((
            "/p/{slug}/login/{token}",
            confirm(ctx, req, &company, token).await?,
        )),
        (Method::HEAD, ["login", token]) => {
            let page = confirm(ctx, req, &company, token).await?;
            Ok(("/p/{slug}/login/{token}", http::without_body(page)))
        }
        (Method::POST, ["login", token]) => Ok((
            "/p/{slug}/login/{token}",
            redeem(ctx, req, &company, token).await?,
        )),
        (Method::POST, ["account"]) => Ok(("/p/{slug}/account", choose(ctx, req, &company).await?)),
        (Method::POST, ["logout"]) => Ok(("/p/{slug}/logout", logout(ctx, req, &company).await?)),
        _ => Ok((
            "-",
            http::not_found(json, Some((&company.slug, &company.name))),
        )),
    }
}

fn portal_home(company: &Company) -> String {
    format!("/p/{}/", company.slug)
}

/// Answers the same page whether or not the address is on file, so the form cannot be used
/// to learn who is a client.
async fn request_link(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
) -> Result<Response<Body>, Failure> {
    let json = http::wants_json(req);
    let form = http::form(req);
    let typed = http::form_value(&form, "email")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let names = (&company.slug, company.name.as_str());
    let Ok(mailbox) = Mailbox::parse(&typed) else {
        let message = "Please enter an email address like name@example.com";
        return Ok(if json {
            http::problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid email",
                Some(message),
            )
        } else {
            http::html(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::login(names, Some(message), &typed),
            )
        });
    };

    // Wall-clock time, not the context's clock: this is about how long the answer takes.
    let started = tokio::time::Instant::now();
    let now = ctx.clock.now();
    let entry = ctx
        .store
        .email_entry(&company.slug, &mailbox.address)
        .await?;
    let known = entry.as_ref().filter(|entry| !entry.clients.is_empty());
    if let Some(entry) = known {
        let source = format!("login:{}", mailbox.address);
        if ctx
            .store
            .take_rate_slot(&company.slug, &source, now, LINKS_PER_HOUR)
            .await?
        {
            send_link(ctx, company, &mailbox, entry.clients.clone(), now).await?;
        } else {
            tracing::warn!(slug = %company.slug, "login link rate limit reached; no email sent");
        }
    } else {
        tracing::info!(slug = %company.slug, "login link asked for an address not on file");
    }
    // Known and unknown addresses answer after the same least time, so the time taken does
    // not tell whether a link was sent.
    tokio::time::sleep_until(started + ctx.config.login_answer_floor).await;

    Ok(if json {
        http::json(
            StatusCode::OK,
            &serde_json::json!({
                "status": "sent_if_known",
                "detail": "If the address belongs to an account, a sign-in link was emailed.",
            }),
        )
    } else {
        http::html(StatusCode::OK, pages::link_sent(names, &mailbox.address))
    })
}

async fn send_link(
    ctx: &AppContext,
    company: &Company,
    mailbox: &Mailbox,
    clients: Vec<porchlight_shared::domain::ClientRef>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Failure> {
    let token = SecretToken::generate();
    let link = LoginLink {
        email: mailbox.address.clone(),
        clients,
        issued_at: now,
        expires_at: now + LOGIN_LINK_LIFETIME,
        used_at: None,
    };
    ctx.store
        .put_login_link(&company.slug, &token.hash(), &link)
        .await?;

    let url = format!(
        "{}/p/{}/login/{}",
        ctx.config.base_url,
        company.slug,
        token.expose()
    );
    let from = Mailbox::parse_with_name(&ctx.config.mail_from)
        .unwrap_or_else(|_| mailbox.clone())
        .named(&company.name);
    let name = &company.name;
    let html = views::email::message(
        name,
        html! {
            p { "Hello," }
            p { "Use this link to sign in to your " (name) " portal:" }
            (views::email::button("Sign in", &url))
            p { "The link works once and expires in 15 minutes. If you did not ask for it, \
                 you can ignore this email." }
            p { (name) }
        },
    );
    let email = Email {
        from,
        to: vec![mailbox.clone()],
        reply_to: Mailbox::parse(&company.notify_email).ok(),
        subject: format!("Your sign-in link for {name}"),
        body: format!(
            "Hello,\n\nUse this link to sign in to your {name} portal:\n\n{url}\n\n\
             The link works once and expires in 15 minutes. If you did not ask for it, you \
             can ignore this email.\n\n{name}\n"
        ),
        unsubscribe: None,
        html: Some(html),
    };
    ctx.mailer.send(&email, now).await?;
    tracing::info!(slug = %company.slug, link = token.hash().log_prefix(), "login link sent");
    Ok(())
}

/// The state of a link as the person holding it should hear it.
async fn link_state(
    ctx: &AppContext,
    company: &Company,
    token: &SecretToken,
) -> Result<Option<(LoginLink, LinkState)>, Failure> {
    let Some(link) = ctx.store.login_link(&company.slug, &token.hash()).await? else {
        return Ok(None);
    };
    let entry = ctx.store.email_entry(&company.slug, &link.email).await?;
    let state = link.state(entry.as_ref(), ctx.clock.now());
    Ok(Some((link, state)))
}

fn refused(json: bool, company: &Company, state: Option<LinkState>) -> Response<Body> {
    let (status, title) = match state {
        Some(LinkState::Used) => (StatusCode::GONE, "Link already used"),
        Some(LinkState::Expired) => (StatusCode::GONE, "Link expired"),
        Some(LinkState::Superseded) => (StatusCode::GONE, "Link no longer valid"),
        _ => (StatusCode::NOT_FOUND, "Link not valid"),
    };
    if json {
        http::problem(status, title, Some("Ask for a new sign-in link."))
    } else {
        http::html(
            status,
            pages::link_refused((&company.slug, &company.name), state),
        )
    }
}

async fn confirm(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
    raw_token: &str,
) -> Result<Response<Body>, Failure> {
    let json = http::wants_json(req);
    let Some(token) = SecretToken::parse(raw_token) else {
        return Ok(refused(json, company, None));
    };
    match link_state(ctx, company, &token).await? {
        Some((_, LinkState::Usable)) if json => Ok(http::json(
            StatusCode::OK,
            &serde_json::json!({ "status": "usable", "confirm": "POST this address to sign in" }),
        )),
        Some((_, LinkState::Usable)) => Ok(http::html(
            StatusCode::OK,
            pages::confirm((&company.slug, &company.name), &token),
        )),
        other => Ok(refused(json, company, other.map(|(_, state)| state))),
    }
}

async fn redeem(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
    raw_token: &str,
) -> Result<Response<Body>, Failure> {
    let json = http::wants_json(req);
    let Some(token) = SecretToken::parse(raw_token) else {
        return Ok(refused(json, company, None));
    };
    let (link, state) = match link_state(ctx, company, &token).await? {
        Some(found) => found,
        None => return Ok(refused(json, company, None)),
    };
    if state == LinkState::Used && already_signed_in(ctx, req, company, &link.email).await? {
        // A double click: the first click signed this browser in; take it to the portal.
        return Ok(http::see_other(&portal_home(company)));
    }
    if state != LinkState::Usable {
        return Ok(refused(json, company, Some(state)));
    }

    let now = ctx.clock.now();
    let session_token = SecretToken::generate();
    let fresh = ctx.store.email_entry(&company.slug, &link.email).await?;
    // The accounts the address reaches now, not when the link was sent. Not empty: a link
    // whose address reaches no account is not usable (`LoginLink::state`).
    let clients = fresh.map(|entry| entry.clients).unwrap_or_default();
    let session = Session {
        email: link.email.clone(),
        active_client: (clients.len() == 1).then(|| clients[0].id.clone()),
        clients,
        created_at: now,
        expires_at: now + SESSION_LIFETIME,
    };
    let spent = ctx
        .store
        .redeem_login_link(
            &company.slug,
            &token.hash(),
            &link,
            &session_token.hash(),
            &session,
            now,
        )
        .await;
    match spent {
        Ok(()) => {}
        Err(error) if error.is_condition_failed() => {
            // Another redemption won the race, or the link expired in between.
            let state = link_state(ctx, company, &token)
                .await?
                .map(|(_, state)| state);
            let state = match state {
                Some(LinkState::Usable) | None => Some(LinkState::Used),
                other => other,
            };
            return Ok(refused(json, company, state));
        }
        Err(error) => return Err(error.into()),
    }

    tracing::info!(slug = %company.slug, link = token.hash().log_prefix(),
        accounts = session.clients.len(), "signed in");
    let cookie = auth::session_cookie(&company.slug, &session_token, ctx.config.secure_cookies());
    Ok(http::with_cookie(
        http::see_other(&portal_home(company)),
        &cookie,
    ))
}

/// Whether the request carries a live session of this address in this company.
async fn already_signed_in(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
    email: &str,
) -> Result<bool, Failure> {
    let signed_in = auth::signed_in(&ctx.store, req, &company.slug, ctx.clock.now()).await?;
    Ok(signed_in.is_some_and(|s| s.session.email == email))
}

async fn choose(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
) -> Result<Response<Body>, Failure> {
    let json = http::wants_json(req);
    let now = ctx.clock.now();
    let Some(signed_in) = auth::signed_in(&ctx.store, req, &company.slug, now).await? else {
        return Ok(http::see_other(&portal_home(company)));
    };
    let form = http::form(req);
    let chosen = http::form_value(&form, "client").and_then(|raw| ClientId::parse(raw).ok());
    let Some(client) = chosen else {
        return Ok(http::not_found(json, Some((&company.slug, &company.name))));
    };
    if ctx
        .store
        .choose_session_client(&company.slug, &signed_in.token, &client, now)
        .await?
    {
        Ok(http::see_other(&portal_home(company)))
    } else {
        Ok(http::not_found(json, Some((&company.slug, &company.name))))
    }
}

async fn logout(
    ctx: &AppContext,
    req: &Request,
    company: &Company,
) -> Result<Response<Body>, Failure> {
    let now = ctx.clock.now();
    if let Some(signed_in) = auth::signed_in(&ctx.store, req, &company.slug, now).await? {
        ctx.store
            .end_session(&company.slug, &signed_in.token)
            .await?;
        tracing::info!(slug = %company.slug, "signed out");
    }
    let cookie = auth::clear_session_cookie(&company.slug, ctx.config.secure_cookies());
    Ok(http::with_cookie(
        http::see_other(&portal_home(company)),
        &cookie,
    ))
}
