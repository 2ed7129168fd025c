//! The admin's peers page between real instances: after a close on both sides it shows, per
//! peer and period, the amounts `settle::positions` gives the command line and the API.

use crate::admin_peers::admin_token;
use crate::helpers::Instance;
use crate::settlement::{origin, pair};

/// The HTML of `path` on `instance` for `name`'s browser session (opened as the log-in page
/// opens one).
async fn page_as(instance: &Instance, name: &str, path: &str) -> (u16, String) {
    let id = instance.user_id(name).await;
    let mut tx = instance.state.store.begin().await.unwrap();
    let (secret, _) = fedflattr::store::sessions::open(&mut tx, id, instance.state.clock.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let response = instance
        .client
        .get(instance.url(path))
        .header("cookie", format!("ff_session={secret}"))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_peers_page_shows_what_we_owe_each_peer_and_what_it_owes_us_per_period() {
    let p = pair().await;
    // alice spreads her flattrs over three things, one of them on beta: alpha owes beta a
    // third of her 1.80 after the 10 % fee, beta owes alpha all of bea's 1.80.
    let alan = p.alpha.sign_up("alan2").await;
    let carl_thing = p
        .alpha
        .create_thing(&alan, "https://carl.example/post")
        .await;
    let bob_url = p.beta.thing_url(p.bob_thing);
    assert_eq!(p.alpha.flattr_url(&p.alice, &bob_url).await.status(), 201);
    p.alpha.flattred(&p.alice, p.alan_thing).await;
    p.alpha.flattred(&p.alice, carl_thing).await;
    let alan_url = p.alpha.thing_url(p.alan_thing);
    assert_eq!(p.beta.flattr_url(&p.bea, &alan_url).await.status(), 201);
    p.close_and_settle().await;
    admin_token(&p.alpha, "root").await;

    let (status, html) = page_as(&p.alpha, "root", "/admin/peers").await;
    assert_eq!(status, 200);
    let beta = origin(&p.beta);
    assert!(html.contains(&format!("<h2>{beta}</h2>")), "{html}");
    assert!(html.contains("<dd class=\"payable\">0.60</dd>"), "{html}");
    assert!(
        html.contains("<dd class=\"receivable\">1.80</dd>"),
        "{html}"
    );
    assert!(html.contains("<dd class=\"disputed\">0.00</dd>"), "{html}");
    assert!(
        html.contains("<tr><td>2026-10</td><td>0.60</td><td>0.00</td>\n<td>claimed</td>"),
        "{html}"
    );
    // Both directions are claimed, so the period is netted: beta pays alpha 1.20.
    assert!(
        html.contains("<td class=\"state\">netted</td>\n<td>1.20 (it pays)</td>"),
        "{html}"
    );
    // Both statements are listed with their totals.
    assert_eq!(
        html.matches("<td>2026-10</td><td>1</td>").count(),
        2,
        "{html}"
    );
    assert!(html.contains("<td>1.80 EUR</td>"), "{html}");

    // alan is no admin: 403.
    let (status, _) = page_as(&p.alpha, "alan", "/admin/peers").await;
    assert_eq!(status, 403);
}
