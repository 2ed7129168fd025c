//! A creator's pages: my things (register, edit, hide, delete, prove, the embed code:
//! [`things`]), my domains (claim, verify: [`domains`]), my earnings per period and per thing
//! with a chart, payouts ([`earnings`]). Registering and proving go through `proving` as the
//! API does (network first, then one transaction); fields are parsed by `domain::thing`'s
//! parsers. This file: the thing form and the "my things" page both things and domains show.

pub mod domains;
pub mod earnings;
pub mod things;

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::domain::money::Money;
use crate::domain::proof::Domain;
use crate::domain::thing::{
    CATEGORIES, ThingFields, parse_category, parse_description, parse_language, parse_tags,
    parse_title,
};
use crate::federation::actors::user_url;
use crate::state::AppState;
use crate::store::{self, users};
use crate::web::button::embed_code;
use crate::web::forms::FormError;
use crate::web::session::Visitor;
use crate::web::{FieldError, Nav, PageError, render};

/// The register and edit forms, as typed.
#[derive(Deserialize, Default, Clone)]
pub struct ThingForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    category: String,
    /// Tags as typed: separated by commas (a tag holds no comma, as in the API).
    #[serde(default)]
    tags: String,
    /// A language tag such as `en`, or empty.
    #[serde(default)]
    language: String,
}

impl ThingForm {
    /// True when `category` is the one chosen (for the form's `selected`).
    fn is_category(&self, category: &str) -> bool {
        self.category == category
    }

    /// The typed tags, one per comma-separated part (empty parts left out).
    fn tag_list(&self) -> Vec<String> {
        self.tags
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The fields, parsed by the same rules as the API's.
    fn fields(&self, hidden: bool) -> Result<ThingFields, PageError> {
        Ok(ThingFields {
            title: parse_title(&self.title)?,
            description: parse_description(&self.description)?,
            tags: parse_tags(&self.tag_list())?,
            language: parse_language(&self.language)?,
            category: parse_category(&self.category)?,
            hidden,
        })
    }
}

/// A thing in "my things".
pub struct MyThing {
    id: i64,
    title: String,
    url: String,
    count: i64,
    hidden: bool,
    proven: bool,
    problem: String,
    held: String,
    embed: String,
}

/// A domain claim in "my things".
pub struct MyDomain {
    domain: String,
    token: String,
    check_url: String,
    verified: bool,
}

#[derive(Template)]
#[template(path = "things.html")]
struct ThingsPage {
    nav: Nav,
    notice: Option<String>,
    categories: &'static [&'static str],
    form: ThingForm,
    domain_typed: String,
    things: Vec<MyThing>,
    domains: Vec<MyDomain>,
    payment_link: String,
    error: Option<FieldError>,
}

impl FormError for ThingsPage {
    fn form_error(&self) -> Option<&FieldError> {
        self.error.as_ref()
    }
}

/// What "my things" is shown with besides the stored state.
#[derive(Default)]
pub struct ThingsInput {
    /// What the form redirected here did.
    pub notice: Option<String>,
    /// The thing form as typed.
    pub form: ThingForm,
    /// The domain form as typed.
    pub domain_typed: String,
    /// The refused field.
    pub error: Option<FieldError>,
}

/// "My things" with its things, domains and forms, and `input` (a notice, what was typed, a
/// refusal) shown with `status`.
pub async fn things_page(
    data: &AppState,
    visitor: &Visitor,
    user_id: i64,
    status: StatusCode,
    input: ThingsInput,
) -> Result<Response, PageError> {
    let pool = data.store.pool();
    let user = users::by_id(pool, user_id).await?;
    let base = &data.settings.base_url;
    let things = store::things::by_owner(pool, user_id, true)
        .await?
        .into_iter()
        .map(|t| MyThing {
            embed: embed_code(base, &t.url, None),
            proven: t.proven_at.is_some(),
            problem: t.proof_problem.clone().unwrap_or_else(|| {
                "link the page back with rel=\"payment\" or verify its domain".into()
            }),
            held: if t.held > 0 {
                Money::from_minor(t.held).to_string()
            } else {
                String::new()
            },
            count: t.flattrs + t.remote_flattrs,
            hidden: t.hidden != 0,
            id: t.id,
            title: t.title,
            url: t.url,
        })
        .collect();
    let domains = store::domains::all_of_user(pool, user_id)
        .await?
        .into_iter()
        .map(|d| MyDomain {
            check_url: Domain::parse(&d.domain)
                .and_then(|p| p.well_known_url(data.settings.development_mode))
                .map(|u| u.to_string())
                .unwrap_or_default(),
            verified: d.verified_at.is_some(),
            domain: d.domain,
            token: d.token,
        })
        .collect();
    let mut form = input.form;
    if form.category.is_empty() {
        form.category = "text".into();
    }
    let page = ThingsPage {
        nav: Nav::of(data, visitor).await?,
        notice: input.notice,
        categories: CATEGORIES,
        form,
        domain_typed: input.domain_typed,
        things,
        domains,
        payment_link: format!(
            "<link rel=\"payment\" href=\"{}\">",
            user_url(data, &user.username)
        ),
        error: input.error,
    };
    Ok(render(status, &page))
}
