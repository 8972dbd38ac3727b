//! Turning samples into rows: medians, ratios to the best peer, targets, and the table, JSON and
//! SVG that `schedbench` writes.

use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde_json::{json, Value};

use crate::{median, Latency, RunConfig, Sample, Target, Unit, Workload};

/// One (workload, system) line of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Workload name.
    pub workload: &'static str,
    /// System name (`"ours"`, `"tokio"`, ...).
    pub system: &'static str,
    /// Unit of the figures.
    pub unit: Unit,
    /// Median of the runs (NaN when the system could not be measured).
    pub median: f64,
    /// Smallest run.
    pub min: f64,
    /// Largest run.
    pub max: f64,
    /// How many runs the median is taken over.
    pub runs: usize,
    /// Our rows only: ours / best peer (best = lowest, or highest for speed-ups).
    pub ratio: Option<f64>,
    /// Our rows only: the ratio target, or the absolute target when no peer runs it.
    pub target: Option<f64>,
    /// Our rows only: whether the target is met.
    pub pass: Option<bool>,
    /// Our rows only: the target bounds the figure itself (`AtMost` / `AtLeast`), not the
    /// ratio (which is still reported when a peer runs the workload).
    pub absolute_target: bool,
    /// Median latency percentiles over the runs, for latency workloads.
    pub latency: Option<Latency>,
}

/// One run of a system; `None` if it panicked.
fn run_once(run: fn(&RunConfig) -> Sample, cfg: &RunConfig) -> Option<Sample> {
    catch_unwind(AssertUnwindSafe(|| run(cfg))).ok()
}

fn latency_median(samples: &[Sample]) -> Option<Latency> {
    let lat: Vec<Latency> = samples.iter().filter_map(|s| s.latency).collect();
    if lat.is_empty() {
        return None;
    }
    let pick = |f: fn(&Latency) -> f64| median(&lat.iter().map(f).collect::<Vec<_>>());
    Some(Latency {
        p50_us: pick(|l| l.p50_us),
        p99_us: pick(|l| l.p99_us),
        max_us: pick(|l| l.max_us),
    })
}

fn row_from(w: &Workload, system: &'static str, samples: Option<Vec<Sample>>, runs: usize) -> Row {
    let values: Vec<f64> = samples.iter().flatten().map(|s| s.value).collect();
    let (median_v, min, max) = if values.is_empty() {
        (f64::NAN, f64::NAN, f64::NAN)
    } else {
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (median(&values), min, max)
    };
    Row {
        workload: w.name,
        system,
        unit: w.unit,
        median: median_v,
        min,
        max,
        runs,
        ratio: None,
        target: None,
        pass: None,
        absolute_target: false,
        latency: samples.as_deref().and_then(latency_median),
    }
}

/// Measures every system of `w` and fills in our row's ratio, target and pass mark.
///
/// The runs are interleaved: one warm-up run of each system, then `runs` rounds that run
/// each system once in turn, so a drift of the machine or of the process (another program,
/// the allocator's state after many runtimes came and went) falls on every system alike
/// instead of on whichever ran its runs last. A system that panics is dropped from the
/// later rounds, and its row shows no figure.
pub fn measure_workload(
    w: &Workload,
    cfg: &RunConfig,
    runs: usize,
    tick: &dyn Fn(&str),
) -> Vec<Row> {
    let mut samples: Vec<Option<Vec<Sample>>> = w
        .systems
        .iter()
        .map(|s| {
            tick(&format!("{} / {}", w.name, s.name));
            run_once(s.run, cfg).map(|_warm_up| Vec::with_capacity(runs))
        })
        .collect();
    for _ in 0..runs {
        for (s, slot) in w.systems.iter().zip(samples.iter_mut()) {
            tick(&format!("{} / {}", w.name, s.name));
            if let Some(done) = slot {
                match run_once(s.run, cfg) {
                    Some(sample) => done.push(sample),
                    None => *slot = None,
                }
            }
        }
    }
    let mut rows: Vec<Row> = w
        .systems
        .iter()
        .zip(samples)
        .map(|(s, samples)| row_from(w, s.name, samples, runs))
        .collect();
    judge(w, &mut rows);
    rows
}

/// The best peer figure among non-ours rows (lowest, or highest when higher is better).
fn best_peer(unit: Unit, rows: &[Row]) -> Option<f64> {
    let peers =
        rows.iter().filter(|r| r.system != "ours" && r.median.is_finite()).map(|r| r.median);
    if unit.lower_is_better() {
        peers.reduce(f64::min)
    } else {
        peers.reduce(f64::max)
    }
}

fn judge(w: &Workload, rows: &mut [Row]) {
    let best = best_peer(w.unit, rows);
    let named: Vec<(&str, f64)> = rows
        .iter()
        .filter(|r| r.system != "ours" && r.median.is_finite())
        .map(|r| (r.system, r.median))
        .collect();
    let Some(ours) = rows.iter_mut().find(|r| r.system == "ours") else { return };
    match w.target {
        Target::RatioToBestPeer(t) => {
            ours.target = Some(t);
            if let Some(best) = best {
                let ratio = ours.median / best;
                ours.ratio = Some(ratio);
                ours.pass = Some(ratio.is_finite() && ratio <= t);
            }
        }
        Target::RatioToPeers(bounds) => {
            let ratios: Vec<Option<f64>> = bounds
                .iter()
                .map(|(peer, _)| {
                    named[..].iter().find(|(n, _)| n == peer).map(|(_, m)| ours.median / m)
                })
                .collect();
            ours.ratio = ratios.first().copied().flatten();
            ours.target = bounds.first().map(|(_, t)| *t);
            ours.pass = Some(
                bounds
                    .iter()
                    .zip(&ratios)
                    .all(|((_, t), r)| r.is_some_and(|r| r.is_finite() && r <= *t)),
            );
        }
        Target::RatioAndP99 { ratio: t, p99_us } => {
            ours.target = Some(t);
            let p99_ok = ours.latency.is_some_and(|l| l.p99_us.is_finite() && l.p99_us <= p99_us);
            if let Some(best) = best {
                let ratio = ours.median / best;
                ours.ratio = Some(ratio);
                ours.pass = Some(ratio.is_finite() && ratio <= t && p99_ok);
            }
        }
        Target::AtMost(t) => {
            ours.ratio = best.map(|b| ours.median / b);
            ours.target = Some(t);
            ours.absolute_target = true;
            ours.pass = Some(ours.median.is_finite() && ours.median <= t);
        }
        Target::AtLeast(t) => {
            ours.ratio = best.map(|b| ours.median / b);
            ours.target = Some(t);
            ours.absolute_target = true;
            ours.pass = Some(ours.median.is_finite() && ours.median >= t);
        }
    }
}

fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn target_text(r: &Row, w_unit: Unit) -> String {
    match (r.target, r.ratio, r.pass) {
        (Some(t), Some(ratio), Some(p)) if r.system == "ours" && !r.absolute_target => {
            format!(
                "{:>6} <= {:<5} {}",
                fmt_num(ratio),
                fmt_num(t),
                if p { "pass" } else { "MISS" }
            )
        }
        (Some(t), _, Some(p)) => {
            let op = if w_unit.lower_is_better() { "<=" } else { ">=" };
            format!(
                "{:>6} {op} {:<5} {}",
                fmt_num(r.median),
                fmt_num(t),
                if p { "pass" } else { "MISS" }
            )
        }
        _ => String::new(),
    }
}

/// The stdout table: one line per row.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<20} {:<12} {:>10} {:>21} {:<6} {:<24} latency p50/p99/max us",
        "workload", "system", "median", "min..max", "unit", "ratio / target"
    );
    for r in rows {
        let lat = r
            .latency
            .map(|l| format!("{}/{}/{}", fmt_num(l.p50_us), fmt_num(l.p99_us), fmt_num(l.max_us)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<20} {:<12} {:>10} {:>21} {:<6} {:<24} {}",
            r.workload,
            r.system,
            fmt_num(r.median),
            format!("{}..{}", fmt_num(r.min), fmt_num(r.max)),
            r.unit.label(),
            target_text(r, r.unit),
            lat
        );
    }
    out
}

fn num(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

/// The JSON array benches/README.md specifies, one object per row.
pub fn json(rows: &[Row]) -> String {
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut o = json!({
                "workload": r.workload, "system": r.system, "unit": r.unit.label(),
                "median": num(r.median), "min": num(r.min), "max": num(r.max), "runs": r.runs,
                "ratio": r.ratio.map(num), "target": r.target.map(num),
            });
            if let (Some(l), Some(map)) = (r.latency, o.as_object_mut()) {
                map.insert("p50_us".into(), num(l.p50_us));
                map.insert("p99_us".into(), num(l.p99_us));
                map.insert("max_us".into(), num(l.max_us));
            }
            o
        })
        .collect();
    serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".into())
}

/// A horizontal bar chart of our ratio to the best peer per workload, with the target marked.
pub fn svg(rows: &[Row]) -> String {
    let ours: Vec<&Row> = rows.iter().filter(|r| r.system == "ours" && r.ratio.is_some()).collect();
    let (w, bar_h, left, scale) = (640.0, 22.0, 170.0, 200.0);
    let h = 30.0 + bar_h * ours.len() as f64;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"monospace\" font-size=\"12\">\n\
         <text x=\"4\" y=\"16\">ours / best peer (line = target)</text>\n"
    );
    for (i, r) in ours.iter().enumerate() {
        let y = 24.0 + bar_h * i as f64;
        let ratio = r.ratio.unwrap_or(0.0).clamp(0.0, 2.0);
        let color = if r.pass == Some(true) { "#3a3" } else { "#c33" };
        let _ = writeln!(s, "<text x=\"4\" y=\"{}\">{}</text>", y + 14.0, r.workload);
        let _ = writeln!(
            s,
            "<rect x=\"{left}\" y=\"{y}\" width=\"{}\" height=\"{}\" fill=\"{color}\"/>",
            ratio * scale,
            bar_h - 4.0
        );
        if let (Some(t), false) = (r.target, r.absolute_target) {
            let x = left + t.clamp(0.0, 2.0) * scale;
            let _ = writeln!(
                s,
                "<line x1=\"{x}\" x2=\"{x}\" y1=\"{y}\" y2=\"{}\" stroke=\"#000\"/>",
                y + bar_h - 4.0
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\">{}</text>",
            left + ratio * scale + 4.0,
            y + 14.0,
            fmt_num(r.ratio.unwrap_or(f64::NAN))
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::System;
    use std::time::Duration;

    fn fixed(v: f64) -> Sample {
        Sample { value: v, elapsed: Duration::from_nanos(v as u64), latency: None }
    }

    fn workload(target: Target) -> Workload {
        Workload {
            name: "w",
            unit: Unit::NsPerOp,
            target,
            full_n: 1,
            default_n: 1,
            quick_n: 1,
            systems: vec![
                System { name: "ours", run: |_| fixed(40.0) },
                System { name: "tokio", run: |_| fixed(100.0) },
                System { name: "rayon", run: |_| fixed(80.0) },
            ],
        }
    }

    #[test]
    fn ratio_is_against_the_best_peer() {
        let rows = measure_workload(
            &workload(Target::RatioToBestPeer(0.5)),
            &RunConfig { workers: 2, n: 1 },
            3,
            &|_| {},
        );
        let ours = &rows[0];
        assert_eq!(ours.ratio, Some(0.5));
        assert_eq!(ours.pass, Some(true));
        assert_eq!(rows[1].ratio, None);
        let j: Value = serde_json::from_str(&json(&rows)).unwrap();
        assert_eq!(j[0]["ratio"], json!(0.5));
        assert_eq!(j[1]["ratio"], Value::Null);
        assert_eq!(j[0]["runs"], json!(3));
    }

    #[test]
    fn named_peer_bounds_must_all_hold() {
        let w = workload(Target::RatioToPeers(&[("tokio", 0.5), ("rayon", 0.4)]));
        let rows = measure_workload(&w, &RunConfig { workers: 2, n: 1 }, 1, &|_| {});
        assert_eq!(rows[0].ratio, Some(0.4));
        assert_eq!(rows[0].target, Some(0.5));
        assert_eq!(rows[0].pass, Some(false), "40/80 = 0.5 > 0.4 against rayon");
    }

    #[test]
    fn an_absolute_target_is_judged_and_printed_on_the_figure() {
        let rows = measure_workload(
            &workload(Target::AtMost(50.0)),
            &RunConfig { workers: 2, n: 1 },
            1,
            &|_| {},
        );
        assert_eq!(rows[0].ratio, Some(0.5), "the ratio to the best peer is still reported");
        assert_eq!(rows[0].pass, Some(true));
        let line = table(&rows).lines().nth(1).unwrap().to_string();
        assert!(line.contains("40.0 <= 50.0  pass"), "{line}");
    }

    #[test]
    fn ratio_and_p99_must_both_hold() {
        let mut w = workload(Target::RatioAndP99 { ratio: 0.5, p99_us: 2_000.0 });
        w.systems[0].run = |_| Sample {
            latency: Some(Latency { p50_us: 100.0, p99_us: 2_500.0, max_us: 3_000.0 }),
            ..fixed(40.0)
        };
        let rows = measure_workload(&w, &RunConfig { workers: 2, n: 1 }, 1, &|_| {});
        assert_eq!(rows[0].ratio, Some(0.5));
        assert_eq!(rows[0].pass, Some(false), "p99 2.5 ms > 2 ms");
        w.systems[0].run = |_| Sample {
            latency: Some(Latency { p50_us: 100.0, p99_us: 1_500.0, max_us: 3_000.0 }),
            ..fixed(40.0)
        };
        let rows = measure_workload(&w, &RunConfig { workers: 2, n: 1 }, 1, &|_| {});
        assert_eq!(rows[0].pass, Some(true));
    }

    #[test]
    fn runs_are_interleaved_after_one_warm_up_each() {
        use std::sync::Mutex;
        static ORDER: Mutex<Vec<&str>> = Mutex::new(Vec::new());
        let mut w = workload(Target::RatioToBestPeer(0.5));
        w.systems[0].run = |_| {
            ORDER.lock().unwrap().push("ours");
            fixed(40.0)
        };
        w.systems[1].run = |_| {
            ORDER.lock().unwrap().push("tokio");
            fixed(100.0)
        };
        w.systems.truncate(2);
        let rows = measure_workload(&w, &RunConfig { workers: 2, n: 1 }, 3, &|_| {});
        let order = ORDER.lock().unwrap().clone();
        assert_eq!(order, ["ours", "tokio"].repeat(4), "warm-ups, then 3 rounds of both");
        assert_eq!(rows[0].ratio, Some(0.4));
    }

    #[test]
    fn a_system_panicking_after_its_warm_up_is_an_unmeasured_row() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        let mut w = workload(Target::RatioToBestPeer(0.5));
        w.systems[0].run = |_| {
            assert!(CALLS.fetch_add(1, Ordering::Relaxed) < 2, "the third run panics");
            fixed(40.0)
        };
        let rows = measure_workload(&w, &RunConfig { workers: 2, n: 1 }, 3, &|_| {});
        assert_eq!(CALLS.load(Ordering::Relaxed), 3, "no run after the one that panicked");
        assert!(rows[0].median.is_nan());
        assert_eq!(rows[1].median, 100.0, "the peers' rounds go on");
    }

    #[test]
    fn a_panicking_system_is_an_unmeasured_row() {
        let mut w = workload(Target::RatioToBestPeer(0.5));
        w.systems[0].run = |_| panic!("boom");
        let rows = measure_workload(&w, &RunConfig { workers: 2, n: 1 }, 1, &|_| {});
        assert!(rows[0].median.is_nan());
        assert_eq!(rows[0].pass, Some(false));
    }
}
