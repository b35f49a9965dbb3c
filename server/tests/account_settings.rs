//! Account settings through the router: a principal's own setting, the account default,
//! AWS's default, and their effect on new clusters.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod support;

use serde_json::json;
use support::TestServer;

const ALICE: &str = "arn:aws:iam::000000000000:user/alice";

/// The effective value of `name` for `principal`, and its type.
async fn effective(server: &TestServer, principal: &str, name: &str) -> (String, String) {
    let listed = server
        .ok(
            "ListAccountSettings",
            json!({"effectiveSettings": true, "name": name, "principalArn": principal}),
        )
        .await;
    let setting = &listed["settings"][0];
    (
        setting["value"].as_str().unwrap().to_owned(),
        setting["type"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn own_setting_then_account_default_then_aws_default() {
    let server = TestServer::new();
    assert_eq!(
        effective(&server, ALICE, "containerInsights").await,
        ("disabled".to_owned(), "aws_managed".to_owned())
    );
    let default = server
        .ok(
            "PutAccountSettingDefault",
            json!({"name": "containerInsights", "value": "enhanced"}),
        )
        .await;
    assert_eq!(
        default["setting"],
        json!({"name": "containerInsights", "value": "enhanced",
               "principalArn": "arn:aws:iam::000000000000:root", "type": "user"})
    );
    assert_eq!(
        effective(&server, ALICE, "containerInsights").await.0,
        "enhanced"
    );
    server
        .ok(
            "PutAccountSetting",
            json!({"name": "containerInsights", "value": "disabled", "principalArn": ALICE}),
        )
        .await;
    assert_eq!(
        effective(&server, ALICE, "containerInsights").await,
        ("disabled".to_owned(), "user".to_owned())
    );
    // Alice's own settings: just the one.
    let own = server
        .ok("ListAccountSettings", json!({"principalArn": ALICE}))
        .await;
    assert_eq!(own["settings"].as_array().unwrap().len(), 1);

    let deleted = server
        .ok(
            "DeleteAccountSetting",
            json!({"name": "containerInsights", "principalArn": ALICE}),
        )
        .await;
    assert_eq!(deleted["setting"]["value"], "disabled");
    assert_eq!(
        effective(&server, ALICE, "containerInsights").await.0,
        "enhanced"
    );
}

#[tokio::test]
async fn the_container_insights_setting_is_the_default_of_new_clusters() {
    let server = TestServer::new();
    server
        .ok(
            "PutAccountSettingDefault",
            json!({"name": "containerInsights", "value": "enabled"}),
        )
        .await;
    let created = server
        .ok("CreateCluster", json!({"clusterName": "insights"}))
        .await;
    assert_eq!(
        created["cluster"]["settings"],
        json!([{"name": "containerInsights", "value": "enabled"}])
    );
    // The request's own setting still wins.
    let created = server.ok("CreateCluster",
        json!({"clusterName": "quiet", "settings": [{"name": "containerInsights", "value": "disabled"}]}),
    )
    .await;
    assert_eq!(created["cluster"]["settings"][0]["value"], "disabled");
}

#[tokio::test]
async fn effective_settings_list_every_setting_in_pages() {
    let server = TestServer::new();
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"effectiveSettings": true, "maxResults": 4});
        if let Some(t) = &token {
            body["nextToken"] = json!(t);
        }
        let page = server.ok("ListAccountSettings", body).await;
        for s in page["settings"].as_array().unwrap() {
            names.push(s["name"].as_str().unwrap().to_owned());
        }
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names, sorted, "each once, in order");
    assert!(names.contains(&"serviceLongArnFormat".to_owned()));
    assert!(names.contains(&"fargateTaskRetirementWaitPeriod".to_owned()));
    let too_many = server
        .call("ListAccountSettings", json!({"maxResults": 11}))
        .await;
    assert_eq!(too_many.error_type(), "InvalidParameterException");
}

#[tokio::test]
async fn what_ecs_refuses_is_refused_and_nothing_is_stored() {
    let server = TestServer::new();
    for (body, why) in [
        (
            json!({"name": "serviceLongArnFormat", "value": "disabled"}),
            "long ARNs for good",
        ),
        (
            json!({"name": "guardDutyActivate", "value": "on"}),
            "read-only",
        ),
        (
            json!({"name": "containerInsights", "value": "sometimes"}),
            "bad value",
        ),
        (
            json!({"name": "fargateTaskRetirementWaitPeriod", "value": "3"}),
            "bad period",
        ),
        (
            json!({"name": "awsvpcTrunking", "value": "enabled", "principalArn": "arn:aws:s3:::bucket"}),
            "not a principal",
        ),
    ] {
        let refused = server.call("PutAccountSetting", body.clone()).await;
        assert_eq!(
            refused.error_type(),
            "InvalidParameterException",
            "{why}: {body}"
        );
    }
    let own = server.ok("ListAccountSettings", json!({})).await;
    assert_eq!(own["settings"], json!([]));
    let period = server
        .ok(
            "PutAccountSetting",
            json!({"name": "fargateTaskRetirementWaitPeriod", "value": "14"}),
        )
        .await;
    assert_eq!(period["setting"]["value"], "14");
}
