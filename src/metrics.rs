//! The instance's own measurements, for Prometheus: HTTP requests by route and status (the
//! inbox's among them), their durations, deliveries by outcome, the delivery queue's depth and
//! the close's durations. Rendered by `http::ops` at `GET /metrics`.
//!
//! One registry per instance, held in `AppState`, rather than a process-wide recorder: the
//! tests run many instances in one process, and each must count only its own requests.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A request's labels. `route` is the route's pattern (`/things/{id}`), never the path
/// itself, so that a client cannot grow the number of series by inventing paths.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

/// A route's labels, for durations (the status would multiply the buckets for little).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// An outcome's label: of an activity delivered to our inbox or of a delivery we sent.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

/// The metrics of one instance; cheap to clone (one shared registry).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram>,
    inbox: Family<OutcomeLabels, Counter>,
    deliveries: Family<OutcomeLabels, Counter>,
    queue_depth: Gauge,
    closes: Counter,
    close_seconds: Histogram,
}

/// The routes that receive activities from other servers.
const INBOX_ROUTES: [&str; 2] = ["/inbox", "/users/{name}/inbox"];

impl Metrics {
    /// A fresh registry with every metric registered at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("fedflattr");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route pattern and status",
            requests.clone(),
        );
        let request_seconds =
            Family::<RouteLabels, Histogram>::new_with_constructor(request_histogram as fn() -> _);
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its answer's headers, by route pattern",
            request_seconds.clone(),
        );
        let inbox = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "inbox_activities",
            "Activities delivered to our inboxes, by outcome (accepted, refused, failed)",
            inbox.clone(),
        );
        let deliveries = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "deliveries",
            "Attempts to deliver our activities, by outcome (delivered, rejected, retrying, failed)",
            deliveries.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "delivery_queue_depth",
            "Deliveries waiting to be sent or retried, read from the database at each scrape",
            queue_depth.clone(),
        );
        let closes = Counter::default();
        registry.register(
            "period_closes",
            "Periods closed by this server process",
            closes.clone(),
        );
        let close_seconds = Histogram::new(exponential_buckets(0.01, 4.0, 10));
        registry.register(
            "period_close_duration_seconds",
            "How long closing a period took, from start to its last stage",
            close_seconds.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                requests,
                request_seconds,
                inbox,
                deliveries,
                queue_depth,
                closes,
                close_seconds,
            }),
        }
    }

    /// Counts one answered request; `route` is the matched route's pattern, `None` for a path
    /// no route matched (all of which share one series).
    pub fn request(&self, method: &str, route: Option<&str>, status: u16, took: Duration) {
        let route = route.unwrap_or("unmatched").to_owned();
        self.inner
            .requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.clone(),
                status,
            })
            .inc();
        if INBOX_ROUTES.contains(&route.as_str()) {
            let outcome = match status {
                200..=299 => "accepted",
                400..=499 => "refused",
                _ => "failed",
            };
            self.inner
                .inbox
                .get_or_create(&OutcomeLabels {
                    outcome: outcome.to_owned(),
                })
                .inc();
        }
        self.inner
            .request_seconds
            .get_or_create(&RouteLabels { route })
            .observe(took.as_secs_f64());
    }

    /// Counts the outcomes of one run of the delivery queue.
    pub fn deliveries(&self, delivered: usize, rejected: usize, retrying: usize, failed: usize) {
        for (outcome, n) in [
            ("delivered", delivered),
            ("rejected", rejected),
            ("retrying", retrying),
            ("failed", failed),
        ] {
            self.inner
                .deliveries
                .get_or_create(&OutcomeLabels {
                    outcome: outcome.to_owned(),
                })
                .inc_by(n as u64);
        }
    }

    /// Records one finished close of a period.
    pub fn closed(&self, took: Duration) {
        self.inner.closes.inc();
        self.inner.close_seconds.observe(took.as_secs_f64());
    }

    /// Renders every metric in the OpenMetrics text format, with the queue depth given.
    pub fn render(&self, queue_depth: i64) -> String {
        self.inner.queue_depth.set(queue_depth);
        let mut out = String::new();
        // Writing into a String cannot fail; an encoding error would be a bug of the crate,
        // and an empty answer is the honest result of one.
        if prometheus_client::encoding::text::encode(&mut out, &self.inner.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Request durations from 1 ms to about 16 s.
fn request_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}
