//! The close keeps a flattr's own share only where a reader needs it (issue 10.4, fourth
//! pass): a thing on a peer is stated flattr by flattr, each line the share the close
//! computed by the uneven split, and a local proven thing keeps only its total.

use crate::admin_peers::admin_json;
use crate::settlement::{origin, pair};

#[tokio::test]
async fn a_peer_s_things_are_stated_flattr_by_flattr_with_their_shares_of_an_uneven_split() {
    let p = pair().await;
    let bart = p.beta.sign_up("bart").await;
    let bart_thing = p
        .beta
        .create_thing(&bart, "https://bart.example/post")
        .await;
    let carl = p.alpha.sign_up("carl").await;
    let mut local = vec![p.alan_thing];
    for i in 0..4 {
        local.push(
            p.alpha
                .create_thing(&carl, &format!("https://carl.example/{i}"))
                .await,
        );
    }
    // alice's 2.00 less the fee, 1.80 = 18000 over 7 flattrs: 2572 for the first three in
    // flattr order, 2571 for the other four. beta's things are her 2nd and her 6th.
    p.alpha.flattred(&p.alice, local[0]).await;
    let url = p.beta.thing_url(p.bob_thing);
    assert_eq!(p.alpha.flattr_url(&p.alice, &url).await.status(), 201);
    for thing in &local[1..4] {
        p.alpha.flattred(&p.alice, *thing).await;
    }
    let url = p.beta.thing_url(bart_thing);
    assert_eq!(p.alpha.flattr_url(&p.alice, &url).await.status(), 201);
    p.alpha.flattred(&p.alice, local[4]).await;
    p.close_and_settle().await;

    let b = origin(&p.beta);
    let statements = admin_json(
        &p.alpha,
        &["statements", "--peer", &b, "--period", "2026-10"],
    );
    let sent = statements
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["direction"] == "sent")
        .unwrap()
        .clone();
    let lines: Vec<&str> = sent["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["amount"].as_str().unwrap())
        .collect();
    assert_eq!(lines, ["0.2572", "0.2571"], "{sent}");
    assert_eq!(sent["total"], "0.5143");
    assert_eq!(p.alpha.payable(&b).await, 5_143);

    // The lines are the close's stored shares of beta's things, and only those are stored.
    let pool = p.alpha.state.store.pool();
    let stored: Vec<i64> = sqlx::query_scalar(
        "SELECT s.amount FROM close_shares s JOIN close_things c
           ON c.period = s.period AND c.thing_id = s.thing_id
         WHERE s.period = '2026-10' ORDER BY s.flattr_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(stored, [2_572, 2_571]);
    let totals: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT CAST(flattrs AS BIGINT), CAST(amount AS BIGINT), CAST(itemised AS BIGINT)
         FROM close_things WHERE period = '2026-10' AND peer IS NULL ORDER BY thing_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        totals,
        [
            (1, 2_572, 0),
            (1, 2_572, 0),
            (1, 2_571, 0),
            (1, 2_571, 0),
            (1, 2_571, 0)
        ]
    );
    p.alpha.assert_books_balance().await;
    p.beta.assert_books_balance().await;
}
