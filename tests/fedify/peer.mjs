// A Fedify peer for fedflattr's interoperability test (tests/fedify.rs).
//
// One actor, carol, with an RSA key pair; one Note of hers; one post whose type is a list
// (["Note", "Article"]); inbox listeners that record every Like and Undo that Fedify verified;
// and a small control API the Rust test drives:
//
// The peer runs in authorized-fetch mode ("secure mode"): its actor, its Note and its article
// answer only GETs whose HTTP signature Fedify verified (Fedify's `.authorize()` predicates);
// anything else gets 401.
//
//   GET  /control/info      -> {origin, actor, inbox, sharedInbox, note, article, node}
//   GET  /control/received  -> {verified, unverified, inboxRequests, outgoing, served}
//   POST /control/refuse    {refuse} -> while true, every GET of the actor, Note and article
//                              is refused (401), signed or not: a server that won't let us read
//   POST /control/lookup    {handle, actor} -> what Fedify's WebFinger and object look-ups found
//   POST /control/like      {actor, object} -> sends a signed Like from carol to actor's inbox
//   POST /control/undo      {actor, like}   -> sends a signed Undo of that Like
//   POST /control/verify    {document}      -> {verified, type, id}: Fedify's verifyObject on a
//                              document with an object integrity proof (FEP-8b32)
//   POST /control/sign      {content}       -> a Note by carol signed with her Ed25519 key
//                              (signObject, eddsa-jcs-2022), as compact JSON-LD
//
// Usage: node peer.mjs [--port N] [--plain-http HOST:PORT,...]
// Listens on 127.0.0.1 (port 0 by default) and prints "READY <port>" once it accepts requests.
// Its URLs use the host name "localhost", because fedflattr refuses actors on IP literals.
//
// --plain-http: Fedify always asks `acct:` WebFinger questions over https (only `http:` resource
// URLs are asked over http). fedflattr's test instance speaks plain http, so for the hosts named
// here an https request is sent as http instead, as a TLS-terminating proxy in front of the
// instance would. Every such rewrite is logged in /control/received's `outgoing`.

import { AsyncLocalStorage } from "node:async_hooks";
import process from "node:process";
import { configure, getConsoleSink } from "@logtape/logtape";
import {
  createFederation,
  generateCryptoKeyPair,
  MemoryKvStore,
  signObject,
  verifyObject,
} from "@fedify/fedify";
import {
  Endpoints,
  isActor,
  Like,
  Note,
  Object as APObject,
  Person,
  PUBLIC_COLLECTION,
  Undo,
} from "@fedify/vocab";
import { serve } from "@hono/node-server";

function argument(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const requestedPort = Number(argument("--port", process.env.PEER_PORT ?? "0"));
const plainHttpHosts = new Set(
  (argument("--plain-http", process.env.PEER_PLAIN_HTTP ?? ""))
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== ""),
);

// Fedify's own logs (signature failures, delivery errors) on stderr, for the test's output.
await configure({
  contextLocalStorage: new AsyncLocalStorage(),
  sinks: {
    // Everything to stderr: stdout carries only the READY line.
    console: getConsoleSink({
      console: { ...console, log: console.error, info: console.error, debug: console.error },
    }),
  },
  loggers: [
    { category: ["fedify"], lowestLevel: process.env.PEER_LOG_LEVEL ?? "info", sinks: ["console"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
  ],
});

// What happened, for GET /control/received.
const verified = []; // activities Fedify verified and handed to an inbox listener
const unverified = []; // activities whose signatures Fedify could not verify
const inboxRequests = []; // every POST to an inbox, with its signature headers and our answer
const outgoing = []; // every request Fedify made (look-ups and deliveries) and the answer
const served = []; // every GET of carol, her Note or her article, with its signature and our answer
let refuseEveryone = false; // POST /control/refuse

function signatureSummary(headers) {
  const signature = headers.get("signature");
  const signatureInput = headers.get("signature-input");
  if (signatureInput != null) {
    return { spec: "rfc9421", keyId: /keyid="([^"]*)"/i.exec(signatureInput)?.[1] ?? null };
  }
  if (signature != null) {
    return {
      spec: "draft-cavage",
      keyId: /keyId="([^"]*)"/.exec(signature)?.[1] ?? null,
      headers: /headers="([^"]*)"/.exec(signature)?.[1] ?? null,
    };
  }
  return { spec: null, keyId: null };
}

// Records Fedify's outgoing requests; sends https requests for --plain-http hosts as http.
const originalFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  let request = new Request(input, init);
  const url = new URL(request.url);
  let rewritten = false;
  if (url.protocol === "https:" && plainHttpHosts.has(url.host.toLowerCase())) {
    url.protocol = "http:";
    const body = request.body == null ? null : await request.arrayBuffer();
    request = new Request(url, {
      method: request.method,
      headers: request.headers,
      body,
      redirect: request.redirect,
      signal: request.signal,
    });
    rewritten = true;
  }
  const entry = {
    method: request.method,
    url: request.url,
    rewrittenFromHttps: rewritten,
    ...signatureSummary(request.headers),
    status: null,
    error: null,
  };
  outgoing.push(entry);
  try {
    const response = await originalFetch(request);
    entry.status = response.status;
    return response;
  } catch (error) {
    entry.error = String(error?.cause ?? error);
    throw error;
  }
};

const CAROL = "carol";
const NOTE_ID = "1";
const ARTICLE_PATH = `/users/${CAROL}/articles/1`;
const carolKeys = await generateCryptoKeyPair("RSASSA-PKCS1-v1_5");
// carol's Ed25519 key signs object integrity proofs; Fedify publishes it (and the RSA key) as
// Multikeys in her assertionMethod.
const carolProofKeys = await generateCryptoKeyPair("Ed25519");

function buildFederation(origin) {
  const federation = createFederation({
    kv: new MemoryKvStore(),
    origin,
    // Loopback addresses are private: allowed here, for this test only. Plain http needs no
    // option: Fedify fetches http: URLs as they are.
    allowPrivateAddress: true,
  });

  federation
    .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
      if (identifier !== CAROL) return null;
      const keys = await ctx.getActorKeyPairs(identifier);
      return new Person({
        id: ctx.getActorUri(identifier),
        preferredUsername: identifier,
        name: "Carol on Fedify",
        summary: "A Fedify peer in fedflattr's interoperability test.",
        url: ctx.getActorUri(identifier),
        inbox: ctx.getInboxUri(identifier),
        endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
        publicKey: keys[0].cryptographicKey,
        assertionMethods: keys.map((k) => k.multikey),
      });
    })
    .setKeyPairsDispatcher((_ctx, identifier) =>
      identifier === CAROL ? [carolKeys, carolProofKeys] : []
    )
    .authorize(signedRequest);

  federation
    .setObjectDispatcher(Note, "/users/{identifier}/notes/{id}", (ctx, values) => {
      if (values.identifier !== CAROL || values.id !== NOTE_ID) return null;
      return new Note({
        id: ctx.getObjectUri(Note, values),
        attribution: ctx.getActorUri(CAROL), // attributedTo
        to: PUBLIC_COLLECTION,
        content: "<p>Hello from Fedify: a note worth a flattr.</p>",
      });
    })
    .authorize(signedRequest);

  federation.setNodeInfoDispatcher("/nodeinfo/2.1", () => ({
    software: { name: "fedify-peer", version: "2.3.6" },
    protocols: ["activitypub"],
    usage: { users: { total: 1 }, localPosts: 1, localComments: 0 },
  }));

  const record = (kind) => async (ctx, activity) => {
    verified.push({
      type: kind,
      id: activity.id?.href ?? null,
      actor: activity.actorId?.href ?? null,
      object: activity.objectId?.href ?? null,
      recipient: ctx.recipient,
      json: await activity.toJsonLd(),
    });
  };
  federation
    .setInboxListeners("/users/{identifier}/inbox", "/inbox")
    .on(Like, record("Like"))
    .on(Undo, record("Undo"))
    .onUnverifiedActivity((_ctx, activity, reason) => {
      unverified.push({
        type: activity.constructor?.name ?? null,
        id: activity.id?.href ?? null,
        actor: activity.actorId?.href ?? null,
        reason: reason.type,
        keyId: reason.keyId?.href ?? null,
      });
    });

  return federation;
}

// Authorized fetch: in Fedify 2.x the predicate gets (ctx, identifier or values) and asks the
// context for the verified signer (`getSignedKeyOwner()` verifies the HTTP signature and
// fetches the key's owner; null when the request is unsigned or the signature is bad).
async function signedRequest(ctx) {
  if (refuseEveryone) return false;
  return (await ctx.getSignedKeyOwner()) != null;
}

// The post with a list of types, which Fedify's vocabulary would not produce: served as raw
// JSON-LD, to signed GETs only, as the dispatchers above.
async function article(request) {
  const ctx = federation.createContext(request, undefined);
  if (refuseEveryone || (await ctx.getSignedKeyOwner()) == null) {
    return new Response("Unauthorized", { status: 401, headers: { "content-type": "text/plain" } });
  }
  return new Response(
    JSON.stringify({
      "@context": "https://www.w3.org/ns/activitystreams",
      id: new URL(ARTICLE_PATH, origin).href,
      type: ["Note", "Article"],
      attributedTo: ctx.getActorUri(CAROL).href,
      to: PUBLIC_COLLECTION.href,
      name: "An article that is also a note",
      content: "<p>Two types, one post.</p>",
    }),
    { status: 200, headers: { "content-type": "application/activity+json" } },
  );
}

function json(value, status = 200) {
  return new Response(JSON.stringify(value, null, 2), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function failure(error) {
  return { error: String(error), status: error?.statusCode ?? null };
}

function describeActor(actor, key) {
  return {
    id: actor.id?.href ?? null,
    type: actor.constructor.name,
    isActor: isActor(actor),
    preferredUsername: actor.preferredUsername?.toString() ?? null,
    inbox: actor.inboxId?.href ?? null,
    sharedInbox: actor.endpoints?.sharedInbox?.href ?? null,
    publicKey: key == null
      ? null
      : {
        id: key.id?.href ?? null,
        owner: key.ownerId?.href ?? null,
        algorithm: key.publicKey?.algorithm?.name ?? null,
      },
  };
}

let federation = null;
let origin = null;

async function control(request, url) {
  const ctx = federation.createContext(new URL(origin), undefined);
  const body = request.method === "POST" ? await request.json() : {};
  switch (`${request.method} ${url.pathname}`) {
    case "GET /control/info":
      return json({
        origin,
        actor: ctx.getActorUri(CAROL).href,
        inbox: ctx.getInboxUri(CAROL).href,
        sharedInbox: ctx.getInboxUri().href,
        note: ctx.getObjectUri(Note, { identifier: CAROL, id: NOTE_ID }).href,
        article: new URL(ARTICLE_PATH, origin).href,
        node: process.version,
      });
    case "GET /control/received":
      return json({ verified, unverified, inboxRequests, outgoing, served });
    case "POST /control/refuse":
      refuseEveryone = body.refuse === true;
      return json({ refuse: refuseEveryone });
    case "POST /control/lookup": {
      // body.handle: "@name@host:port"; body.actor: the actor URL the test expects.
      const result = { webfinger: null, webfingerByUrl: null, actor: null };
      try {
        result.webfinger = await ctx.lookupWebFinger(`acct:${body.handle.replace(/^@/, "")}`);
      } catch (error) {
        result.webfinger = failure(error);
      }
      try {
        // An http: resource is asked at http://HOST/.well-known/webfinger, no rewriting.
        result.webfingerByUrl = await ctx.lookupWebFinger(body.actor);
      } catch (error) {
        result.webfingerByUrl = failure(error);
      }
      try {
        // WebFinger, then the self link through Fedify's document loader, then JSON-LD parsing.
        const actor = await ctx.lookupObject(body.handle);
        if (actor == null) result.actor = { error: "lookupObject found nothing" };
        else if (!isActor(actor)) result.actor = { error: `not an actor: ${actor.constructor.name}` };
        else result.actor = describeActor(actor, await actor.getPublicKey());
      } catch (error) {
        result.actor = failure(error);
      }
      return json(result);
    }
    case "POST /control/verify": {
      // What a Fedify inbox runs on an activity with a proof: the object must parse, every
      // proof must verify with a key fetched from its verificationMethod, and every actor and
      // attributedTo must be the controller of a proof's key.
      try {
        const object = await verifyObject(APObject, body.document, {
          documentLoader: ctx.documentLoader,
          contextLoader: ctx.contextLoader,
        });
        return json({
          verified: object != null,
          type: object?.constructor?.name ?? null,
          id: object?.id?.href ?? null,
        });
      } catch (error) {
        return json({ verified: false, ...failure(error) });
      }
    }
    case "POST /control/sign": {
      const pairs = await ctx.getActorKeyPairs(CAROL);
      const ed25519 = pairs.find((pair) => pair.privateKey.algorithm.name === "Ed25519");
      // No `to: PUBLIC_COLLECTION`: signObject signs the public audience normalised to its full
      // URI (as Fedify sends it), while toJsonLd() writes it compacted ("as:Public"), so the
      // document below would not be the one signed. What Fedify delivers is the normalised one.
      const note = new Note({
        id: new URL(`/users/${CAROL}/notes/signed-${crypto.randomUUID()}`, origin),
        attribution: ctx.getActorUri(CAROL),
        content: body.content ?? "signed by carol",
      });
      // The proof names the key as carol's assertionMethod lists it (`#multikey-N`), not as
      // her publicKey would (`#key-N`), which is not a Multikey.
      const keyId = ed25519.multikey.id;
      const signed = await signObject(note, ed25519.privateKey, keyId, {
        contextLoader: ctx.contextLoader,
      });
      return json({
        keyId: keyId.href,
        document: await signed.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader }),
      });
    }
    case "POST /control/like":
    case "POST /control/undo": {
      try {
        const recipient = await ctx.lookupObject(body.actor);
        if (recipient == null || !isActor(recipient)) {
          return json({ error: `${body.actor} is not an actor` }, 502);
        }
        const sender = ctx.getActorUri(CAROL);
        let activity;
        if (url.pathname === "/control/like") {
          activity = new Like({
            id: new URL(`/users/${CAROL}/likes/${crypto.randomUUID()}`, origin),
            actor: sender,
            object: new URL(body.object),
            to: recipient.id,
          });
        } else {
          // body.like: {id, object} of the Like this peer sent before.
          const like = body.like;
          activity = new Undo({
            id: new URL(`/users/${CAROL}/undos/${crypto.randomUUID()}`, origin),
            actor: sender,
            object: new Like({ id: new URL(like.id), actor: sender, object: new URL(like.object) }),
            to: recipient.id,
          });
        }
        // No queue is configured, so this delivers now and throws when the inbox refuses.
        await ctx.sendActivity({ identifier: CAROL }, recipient, activity);
        return json({ id: activity.id.href, inbox: recipient.inboxId?.href ?? null });
      } catch (error) {
        return json(failure(error), 502);
      }
    }
    default:
      return json({ error: "no such control route" }, 404);
  }
}

async function handle(request) {
  const url = new URL(request.url);
  if (url.pathname.startsWith("/control/")) {
    try {
      return await control(request, url);
    } catch (error) {
      return json(failure(error), 500);
    }
  }
  const isInboxPost = request.method === "POST" && url.pathname.endsWith("/inbox");
  const entry = isInboxPost ? { path: url.pathname, ...signatureSummary(request.headers), status: null } : null;
  const isGet = request.method === "GET" && url.pathname.startsWith(`/users/${CAROL}`);
  const get = isGet
    ? { path: url.pathname, accept: request.headers.get("accept"), ...signatureSummary(request.headers), status: null }
    : null;
  const response = url.pathname === ARTICLE_PATH && request.method === "GET"
    ? await article(request)
    : await federation.fetch(request, { contextData: undefined });
  if (entry != null) {
    entry.status = response.status;
    if (!response.ok) entry.body = await response.clone().text();
    inboxRequests.push(entry);
  }
  if (get != null) {
    get.status = response.status;
    served.push(get);
  }
  return response;
}

if (!process.version.startsWith("v22.")) {
  console.error(`warning: the peer is meant to run on Node 22, not ${process.version}`);
}

const server = serve({ fetch: handle, port: requestedPort, hostname: "127.0.0.1" }, (info) => {
  origin = `http://localhost:${info.port}`;
  federation = buildFederation(origin);
  console.log(`READY ${info.port}`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
// The test closes our stdin when it is done (or dies): then stop too.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
