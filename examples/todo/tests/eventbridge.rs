//! Events on AWS: the service (the real `todo` binary, `TODO_EVENT_BUS` set) publishes each
//! change to EventBridge (moto on 127.0.0.1), a rule routes them (here to an SQS queue standing in
//! for the consumer Lambda, since moto invokes no Lambda), and the consumer (`todo-activity`'s
//! handler) turns the EventBridge events as Lambda receives them into the list's activity feed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_sdk_eventbridge::config::{BehaviorVersion, Credentials, Region};
use reqwest::Client;

mod common;
use common::{call, dev_token, moto_endpoint as endpoint};
use serde_json::{Value, json};

/// A call of SQS's JSON protocol (moto takes the service from the credential scope).
async fn sqs(c: &Client, endpoint: &str, op: &str, body: Value) -> Value {
    c.post(format!("{endpoint}/"))
        .header("x-amz-target", format!("AmazonSQS.{op}"))
        .header("content-type", "application/x-amz-json-1.0")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `todo` binary on a free port with `TODO_EVENT_BUS`; its URL from its first line.
fn start(dir: &std::path::Path, endpoint: &str, bus: &str) -> (Service, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_todo"))
        .env("PORT", "0")
        .env("TODO_DATA_DIR", dir)
        .env("TODO_EVENT_BUS", bus)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("TODO_ISSUER")
        .env_remove("TODO_STORE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    (Service(child), url)
}

#[tokio::test]
async fn changes_go_through_eventbridge_to_the_consumer_and_into_the_feed() {
    let Some(endpoint) = endpoint() else { return };
    let c = Client::new();
    let unique = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let (bus, queue) = (format!("todo-{unique}"), format!("todo-activity-{unique}"));

    // The bus, a rule on the service's events, an SQS queue as its target.
    let eb = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .build(),
    );
    eb.create_event_bus().name(&bus).send().await.unwrap();
    eb.put_rule()
        .name("activity")
        .event_bus_name(&bus)
        .event_pattern(json!({"source": [todo::events::SOURCE]}).to_string())
        .send()
        .await
        .unwrap();
    let queue_url =
        sqs(&c, &endpoint, "CreateQueue", json!({"QueueName": queue})).await["QueueUrl"]
            .as_str()
            .unwrap()
            .to_owned();
    eb.put_targets()
        .rule("activity")
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("consumer")
                .arn(format!("arn:aws:sqs:us-east-1:123456789012:{queue}"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (service, url) = start(dir.path(), &endpoint, &bus);
    let ann = dev_token(&c, &url, "ann@example.com").await;
    let (_, list) = call(
        c.post(format!("{url}/lists"))
            .bearer_auth(&ann)
            .json(&json!({"name": "groceries"})),
    )
    .await;
    let list = list["id"].as_str().unwrap().to_owned();
    let (s, todo) = call(
        c.post(format!("{url}/lists/{list}/todos"))
            .bearer_auth(&ann)
            .json(&json!({"title": "milk"})),
    )
    .await;
    assert_eq!(s, 201);
    let todo = todo["id"].as_str().unwrap().to_owned();
    let (s, _) = call(
        c.patch(format!("{url}/lists/{list}/todos/{todo}"))
            .bearer_auth(&ann)
            .json(&json!({"done": true})),
    )
    .await;
    assert_eq!(s, 200);

    // Both events reach the rule's target, as EventBridge events with the envelope as detail.
    let mut events: Vec<EventBridgeEvent<Value>> = Vec::new();
    for _ in 0..100 {
        let got = sqs(
            &c,
            &endpoint,
            "ReceiveMessage",
            json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10}),
        )
        .await;
        for m in got["Messages"].as_array().cloned().unwrap_or_default() {
            events.push(serde_json::from_str(m["Body"].as_str().unwrap()).unwrap());
        }
        if events.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(events.len(), 2, "{events:?}");
    events.sort_by(|a, b| {
        a.detail["data"]["id"]
            .as_str()
            .cmp(&b.detail["data"]["id"].as_str())
    });
    let kinds: Vec<&str> = events.iter().map(|e| e.detail_type.as_str()).collect();
    assert_eq!(kinds, ["todo.created", "todo.completed"]);
    for e in &events {
        assert_eq!(e.source, todo::events::SOURCE);
        assert_eq!(e.detail["tenant"]["id"], list.as_str());
        assert_eq!(e.detail["data"]["todo"], todo.as_str());
        assert_eq!(e.detail["data"]["actor"], "ann@example.com");
    }
    // With EventBridge as the bus, nothing is consumed in process.
    let (_, feed) = call(
        c.get(format!("{url}/lists/{list}/activity"))
            .bearer_auth(&ann),
    )
    .await;
    assert_eq!(feed["items"], json!([]));
    drop(service);

    // The consumer, as todo-activity runs it on each event; twice is the same as once.
    let config = todo::Config::local(dir.path());
    let store = todo::open_store(&config).await.unwrap();
    for e in events.iter().chain(events.iter()) {
        todo::events::consume_detail(&store, e.detail.clone())
            .await
            .unwrap();
    }
    let mut forged = events[0].detail.clone();
    forged["tenant"]["id"] = "../other".into();
    assert!(matches!(
        todo::events::consume_detail(&store, forged).await,
        Err(todo::events::ConsumeError::NotAnEvent)
    ));
    assert!(matches!(
        todo::events::consume_detail(&store, json!({"hello": "world"})).await,
        Err(todo::events::ConsumeError::NotAnEvent)
    ));
    drop(store);

    let server = todo::Server::start(config, "127.0.0.1:0").await.unwrap();
    let url = server.url();
    let ann = dev_token(&c, &url, "ann@example.com").await;
    let (_, feed) = call(
        c.get(format!("{url}/lists/{list}/activity"))
            .bearer_auth(&ann),
    )
    .await;
    let kinds: Vec<&str> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["todo.completed", "todo.created"]);
    server.stop().await;
}
