//! Flattr clicks through the API (`POST /api/v1/things/{id}/flattr` with bearer tokens), driven
//! by wrk with 16 connections, every click a new (user, thing) pair.

use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::common::Instance;
use crate::{Options, wrk};

/// Users clicking (each with a token and a funded wallet).
const USERS: usize = 16;

/// The Lua script: each wrk thread takes every n-th line (`TOKEN THING`) and POSTs the click.
const CLICKS_LUA: &str = r#"
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  clicks = {}
  local threads = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % threads == tid then
      local token, thing = line:match("(%S+) (%S+)")
      clicks[#clicks + 1] = wrk.format("POST", "/api/v1/things/" .. thing .. "/flattr",
        {["Authorization"] = "Bearer " .. token, ["Content-Length"] = "0"}, nil)
    end
    i = i + 1
  end
  n = 0
end
function request()
  n = n + 1
  if n > #clicks then n = 1 end
  return clicks[n]
end
"#;

pub async fn bench(options: &Options) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed);
    let instance = Instance::on_loopback().system_clock().spawn().await;
    instance.sign_up("creator").await;
    let creator = instance.user_id("creator").await;
    let mut tokens = Vec::new();
    for n in 0..USERS {
        let name = format!("reader{n}");
        tokens.push(instance.sign_up(&name).await);
        instance.deposit(&name, "1000.00").await;
    }
    let things_needed = options.clicks.div_ceil(USERS) as i64;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO things (url, owner_id, title, description, tags, language, category, hidden,
                             created_at, updated_at, proven_at, proof)
         SELECT 'https://creator.example/' || CAST(i AS TEXT), $2, 'T', '', '[]', '', 'rest', 0,
                0, 0, 0, 'verified_domain' FROM n",
    )
    .bind(things_needed)
    .bind(creator)
    .execute(instance.state.store.pool())
    .await
    .unwrap();
    let things: Vec<i64> = sqlx::query_scalar("SELECT id FROM things ORDER BY id")
        .fetch_all(instance.state.store.pool())
        .await
        .unwrap();
    let mut clicks: Vec<(usize, i64)> = (0..options.clicks)
        .map(|n| (n % USERS, things[n / USERS]))
        .collect();
    clicks.shuffle(&mut rng);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clicks.txt");
    std::fs::write(
        &file,
        clicks
            .iter()
            .map(|(user, thing)| format!("{} {thing}\n", tokens[*user]))
            .collect::<String>(),
    )
    .unwrap();
    let script = dir.path().join("clicks.lua");
    std::fs::write(&script, CLICKS_LUA).unwrap();
    let args = [file.display().to_string(), "2".to_owned()];

    let mut runs = Vec::new();
    for _ in 0..options.runs {
        let before = instance.count("SELECT COUNT(*) FROM flattrs").await;
        let run = wrk::run(
            &instance.base,
            &script,
            options.click_connections,
            options.seconds,
            &args,
        );
        let after = instance.count("SELECT COUNT(*) FROM flattrs").await;
        assert!(
            run.requests as usize <= clicks.len(),
            "wrk sent {} clicks but only {} were made: raise FEDFLATTR_BENCH_CLICKS",
            run.requests,
            clicks.len()
        );
        assert_eq!(run.non_2xx, 0, "clicks were refused");
        assert!(
            (after - before) as u64 >= run.requests,
            "every click is recorded"
        );
        runs.push(run);
        sqlx::query("DELETE FROM flattrs")
            .execute(instance.state.store.pool())
            .await
            .unwrap();
    }
    println!(
        "clicks: {} distinct (user, thing) clicks by {USERS} users, {}, wrk -t2 -c{} -d{}s",
        clicks.len(),
        instance.state.store.backend_name(),
        options.click_connections,
        options.seconds
    );
    crate::flush::report(options.click_connections);
    crate::flush::report_postgres(&instance.database_url, options.click_connections).await;
    let (rate, p99) = wrk::report("fedflattr flattr clicks (201, committed)", &runs);
    println!("clicks: {rate:.0}/s, p99 {p99:.2} ms   (targets: >= 10 000/s, p99 < 20 ms)");
}
