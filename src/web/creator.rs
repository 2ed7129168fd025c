//! A creator's pages: my things (register, edit, hide, delete, prove, the embed code), my
//! domains (claim, verify), my earnings per period and per thing with a chart, payouts.
//! Registering and proving go through `proving` as the API does (network first, then one
//! transaction); fields are parsed by `domain::thing`'s parsers.

use activitypub_federation::config::Data;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::button::embed_code;
use super::chart::Chart;
use super::reader::{FormError, NoticeQuery, TokenForm};
use super::session::Visitor;
use super::{FieldError, Form, Nav, PageError, Path, Query, render};
use crate::domain::money::Money;
use crate::domain::proof::Domain;
use crate::domain::thing::{
    CATEGORIES, ThingFields, ThingUrl, parse_category, parse_description, parse_language,
    parse_title,
};
use crate::federation::actors::user_url;
use crate::http::error::ApiError;
use crate::ledger::payouts;
use crate::ledger::{self, Account};
use crate::proving;
use crate::state::AppState;
use crate::store::{StoreError, domains, earnings, things, users};

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
}

impl ThingForm {
    /// True when `category` is the one chosen (for the form's `selected`).
    fn is_category(&self, category: &str) -> bool {
        self.category == category
    }

    /// The fields, parsed by the same rules as the API's.
    fn fields(&self, hidden: bool) -> Result<ThingFields, PageError> {
        Ok(ThingFields {
            title: parse_title(&self.title)?,
            description: parse_description(&self.description)?,
            tags: Vec::new(),
            language: parse_language("")?,
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
struct ThingsInput {
    notice: Option<String>,
    form: ThingForm,
    domain_typed: String,
    error: Option<FieldError>,
}

async fn things_page(
    data: &AppState,
    visitor: &Visitor,
    user_id: i64,
    status: StatusCode,
    input: ThingsInput,
) -> Result<Response, PageError> {
    let pool = data.store.pool();
    let user = users::by_id(pool, user_id).await?;
    let base = &data.settings.base_url;
    let things = things::by_owner(pool, user_id, true)
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
    let domains = domains::all_of_user(pool, user_id)
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

/// The refusal of a form field to show on the page (failures of ours stay errors).
fn refusal(
    error: impl Into<PageError>,
    field: &str,
) -> Result<(StatusCode, FieldError), PageError> {
    match error.into() {
        PageError::Api(api) if !api.status().is_server_error() => {
            Ok((api.status(), FieldError::from_api(&api, field)))
        }
        other => Err(other),
    }
}

/// GET /me/things
pub async fn my_things(
    data: Data<AppState>,
    visitor: Visitor,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me/things")?;
    let input = ThingsInput {
        notice: query.notice("things"),
        ..ThingsInput::default()
    };
    things_page(&data, &visitor, user, StatusCode::OK, input).await
}

async fn register_thing(
    data: &Data<AppState>,
    user: i64,
    form: &ThingForm,
) -> Result<(), PageError> {
    let url = ThingUrl::parse(&form.url)?;
    let fields = form.fields(false)?;
    let examined = proving::examine(data, &url).await?;
    let mut tx = data.store.begin().await?;
    proving::register(&mut tx, data, user, &url, &fields, &examined).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// POST /me/things: registers a thing.
pub async fn register(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<ThingForm>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me/things")?;
    visitor.check(&form.csrf)?;
    match register_thing(&data, user, &form).await {
        Ok(()) => Ok(Redirect::to("/me/things?done=registered").into_response()),
        Err(error) => {
            let (status, error) = refusal(error, "url")?;
            let input = ThingsInput {
                form,
                error: Some(error),
                ..ThingsInput::default()
            };
            things_page(&data, &visitor, user, status, input).await
        }
    }
}

/// POST /me/things/{id}/prove: checks the proof again.
pub async fn prove(
    data: Data<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me/things")?;
    visitor.check(form.token())?;
    let row = proving::prove(&data, user, id).await?;
    let done = if row.proven_at.is_some() {
        "proven"
    } else {
        "unproven"
    };
    Ok(Redirect::to(&format!("/me/things?done={done}")).into_response())
}

/// POST /me/things/{id}/hide: hides a shown thing, shows a hidden one.
pub async fn hide(
    data: Data<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me/things")?;
    visitor.check(form.token())?;
    let mut tx = data.store.begin().await?;
    let current = things::by_id(&mut *tx, id).await?;
    let fields = ThingFields {
        tags: current.tags(),
        hidden: current.hidden == 0,
        title: current.title,
        description: current.description,
        language: current.language,
        category: current.category,
    };
    things::update(&mut tx, id, user, &fields, data.clock.now()).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Redirect::to("/me/things?done=changed").into_response())
}

/// POST /me/things/{id}/delete: deletes a thing (its open flattrs are withdrawn).
pub async fn delete(
    data: Data<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me/things")?;
    visitor.check(form.token())?;
    let mut tx = data.store.begin().await?;
    things::delete(&mut tx, id, user, data.clock.now()).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Redirect::to("/me/things?done=deleted").into_response())
}

#[derive(Template)]
#[template(path = "edit_thing.html")]
struct EditPage {
    nav: Nav,
    id: i64,
    categories: &'static [&'static str],
    form: ThingForm,
    error: Option<FieldError>,
}

impl FormError for EditPage {
    fn form_error(&self) -> Option<&FieldError> {
        self.error.as_ref()
    }
}

/// GET /me/things/{id}/edit
pub async fn edit_form(
    data: Data<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me/things")?;
    let thing = things::by_id(data.store.pool(), id).await?;
    if thing.owner_id != Some(user) {
        return Err(StoreError::Forbidden("a thing").into());
    }
    let page = EditPage {
        nav: Nav::of(&data, &visitor).await?,
        id,
        categories: CATEGORIES,
        form: ThingForm {
            csrf: String::new(),
            url: thing.url,
            title: thing.title,
            description: thing.description,
            category: thing.category,
        },
        error: None,
    };
    Ok(render(StatusCode::OK, &page))
}

/// POST /me/things/{id}/edit
pub async fn edit(
    data: Data<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(mut form): Form<ThingForm>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me/things")?;
    visitor.check(&form.csrf)?;
    let mut tx = data.store.begin().await?;
    let current = things::by_id(&mut *tx, id).await?;
    let saved = match form.fields(current.hidden != 0) {
        Ok(mut fields) => {
            // The form edits no tags or language: they stay as they were.
            fields.tags = current.tags();
            fields.language = current.language.clone();
            things::update(&mut tx, id, user, &fields, data.clock.now())
                .await
                .map_err(PageError::from)
        }
        Err(error) => Err(error),
    };
    match saved {
        Ok(_) => {
            tx.commit().await.map_err(StoreError::from)?;
            Ok(Redirect::to("/me/things?done=changed").into_response())
        }
        Err(error) => {
            drop(tx);
            let (status, error) = refusal(error, "title")?;
            form.url = current.url;
            let page = EditPage {
                nav: Nav::of(&data, &visitor).await?,
                id,
                categories: CATEGORIES,
                form,
                error: Some(error),
            };
            Ok(render(status, &page))
        }
    }
}

/// The domain forms.
#[derive(Deserialize)]
pub struct DomainForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    domain: String,
}

async fn claim(data: &AppState, user: i64, text: &str) -> Result<(), PageError> {
    let domain = Domain::parse(text)?;
    let mut tx = data.store.begin().await?;
    proving::claim_domain(&mut tx, data, user, &domain).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// POST /me/domains: claims a domain (its token to publish is shown).
pub async fn claim_domain(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<DomainForm>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me/things")?;
    visitor.check(&form.csrf)?;
    match claim(&data, user, &form.domain).await {
        Ok(()) => Ok(Redirect::to("/me/things?done=claimed").into_response()),
        Err(error) => {
            let (status, error) = refusal(error, "domain")?;
            let input = ThingsInput {
                domain_typed: form.domain,
                error: Some(error),
                ..ThingsInput::default()
            };
            things_page(&data, &visitor, user, status, input).await
        }
    }
}

/// POST /me/domains/verify: reads the domain's token file.
pub async fn verify_domain(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<DomainForm>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me/things")?;
    visitor.check(&form.csrf)?;
    let verified = async {
        let domain = Domain::parse(&form.domain)?;
        proving::verify_domain(&data, user, &domain).await?;
        Ok::<(), PageError>(())
    };
    match verified.await {
        Ok(()) => Ok(Redirect::to("/me/things?done=verified").into_response()),
        Err(error) => {
            let (status, error) = refusal(error, "domain")?;
            let input = ThingsInput {
                domain_typed: form.domain,
                error: Some(error),
                ..ThingsInput::default()
            };
            things_page(&data, &visitor, user, status, input).await
        }
    }
}

#[derive(Template)]
#[template(path = "earnings.html")]
struct EarningsPage {
    nav: Nav,
    notice: Option<String>,
    currency: String,
    balance: String,
    withdrawable: String,
    minimum: String,
    amount_typed: String,
    by_period: String,
    by_thing: String,
    payouts: Vec<(String, String, String)>,
    error: Option<FieldError>,
}

impl FormError for EarningsPage {
    fn form_error(&self) -> Option<&FieldError> {
        self.error.as_ref()
    }
}

async fn earnings_page(
    data: &AppState,
    visitor: &Visitor,
    user_id: i64,
    status: StatusCode,
    notice: Option<String>,
    amount_typed: String,
    error: Option<FieldError>,
) -> Result<Response, PageError> {
    let pool = data.store.pool();
    let balance = ledger::balance(pool, &Account::Earnings(user_id)).await?;
    let currency = data.settings.currency.to_string();
    let by_period = earnings::by_period(pool, user_id)
        .await?
        .into_iter()
        .map(|l| (l.period, l.flattrs, Money::from_minor(l.amount)))
        .collect();
    let by_thing = earnings::by_thing(pool, user_id)
        .await?
        .into_iter()
        .map(|l| (l.title, l.flattrs, Money::from_minor(l.amount)))
        .collect();
    let chart = |chart: Chart| {
        chart.render().map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                e.to_string(),
            )
        })
    };
    let page = EarningsPage {
        nav: Nav::of(data, visitor).await?,
        notice,
        balance: balance.to_string(),
        withdrawable: balance.floor_payable().to_string(),
        minimum: data.settings.payout_minimum.to_string(),
        amount_typed,
        by_period: chart(Chart::new(
            "by-period",
            format!("Earnings per period ({currency})"),
            "Period",
            by_period,
        ))?,
        by_thing: chart(Chart::new(
            "by-thing",
            format!("Earnings per thing ({currency})"),
            "Thing",
            by_thing,
        ))?,
        payouts: payouts::of_user(pool, user_id)
            .await?
            .into_iter()
            .map(|p| {
                (
                    crate::store::from_epoch(p.requested_at)
                        .format("%Y-%m-%d")
                        .to_string(),
                    Money::from_minor(p.amount).to_string(),
                    p.state,
                )
            })
            .collect(),
        currency,
        error,
    };
    Ok(render(status, &page))
}

/// GET /me/earnings
pub async fn my_earnings(
    data: Data<AppState>,
    visitor: Visitor,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me/earnings")?;
    let notice = query.notice("earnings");
    earnings_page(
        &data,
        &visitor,
        user,
        StatusCode::OK,
        notice,
        String::new(),
        None,
    )
    .await
}

/// The payout form.
#[derive(Deserialize)]
pub struct PayoutForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    amount: String,
}

async fn request_payout(data: &AppState, user: i64, amount: &str) -> Result<(), PageError> {
    let amount = match amount.trim() {
        "" => None,
        text => Some(Money::parse_payable("amount", text)?),
    };
    let mut tx = data.store.begin().await?;
    payouts::request(
        &mut tx,
        user,
        amount,
        data.settings.payout_minimum,
        data.clock.now(),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// POST /me/payouts
pub async fn payout(
    data: Data<AppState>,
    visitor: Visitor,
    Form(form): Form<PayoutForm>,
) -> Result<Response, PageError> {
    let user = visitor.require("/me/earnings")?;
    visitor.check(&form.csrf)?;
    match request_payout(&data, user, &form.amount).await {
        Ok(()) => Ok(Redirect::to("/me/earnings?done=payout").into_response()),
        Err(error) => {
            let (status, error) = refusal(error, "amount")?;
            earnings_page(
                &data,
                &visitor,
                user,
                status,
                None,
                form.amount,
                Some(error),
            )
            .await
        }
    }
}
