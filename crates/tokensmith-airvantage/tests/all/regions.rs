//! One region for tokens and API; a token from another region is explained.

use tokensmith_airvantage::{AirVantageClient, Region, SystemsQuery, testing};

use crate::{region_of, signed_in};

#[test]
fn regions_parse_with_a_clear_error() {
    assert_eq!("NA".parse::<Region>().unwrap(), Region::Na);
    assert_eq!(
        "eu".parse::<Region>().unwrap().base_url().as_str(),
        "https://eu.airvantage.net/"
    );
    let custom: Region = "https://av.example.com/base".parse().unwrap();
    assert_eq!(custom.base_url().as_str(), "https://av.example.com/base/");
    let err = "us-east".parse::<Region>().unwrap_err().to_string();
    assert!(err.contains("`na`, `eu`, or a base URL"), "{err}");
}

#[tokio::test]
async fn a_token_from_eu_is_refused_by_na_with_the_region_hint() {
    let (na, eu) = testing::regions().await.unwrap();
    let eu_client = signed_in(&eu);
    eu_client.current_user().await.unwrap();
    // A client pointed at `na` but holding the `eu` provider: the mistake this crate exists
    // to prevent, made on purpose.
    let mixed = AirVantageClient::builder(region_of(&na))
        .company("company-1")
        .provider(eu_client.provider())
        .build()
        .unwrap();
    let err = mixed.systems(&SystemsQuery::new()).await.unwrap_err();
    let api = err.payload().unwrap();
    assert_eq!(
        (err.status().unwrap().as_u16(), api.code.as_str()),
        (400, "context.unknown")
    );
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("region") && hint.contains("company-1"),
        "{hint}"
    );
    assert_eq!(
        na.counters().token_requests,
        0,
        "na never saw a token request"
    );
}
