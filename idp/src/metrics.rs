//! Prometheus metrics of this instance (`/metrics`): requests by route and status and their
//! latency, sign-in attempts by factor and outcome, lockouts by factor, and the matcher's
//! slots in use. Counters are process-wide by nature, so they live in one registry per
//! process; labels are bounded (route patterns, factor names, outcomes), never a user or
//! a token.

use prometheus::{
    Counter, Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use std::sync::LazyLock;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    sign_ins: IntCounterVec,
    lockouts: IntCounterVec,
    password_hashing: Counter,
    pub matcher_busy: IntGauge,
}

/// How a factor check ended.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Accepted,
    Refused,
    Locked,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Refused => "refused",
            Outcome::Locked => "locked",
        }
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// This process's metrics.
pub fn get() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    fn new() -> Metrics {
        let registry = Registry::new();
        // The names and labels are constants: registering them cannot fail.
        let requests = IntCounterVec::new(
            Opts::new("idp_http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "idp_http_request_duration_seconds",
                "Time to answer an HTTP request",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["route"],
        )
        .expect("valid metric");
        let sign_ins = IntCounterVec::new(
            Opts::new("idp_factor_checks_total", "Sign-in factor checks"),
            &["factor", "outcome"],
        )
        .expect("valid metric");
        let lockouts = IntCounterVec::new(
            Opts::new("idp_lockouts_total", "Factors locked after failed attempts"),
            &["factor"],
        )
        .expect("valid metric");
        let password_hashing = Counter::new(
            "idp_password_hash_cpu_seconds_total",
            "Processor time spent hashing and verifying passwords (argon2id)",
        )
        .expect("valid metric");
        let matcher_busy = IntGauge::new(
            "idp_matcher_busy_slots",
            "Biometric captures being analysed now",
        )
        .expect("valid metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(sign_ins.clone()),
            Box::new(lockouts.clone()),
            Box::new(password_hashing.clone()),
            Box::new(matcher_busy.clone()),
        ] {
            registry.register(c).expect("unique metric");
        }
        Metrics {
            registry,
            requests,
            latency,
            sign_ins,
            lockouts,
            password_hashing,
            matcher_busy,
        }
    }

    /// One answered request: `route` is the matched route's pattern (bounded).
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency.with_label_values(&[route]).observe(seconds);
    }

    pub fn factor_check(&self, factor: &str, outcome: Outcome) {
        self.sign_ins
            .with_label_values(&[factor, outcome.name()])
            .inc();
        if let Outcome::Locked = outcome {
            self.lockouts.with_label_values(&[factor]).inc();
        }
    }

    /// Runs `hash` (an argon2id hash or verification) and counts the processor time its
    /// thread spent, so that a load test can tell which share of the sign-ins' processor
    /// time the password hash takes.
    pub fn password_hashing<T>(&self, hash: impl FnOnce() -> T) -> T {
        let before = thread_cpu_seconds();
        let value = hash();
        self.password_hashing
            .inc_by((thread_cpu_seconds() - before).max(0.0));
        value
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let encoded = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        match encoded {
            Ok(()) => String::from_utf8(out).unwrap_or_default(),
            Err(_) => String::new(),
        }
    }
}

/// Processor time the calling thread has used so far, in seconds.
fn thread_cpu_seconds() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec that the call fills in; the clock id is a constant.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } != 0 {
        return 0.0;
    }
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

#[cfg(test)]
mod tests {
    #[test]
    fn password_hashing_counts_the_threads_processor_time() {
        let m = super::Metrics::new();
        let spin = || {
            let start = std::time::Instant::now();
            let mut x = 0u64;
            while start.elapsed() < std::time::Duration::from_millis(30) {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            x
        };
        m.password_hashing(spin);
        let seconds = m.password_hashing.get();
        // 30 ms of wall time spinning: at least some of it on the processor, never more.
        assert!(seconds > 0.001 && seconds < 0.2, "{seconds}");
        let sleep = || std::thread::sleep(std::time::Duration::from_millis(30));
        m.password_hashing(sleep);
        assert!(
            m.password_hashing.get() - seconds < 0.01,
            "sleeping is not counted"
        );
        assert!(m.render().contains("idp_password_hash_cpu_seconds_total"));
    }
}
