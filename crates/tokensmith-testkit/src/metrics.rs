//! Captures what is recorded through the `metrics` facade, to print it or assert on it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use metrics::{Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, SharedString, Unit};

use crate::state::lock;

/// The counters and histograms recorded in this process (feature `metrics`), as
/// `name{label="value",…}` series.
///
/// It installs a global recorder once (the first call wins). Install it before building
/// providers: they take their handles when they are built.
#[derive(Default)]
pub struct MetricsCapture {
    counters: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    histograms: Mutex<BTreeMap<String, Arc<Samples>>>,
}

#[derive(Default)]
struct Samples(Mutex<Vec<f64>>);

impl HistogramFn for Samples {
    fn record(&self, value: f64) {
        lock(&self.0).push(value);
    }
}

impl MetricsCapture {
    /// The capture of this process, installed on first use.
    ///
    /// # Panics
    /// If another global `metrics` recorder was installed first.
    pub fn global() -> &'static MetricsCapture {
        static CAPTURE: OnceLock<&'static MetricsCapture> = OnceLock::new();
        CAPTURE.get_or_init(|| {
            let capture: &'static MetricsCapture = Box::leak(Box::default());
            metrics::set_global_recorder(capture)
                .expect("MetricsCapture::global needs to be the process's only metrics recorder");
            capture
        })
    }

    /// The sum of the counters named `name` whose labels include every `(label, value)`.
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        lock(&self.counters)
            .iter()
            .filter(|(series, _)| matches(series, name, labels))
            .map(|(_, value)| value.load(Ordering::Relaxed))
            .sum()
    }

    /// The values recorded in the histograms named `name` whose labels include `labels`.
    pub fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        lock(&self.histograms)
            .iter()
            .filter(|(series, _)| matches(series, name, labels))
            .flat_map(|(_, samples)| lock(&samples.0).clone())
            .collect()
    }

    /// Every series, one a line: counters with their value, histograms with their count and
    /// sum.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (series, value) in lock(&self.counters).iter() {
            let _ = writeln!(out, "{series} {}", value.load(Ordering::Relaxed));
        }
        for (series, samples) in lock(&self.histograms).iter() {
            let samples = lock(&samples.0);
            let sum: f64 = samples.iter().sum();
            let _ = writeln!(out, "{series} count={} sum={sum:.6}", samples.len());
        }
        out
    }
}

fn series(key: &Key) -> String {
    let labels: Vec<String> = key
        .labels()
        .map(|label| format!("{}=\"{}\"", label.key(), label.value()))
        .collect();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

fn matches(series: &str, name: &str, labels: &[(&str, &str)]) -> bool {
    series.starts_with(&format!("{name}{{"))
        && labels
            .iter()
            .all(|(label, value)| series.contains(&format!("{label}=\"{value}\"")))
}

impl metrics::Recorder for &'static MetricsCapture {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let value = Arc::clone(lock(&self.counters).entry(series(key)).or_default());
        Counter::from_arc(value)
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let samples = Arc::clone(lock(&self.histograms).entry(series(key)).or_default());
        Histogram::from_arc(samples)
    }
}
