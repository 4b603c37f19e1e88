//! The SPIFFE Workload API (feature `spiffe`) against a fake agent: gRPC over HTTP/2 on a Unix
//! socket, answering `FetchJWTSVID` as the SPIFFE Workload API standard defines it.

#![cfg(feature = "spiffe")]

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::{BufMut, BytesMut};
use http::{HeaderMap, Response};
use tokensmith_core::ExposeSecret;
use tokensmith_workload::{SPIFFE_ASSERTION_TYPE, WorkloadIdentity};

/// A protobuf length-delimited field.
fn field(out: &mut Vec<u8>, number: u8, bytes: &[u8]) {
    out.push((number << 3) | 2);
    let mut len = bytes.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(bytes);
}

/// The strings of field `number` in a protobuf message (enough for `JWTSVIDRequest`).
fn strings(mut message: &[u8], number: u8) -> Vec<String> {
    let mut found = Vec::new();
    while let Some((&tag, rest)) = message.split_first() {
        let mut len = 0usize;
        let mut shift = 0;
        let mut rest = rest;
        while let Some((&byte, more)) = rest.split_first() {
            len |= usize::from(byte & 0x7f) << shift;
            shift += 7;
            rest = more;
            if byte & 0x80 == 0 {
                break;
            }
        }
        let (value, more) = rest.split_at(len.min(rest.len()));
        if tag == (number << 3) | 2 {
            found.push(String::from_utf8_lossy(value).into_owned());
        }
        message = more;
    }
    found
}

/// A fake agent on a Unix socket: each `FetchJWTSVID` gets `svid`; the audiences asked for
/// are recorded.
async fn agent(svid: String) -> (tempfile::TempDir, String, Arc<Mutex<Vec<Vec<String>>>>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&asked);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let svid = svid.clone();
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let Ok(mut connection) = h2::server::handshake(socket).await else {
                    return;
                };
                while let Some(Ok((request, mut respond))) = connection.accept().await {
                    let svid = svid.clone();
                    let record = Arc::clone(&record);
                    tokio::spawn(async move {
                        let path = request.uri().path().to_owned();
                        let marked = request
                            .headers()
                            .get("workload.spiffe.io")
                            .is_some_and(|v| v == "true");
                        let mut body = request.into_body();
                        let mut frame = Vec::new();
                        while let Some(Ok(chunk)) = body.data().await {
                            let _ = body.flow_control().release_capacity(chunk.len());
                            frame.extend_from_slice(&chunk);
                        }
                        let message = frame.get(5..).unwrap_or_default();
                        record.lock().unwrap().push(strings(message, 1));
                        let ok = path == "/SpiffeWorkloadAPI/FetchJWTSVID" && marked;
                        let head = Response::builder()
                            .status(200)
                            .header("content-type", "application/grpc")
                            .body(())
                            .unwrap();
                        let Ok(mut stream) = respond.send_response(head, false) else {
                            return;
                        };
                        let mut trailers = HeaderMap::new();
                        if ok {
                            let mut inner = Vec::new();
                            field(&mut inner, 1, b"spiffe://example.org/ns/prod/sa/reports");
                            field(&mut inner, 2, svid.as_bytes());
                            let mut reply = Vec::new();
                            field(&mut reply, 1, &inner);
                            let mut data = BytesMut::new();
                            data.put_u8(0);
                            data.put_u32(reply.len() as u32);
                            data.put_slice(&reply);
                            let _ = stream.send_data(data.freeze(), false);
                            trailers.insert("grpc-status", "0".parse().unwrap());
                        } else {
                            trailers.insert("grpc-status", "7".parse().unwrap());
                            trailers.insert("grpc-message", "permission denied".parse().unwrap());
                        }
                        let _ = stream.send_trailers(trailers);
                    });
                }
            });
        }
    });
    let endpoint = format!("unix:{}", path.display());
    (dir, endpoint, asked)
}

fn svid(lifetime: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = serde_json::json!({
        "sub": "spiffe://example.org/ns/prod/sa/reports",
        "aud": ["https://auth.example.com"],
        "exp": now + lifetime,
        "iat": now,
    });
    format!(
        "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.{}.c2ln",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwt_svid_from_the_workload_api_for_the_audience_asked() {
    let token = svid(600);
    let (_dir, endpoint, asked) = agent(token.clone()).await;
    let identity =
        WorkloadIdentity::spiffe_workload_api(Some(&endpoint), ["https://auth.example.com"]);
    let read = identity.token().await.unwrap();
    assert_eq!(read.secret().expose_secret(), token);
    assert_eq!(
        read.subject(),
        Some("spiffe://example.org/ns/prod/sa/reports")
    );
    // Kept while it has time left: the agent is asked once.
    identity.token().await.unwrap();
    assert_eq!(
        asked.lock().unwrap().clone(),
        [vec!["https://auth.example.com".to_owned()]]
    );
    assert_eq!(
        tokensmith_oauth2::ClientAssertion::assertion_type(&identity),
        SPIFFE_ASSERTION_TYPE
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_is_not_there_is_named_with_the_likely_cause() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("unix:{}", dir.path().join("absent.sock").display());
    let error = WorkloadIdentity::spiffe_workload_api(Some(&endpoint), ["aud"])
        .token()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("absent.sock"), "{error}");
    assert!(
        error.hint().is_some_and(|h| h.contains("SPIRE agent")),
        "{:?}",
        error.hint()
    );
}
