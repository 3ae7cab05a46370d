//! Traces: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, a check run and its queries arrive at an
//! OTLP/HTTP receiver as spans.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::routing::post;

use crate::common::{Backend, Db};

/// One OTLP request: its content type and body.
type Export = (String, Vec<u8>);

#[tokio::test]
async fn check_runs_are_exported_as_otlp_traces() {
    let received: Arc<Mutex<Vec<Export>>> = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |headers: axum::http::HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                let ct = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                sink.lock().unwrap().push((ct, body.to_vec()));
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let db = Db::connect(Backend::Sqlite).await.unwrap();
    let t = db.table("traced", 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("driftwatch.yaml"),
        format!(
            "systems:\n  a: {{url: \"{0}\"}}\n  b: {{url: \"{0}\"}}\nchecks: [c.yaml]\n",
            db.url
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("c.yaml"),
        format!("checks:\n  - {{name: traced_rows, kind: row_count, schedule: '@hourly', a: {{table: {t}}}, b: {{table: {t}}}}}\n"),
    )
    .unwrap();
    let out = tokio::process::Command::new(crate::common::bin())
        .args(["check"])
        .current_dir(dir.path())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{addr}"))
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = received.lock().unwrap().clone();
    assert!(!got.is_empty(), "no OTLP export arrived");
    let (content_type, body) = &got[0];
    assert_eq!(content_type, "application/x-protobuf");
    let contains = |needle: &str| body.windows(needle.len()).any(|w| w == needle.as_bytes());
    // Protobuf keeps strings as they are: the service, the check span and its query spans.
    assert!(contains("driftwatch"), "service name missing");
    assert!(contains("traced_rows"), "check span missing");
    assert!(
        contains("db.statement") && contains(&format!("SELECT COUNT(*) FROM \"{t}\"")),
        "query span missing"
    );
}
