use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Version};

use super::*;

fn request(method: Method) -> Request {
    Request::new(
        method,
        "https://api.example.com/v1/things?page=2".parse().unwrap(),
    )
}

#[test]
fn a_replay_copy_carries_what_the_request_had() {
    let mut original = request(Method::DELETE);
    *original.timeout_mut() = Some(Duration::from_secs(7));
    *original.version_mut() = Version::HTTP_2;
    original
        .headers_mut()
        .insert("x-tenant", HeaderValue::from_static("acme"));
    let copy = replay_copy(&original).expect("no body: copied");
    assert_eq!(copy.method(), Method::DELETE);
    assert_eq!(copy.url(), original.url());
    assert_eq!(copy.timeout(), Some(&Duration::from_secs(7)));
    assert_eq!(copy.version(), Version::HTTP_2);
    assert_eq!(copy.headers(), original.headers());
    assert!(copy.body().is_none());

    let plain = replay_copy(&request(Method::GET)).unwrap();
    assert_eq!(plain.timeout(), None);
    assert!(plain.headers().is_empty());
}

#[test]
fn a_replay_copy_keeps_a_body_of_bytes_and_refuses_a_stream() {
    let mut post = request(Method::POST);
    post.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    *post.body_mut() = Some(reqwest::Body::from("{\"n\":1}"));
    let copy = replay_copy(&post).expect("bytes can be sent again");
    assert_eq!(
        copy.body().and_then(reqwest::Body::as_bytes),
        Some(&b"{\"n\":1}"[..])
    );
    assert_eq!(copy.headers(), post.headers());

    let mut streaming = request(Method::PUT);
    *streaming.body_mut() = Some(reqwest::Body::wrap(String::from("streamed")));
    assert!(replay_copy(&streaming).is_none());
}
