//! The typed calls and API errors.

use tokensmith_airvantage::SystemsQuery;
use tokensmith_airvantage::testing::Simulator;
use tokensmith_testkit::Endpoint;

use crate::{airvantage, builder, signed_in};

#[tokio::test]
async fn systems_paging_fields_one_system_and_the_current_user() {
    let server = airvantage("eu").await;
    let client = signed_in(&server);
    let page = client
        .systems(
            &SystemsQuery::new()
                .offset(1)
                .size(2)
                .fields(["uid", "name"]),
        )
        .await
        .unwrap();
    assert_eq!(page.count, Some(5));
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].uid, "sys-002");
    assert_eq!(
        page.items[0].comm_status, None,
        "fields not asked for are absent"
    );
    let api = server.requests_to(Endpoint::Api);
    assert_eq!(api[0].query_keys, ["offset", "size", "fields"]);
    assert_eq!(api[0].header("authorization"), Some("Bearer [masked]"));

    let system = client.system("sys-003").await.unwrap();
    assert_eq!(system.name.as_deref(), Some("Cold store"));
    let err = client.system("nope").await.unwrap_err();
    assert_eq!(err.payload().unwrap().code, "system.not.found");
    let user = client.current_user().await.unwrap();
    assert_eq!(user.company.unwrap().uid, "company-1");
}

#[tokio::test]
async fn company_and_rights_errors_carry_hints() {
    let server = airvantage("eu").await;
    let client = builder(&server)
        .password("alice", "wonderland")
        .company("someone-else")
        .build()
        .unwrap();
    let err = client.systems(&SystemsQuery::new()).await.unwrap_err();
    assert_eq!(err.payload().unwrap().code, "context.unknown");
    assert!(
        err.hint()
            .unwrap()
            .contains("`company` parameter (`someone-else`)"),
        "{err}"
    );
    assert_eq!(server.requests_to(Endpoint::Api)[0].query_keys, ["company"]);

    let denied = Simulator::new("eu")
        .deny_right("entities.systems.view")
        .server()
        .start()
        .await
        .unwrap();
    let err = signed_in(&denied)
        .systems(&SystemsQuery::new())
        .await
        .unwrap_err();
    assert_eq!(err.status().unwrap().as_u16(), 403);
    assert!(
        err.hint().unwrap().contains("`entities.systems.view`"),
        "{err}"
    );
    assert!(err.to_string().contains("missing.rights"));
}
