use super::*;
use p9_wire::{
    Tmessage, P9_RWALK, P9_TGETATTR, P9_TGETLOCK, P9_TLOPEN, P9_TREAD, P9_TVERSION, P9_TWALK,
};

#[test]
fn buckets() {
    assert_eq!(bucket_of(0), 0);
    assert_eq!(bucket_of(1), 0);
    assert_eq!(bucket_of(1000), 0);
    assert_eq!(bucket_of(1001), 1);
    assert_eq!(bucket_of(2000), 1);
    assert_eq!(bucket_of(2001), 2);
    assert_eq!(bucket_of(4000), 2);
    assert_eq!(bucket_of(1_000_000), 10); // 1 ms <= 1024 us
    assert_eq!(bucket_of(10_000_000_000), 24); // 10 s <= 16.8 s
    assert_eq!(bucket_of(16_777_216_000), 24);
    assert_eq!(bucket_of(16_777_216_001), FINITE_BUCKETS);
    assert_eq!(bucket_of(u64::MAX), FINITE_BUCKETS);
    // Every value lies in its bucket's bounds.
    for ns in (0..5_000_000u64).step_by(997) {
        let b = bucket_of(ns);
        assert!(ns <= bucket_bound_us(b) * 1000);
        if b > 0 {
            assert!(ns > bucket_bound_us(b - 1) * 1000);
        }
    }
}

#[test]
fn op_indices() {
    assert_eq!(OP_NAMES[op_index(P9_TWALK)], "walk");
    assert_eq!(OP_NAMES[op_index(P9_TGETATTR)], "getattr");
    assert_eq!(OP_NAMES[op_index(P9_TGETLOCK)], "getlock");
    assert_eq!(OP_NAMES[op_index(P9_TVERSION)], "version");
    assert_eq!(OP_NAMES[op_index(0)], "unknown");
    assert_eq!(OP_NAMES[op_index(P9_RWALK)], "unknown");
    assert_eq!(OP_NAMES[op_index(255)], "unknown");
    for (i, &t) in Tmessage::TYPES.iter().enumerate() {
        let name = p9_wire::msg_type_name(t).unwrap();
        assert_eq!(name[1..].to_ascii_lowercase(), OP_NAMES[i], "{name}");
    }
}

fn sample() -> Stats {
    let stats = Stats::new();
    {
        let c = stats.connect();
        for _ in 0..90 {
            c.record(op_index(P9_TWALK), 1_500, 0, 0); // 2 us bucket
        }
        for _ in 0..10 {
            c.record(op_index(P9_TWALK), 3_000_000, libc::ENOENT, 0); // 4096 us
        }
        c.record(op_index(P9_TREAD), 10_000, 0, 4096);
        c.record(op_index(P9_TREAD), 20_000_000_000, 0, 10); // overflow
        c.record(op_index(P9_TLOPEN), 500, 999, 0);
        c.set_fids(3);
        let snap = stats.snapshot();
        assert_eq!((snap.connections_open, snap.fids_open), (1, 3));
    }
    stats
}

#[test]
fn merges_live_and_retired_connections() {
    let stats = sample();
    let live = stats.connect();
    live.record(op_index(P9_TWALK), 100, 0, 0);
    live.set_fids(2);
    let s = stats.snapshot();
    assert_eq!(s.connections_open, 1);
    assert_eq!(s.connections_total, 2);
    assert_eq!(s.fids_open, 2);
    let walk = s.op("walk").unwrap();
    assert_eq!((walk.requests, walk.errors), (101, 10));
    assert_eq!(walk.buckets[0], 1);
    assert_eq!(walk.buckets[1], 90);
    assert_eq!(walk.buckets[12], 10);
    assert_eq!(s.op("read").unwrap().bytes, 4106);
    assert_eq!(s.op("getattr"), None);
    assert_eq!(
        s.errnos,
        vec![("other".to_string(), 1), ("ENOENT".to_string(), 10)]
    );
    drop(live);
    let s = stats.snapshot();
    assert_eq!((s.connections_open, s.fids_open), (0, 0));
    assert_eq!(s.op("walk").unwrap().requests, 101);
}

#[test]
fn quantiles() {
    let s = sample().snapshot();
    let walk = s.op("walk").unwrap();
    // 90 of 100 in (1, 2] us: the median interpolates to 1 + 50/90.
    let p50 = walk.quantile_us(0.5);
    assert!((p50 - (1.0 + 50.0 / 90.0)).abs() < 1e-9, "{p50}");
    // p99 is in the (2048, 4096] us bucket.
    let p99 = walk.quantile_us(0.99);
    assert!(p99 > 2048.0 && p99 <= 4096.0, "{p99}");
    // The overflow bucket reports its lower bound.
    let read = s.op("read").unwrap();
    assert_eq!(read.quantile_us(1.0), (1u64 << 24) as f64);
    let mean = walk.mean_us();
    assert!((mean - (90.0 * 1.5 + 10.0 * 3000.0) / 100.0).abs() < 1e-9);
}

#[test]
fn table() {
    let t = sample().snapshot().to_table();
    let walk = t.lines().find(|l| l.starts_with("walk ")).unwrap();
    let cols: Vec<&str> = walk.split_whitespace().collect();
    assert_eq!(&cols[..4], ["walk", "100", "10", "-"]);
    assert!(t.contains("errors by errno: other 1, ENOENT 10"), "{t}");
    assert!(t.contains("connections open 0 (total 1)"), "{t}");
    assert!(Stats::new()
        .snapshot()
        .to_table()
        .contains("no requests yet"));
}

#[test]
fn json() {
    let j: serde_json::Value = serde_json::from_str(&sample().snapshot().to_json()).unwrap();
    assert_eq!(j["ops"]["walk"]["requests"], 100);
    assert_eq!(j["ops"]["walk"]["errors"], 10);
    assert_eq!(j["ops"]["read"]["bytes"], 4106);
    assert_eq!(j["errors_by_errno"]["ENOENT"], 10);
    assert_eq!(j["bucket_upper_bounds_us"][24], 1u64 << 24);
    assert_eq!(
        j["ops"]["walk"]["latency_buckets"]
            .as_array()
            .unwrap()
            .len(),
        SLOTS
    );
}

#[test]
fn prometheus_format() {
    let text = sample().snapshot().to_prometheus();
    let m = parse_prometheus(&text);
    let want = [
        (r#"p9proxy_requests_total{op="walk"}"#, 100.0),
        (r#"p9proxy_request_errors_total{op="walk"}"#, 10.0),
        (r#"p9proxy_errors_total{errno="ENOENT"}"#, 10.0),
        (r#"p9proxy_data_bytes_total{op="read"}"#, 4106.0),
        (r#"p9proxy_data_bytes_total{op="write"}"#, 0.0),
        (
            r#"p9proxy_request_duration_seconds_bucket{op="walk",le="0.000001"}"#,
            0.0,
        ),
        (
            r#"p9proxy_request_duration_seconds_bucket{op="walk",le="0.000002"}"#,
            90.0,
        ),
        (
            r#"p9proxy_request_duration_seconds_bucket{op="walk",le="+Inf"}"#,
            100.0,
        ),
        (
            r#"p9proxy_request_duration_seconds_bucket{op="read",le="16.777216"}"#,
            1.0,
        ),
        (
            r#"p9proxy_request_duration_seconds_bucket{op="read",le="+Inf"}"#,
            2.0,
        ),
        (
            r#"p9proxy_request_duration_seconds_count{op="walk"}"#,
            100.0,
        ),
    ];
    for (series, value) in want {
        assert_eq!(m[series], value, "{series}");
    }
    let sum = m[r#"p9proxy_request_duration_seconds_sum{op="walk"}"#];
    assert!((sum - 0.030135).abs() < 1e-9, "{sum}");
    assert_eq!(m["p9proxy_connections_open"], 0.0);
    assert_eq!(m["p9proxy_connections_total"], 1.0);
}

/// A strict reader of the text format as this module writes it: every family has
/// HELP then TYPE before its samples, counters end in `_total`, histogram buckets are
/// cumulative, end with `+Inf` equal to `_count`, and samples are unique.
fn parse_prometheus(text: &str) -> std::collections::HashMap<String, f64> {
    let mut samples = std::collections::HashMap::new();
    let mut types: std::collections::HashMap<String, String> = Default::default();
    let mut current: Option<(String, String)> = None;
    let mut last_help: Option<String> = None;
    let mut last_bucket: Option<(String, f64, f64)> = None; // op, le, value
    for line in text.lines() {
        assert!(!line.is_empty(), "no blank lines");
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            assert!(!help.is_empty());
            last_help = Some(name.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').unwrap();
            assert_eq!(last_help.as_deref(), Some(name), "HELP before TYPE");
            assert!(["counter", "gauge", "histogram"].contains(&ty));
            if ty == "counter" {
                assert!(name.ends_with("_total"), "{name}");
            }
            assert!(
                types.insert(name.into(), ty.into()).is_none(),
                "{name} twice"
            );
            current = Some((name.into(), ty.into()));
            continue;
        }
        assert!(!line.starts_with('#'));
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap();
        let name = series.split('{').next().unwrap();
        assert!(name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'));
        let (family, ty) = current.clone().expect("a TYPE before samples");
        if ty == "histogram" {
            let suffix = name.strip_prefix(family.as_str()).unwrap();
            assert!(["_bucket", "_sum", "_count"].contains(&suffix), "{name}");
            if suffix == "_bucket" {
                let labels = &series[name.len()..];
                let le = labels.split("le=\"").nth(1).unwrap();
                let le = le.split('"').next().unwrap();
                let le: f64 = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                let op = labels.split("op=\"").nth(1).unwrap();
                let op = op.split('"').next().unwrap().to_string();
                if let Some((pop, ple, pv)) = &last_bucket {
                    if *pop == op {
                        assert!(le > *ple && value >= *pv, "cumulative: {line}");
                    }
                }
                last_bucket = Some((op, le, value));
            } else if suffix == "_count" {
                let (_, le, v) = last_bucket.clone().unwrap();
                assert_eq!(le, f64::INFINITY, "+Inf bucket last");
                assert_eq!(v, value, "+Inf bucket == count");
            }
        } else {
            assert_eq!(name, family);
        }
        assert!(
            samples.insert(series.to_string(), value).is_none(),
            "{series}"
        );
    }
    samples
}
