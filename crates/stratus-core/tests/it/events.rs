//! Lambda's event shapes (`stratus_core::events`) against what Stratus
//! emits.
//!
//! Three kinds of evidence:
//! - `tests/cases/events/*.jsonl`: one exact JSON text per line, as the
//!   producers in the service crates and the triggers print it (`#` lines are comments). Each
//!   parses into its type and prints back byte for byte, and is canonical
//!   (sorted keys, which is what `json!`/`serde_json::Map` print).
//! - The producers' code, copied here as `producer_*` functions (same
//!   `json!` blocks, same inputs), against the types' constructors.
//! - The samples of `shared/specs/lambda.md` §3 parse into the types.

use crate::cases;
use base64::Engine as _;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use stratus_core::events::{
    DestinationCondition, DestinationOutcome, DestinationRecord, EventBridgeEvent, SnsEvent,
    SnsMessageAttribute, SnsNotification, SqsEvent, SqsMessageAttribute, SqsRecord, event_time,
    json_or_text, scheduled_time, timestamp_millis,
};
use stratus_core::scope::ResourceScope;

const REGION: &str = "us-east-1";
const ACCOUNT_ID: &str = "000000000000";

fn round_trip<T: Serialize + DeserializeOwned>(line: &str) -> Result<(), String> {
    let typed: T = serde_json::from_str(line).map_err(|e| format!("does not parse: {e}"))?;
    let printed = serde_json::to_string(&typed).map_err(|e| e.to_string())?;
    if printed != line {
        return Err(format!("prints as\n  {printed}"));
    }
    let canonical = serde_json::from_str::<Value>(line)
        .map_err(|e| e.to_string())?
        .to_string();
    if canonical != line {
        return Err(format!("is not how json! prints it:\n  {canonical}"));
    }
    Ok(())
}

#[test]
fn event_cases_print_byte_for_byte() {
    let mut failures = Vec::new();
    let mut total = 0;
    for file in cases::files("events", "jsonl") {
        let body = std::fs::read_to_string(&file).expect("case file");
        let check: fn(&str) -> Result<(), String> = match cases::name(&file).as_str() {
            "sqs" => round_trip::<SqsEvent>,
            "sns" => round_trip::<SnsEvent>,
            "sns_envelope" => round_trip::<SnsNotification>,
            "eventbridge" => round_trip::<EventBridgeEvent>,
            "destination" => round_trip::<DestinationRecord>,
            other => panic!("unknown event case file {other}"),
        };
        for (n, line) in body.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            total += 1;
            if let Err(why) = check(line) {
                failures.push(format!("{}:{}: {line}\n{why}", cases::name(&file), n + 1));
            }
        }
    }
    cases::report("event", total, failures);
}

// ---------------------------------------------------------------------------
// The producers as they were before they used these types (then in
// crates/stratus-events/src; only `REGION`, `ACCOUNT_ID` and the ARN
// helpers spelt out), kept as a second witness of the bytes.

struct Attr {
    data_type: &'static str,
    string_value: Option<&'static str>,
    binary_value: Option<Vec<u8>>,
}

struct Received {
    message_id: &'static str,
    receipt_handle: &'static str,
    body: &'static str,
    md5_of_body: &'static str,
    md5_of_message_attributes: Option<&'static str>,
    message_attributes: BTreeMap<String, Attr>,
    attributes: BTreeMap<String, String>,
}

/// pollers.rs `sqs_event`.
fn producer_sqs_event(queue: &str, messages: &[Received]) -> Value {
    let arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}");
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, Value> = m
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            let message_attributes: serde_json::Map<String, Value> = m
                .message_attributes
                .iter()
                .map(|(name, a)| {
                    let mut value = json!({
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": a.data_type,
                    });
                    if let Some(s) = &a.string_value {
                        value["stringValue"] = Value::String(s.to_string());
                    }
                    if let Some(b) = &a.binary_value {
                        value["binaryValue"] =
                            Value::String(base64::engine::general_purpose::STANDARD.encode(b));
                    }
                    (name.clone(), value)
                })
                .collect();
            let mut record = json!({
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": m.md5_of_body,
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": REGION,
            });
            if let Some(md5) = &m.md5_of_message_attributes {
                record["md5OfMessageAttributes"] = Value::String(md5.to_string());
            }
            record
        })
        .collect();
    json!({ "Records": records })
}

fn typed_sqs_event(queue: &str, messages: &[Received]) -> SqsEvent {
    let scope = ResourceScope::DEFAULT;
    SqsEvent {
        records: messages
            .iter()
            .map(|m| {
                let mut record = SqsRecord::new(
                    &scope,
                    queue,
                    m.message_id,
                    m.receipt_handle,
                    m.body,
                    m.md5_of_body,
                );
                record.attributes = m.attributes.clone();
                record.md5_of_message_attributes = m.md5_of_message_attributes.map(str::to_string);
                record.message_attributes = m
                    .message_attributes
                    .iter()
                    .map(|(name, a)| {
                        (
                            name.clone(),
                            SqsMessageAttribute::new(
                                a.data_type,
                                a.string_value,
                                a.binary_value.as_deref(),
                            ),
                        )
                    })
                    .collect();
                record
            })
            .collect(),
    }
}

#[test]
fn sqs_events_match_the_poller() {
    let plain = Received {
        message_id: "id-1",
        receipt_handle: "h-id-1",
        body: "hello \"quoted\" é \u{1F600}",
        md5_of_body: "00",
        md5_of_message_attributes: None,
        message_attributes: BTreeMap::new(),
        attributes: BTreeMap::from([
            ("SentTimestamp".to_string(), "1".to_string()),
            ("ApproximateReceiveCount".to_string(), "1".to_string()),
            ("SequenceNumber".to_string(), "2".to_string()),
        ]),
    };
    let attributed = Received {
        message_id: "id-2",
        receipt_handle: "h-id-2",
        body: "",
        md5_of_body: "11",
        md5_of_message_attributes: Some("22"),
        message_attributes: BTreeMap::from([
            (
                "s".to_string(),
                Attr {
                    data_type: "String",
                    string_value: Some("v"),
                    binary_value: None,
                },
            ),
            (
                "b".to_string(),
                Attr {
                    data_type: "Binary.custom",
                    string_value: None,
                    binary_value: Some(vec![0, 1, 2, 255]),
                },
            ),
            (
                "n".to_string(),
                Attr {
                    data_type: "Number",
                    string_value: Some("1.5"),
                    binary_value: None,
                },
            ),
        ]),
        attributes: BTreeMap::new(),
    };
    for (queue, batch) in [
        ("jobs", vec![plain]),
        ("orders.fifo", vec![attributed]),
        ("empty", vec![]),
    ] {
        let want = producer_sqs_event(queue, &batch).to_string();
        let got = serde_json::to_string(&typed_sqs_event(queue, &batch)).expect("serialises");
        assert_eq!(got, want);
    }
}

struct Published {
    topic_arn: String,
    message_id: &'static str,
    timestamp: String,
    subject: Option<&'static str>,
    message: &'static str,
    attributes: BTreeMap<String, Attr>,
    endpoint_url: &'static str,
    sequence_number: Option<&'static str>,
    signature: &'static str,
}

/// topics.rs `attributes_json`.
fn producer_attributes_json(attributes: &BTreeMap<String, Attr>) -> Value {
    let map = attributes
        .iter()
        .map(|(name, a)| {
            let value = match (&a.string_value, &a.binary_value) {
                (Some(s), _) => s.to_string(),
                (None, Some(b)) => base64::engine::general_purpose::STANDARD.encode(b),
                (None, None) => String::new(),
            };
            (name.clone(), json!({"Type": a.data_type, "Value": value}))
        })
        .collect::<serde_json::Map<_, _>>();
    Value::Object(map)
}

impl Published {
    fn unsubscribe_url(&self, subscription: &str) -> String {
        format!(
            "{}/?Action=Unsubscribe&SubscriptionArn={subscription}",
            self.endpoint_url
        )
    }

    fn cert_url(&self) -> String {
        format!(
            "{}/SimpleNotificationService-stratus.pem",
            self.endpoint_url
        )
    }

    /// topics.rs `Publication::envelope`.
    fn envelope(&self, subscription: &str) -> String {
        let mut doc = serde_json::Map::new();
        doc.insert("Type".into(), "Notification".into());
        doc.insert("MessageId".into(), self.message_id.into());
        if let Some(seq) = &self.sequence_number {
            doc.insert("SequenceNumber".into(), (*seq).into());
        }
        doc.insert("TopicArn".into(), self.topic_arn.clone().into());
        if let Some(subject) = &self.subject {
            doc.insert("Subject".into(), (*subject).into());
        }
        doc.insert("Message".into(), self.message.into());
        doc.insert("Timestamp".into(), self.timestamp.clone().into());
        doc.insert("SignatureVersion".into(), "1".into());
        doc.insert("Signature".into(), self.signature.into());
        doc.insert("SigningCertURL".into(), self.cert_url().into());
        doc.insert(
            "UnsubscribeURL".into(),
            self.unsubscribe_url(subscription).into(),
        );
        if !self.attributes.is_empty() {
            doc.insert(
                "MessageAttributes".into(),
                producer_attributes_json(&self.attributes),
            );
        }
        Value::Object(doc).to_string()
    }

    /// topics.rs `Publication::lambda_event`.
    fn lambda_event(&self, subscription: &str) -> String {
        json!({
            "Records": [{
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": self.message_id,
                    "TopicArn": self.topic_arn,
                    "Subject": self.subject,
                    "Message": self.message,
                    "Timestamp": self.timestamp,
                    "SignatureVersion": "1",
                    "Signature": self.signature,
                    "SigningCertUrl": self.cert_url(),
                    "UnsubscribeUrl": self.unsubscribe_url(subscription),
                    "MessageAttributes": producer_attributes_json(&self.attributes),
                }
            }]
        })
        .to_string()
    }

    fn typed(&self, subscription: &str) -> SnsNotification {
        SnsNotification {
            message: self.message.to_string(),
            message_attributes: self
                .attributes
                .iter()
                .map(|(name, a)| {
                    (
                        name.clone(),
                        SnsMessageAttribute::new(
                            a.data_type,
                            a.string_value,
                            a.binary_value.as_deref(),
                        ),
                    )
                })
                .collect(),
            message_id: self.message_id.to_string(),
            sequence_number: self.sequence_number.map(str::to_string),
            signature: self.signature.to_string(),
            signature_version: SnsNotification::SIGNATURE_VERSION.to_string(),
            signing_cert_url: self.cert_url(),
            subject: self.subject.map(str::to_string),
            timestamp: self.timestamp.clone(),
            topic_arn: self.topic_arn.clone(),
            message_type: SnsNotification::NOTIFICATION.to_string(),
            unsubscribe_url: self.unsubscribe_url(subscription),
        }
    }
}

#[test]
fn sns_documents_match_the_topic_fan_out() {
    let scope = ResourceScope::DEFAULT;
    let bare = Published {
        topic_arn: stratus_core::Arn::topic(&scope, "fan").to_string(),
        message_id: "m-1",
        timestamp: timestamp_millis(1_704_067_200_000).expect("in range"),
        subject: None,
        message: "hi",
        attributes: BTreeMap::new(),
        endpoint_url: "http://127.0.0.1:9000",
        sequence_number: None,
        signature: "c2ln",
    };
    let full = Published {
        topic_arn: stratus_core::Arn::topic(&scope, "fan.fifo").to_string(),
        message_id: "m-2",
        timestamp: timestamp_millis(1_704_067_200_250).expect("in range"),
        subject: Some("Hello <&>"),
        message: "{\"k\":\"v\"}",
        attributes: BTreeMap::from([
            (
                "kind".to_string(),
                Attr {
                    data_type: "String",
                    string_value: Some("order"),
                    binary_value: None,
                },
            ),
            (
                "bin".to_string(),
                Attr {
                    data_type: "Binary",
                    string_value: None,
                    binary_value: Some(vec![0, 1, 2]),
                },
            ),
            (
                "none".to_string(),
                Attr {
                    data_type: "String",
                    string_value: None,
                    binary_value: None,
                },
            ),
        ]),
        endpoint_url: "http://h",
        sequence_number: Some("10000000000000000001"),
        signature: "c2ln",
    };
    for publication in [bare, full] {
        let subscription =
            stratus_core::Arn::subscription(&scope, "fan", "0b7c1b5e-4b5f").to_string();
        let typed = publication.typed(&subscription);
        assert_eq!(
            serde_json::to_string(&typed).expect("serialises"),
            publication.envelope(&subscription)
        );
        let event = SnsEvent {
            records: vec![typed.lambda_record(subscription.clone())],
        };
        assert_eq!(
            serde_json::to_string(&event).expect("serialises"),
            publication.lambda_event(&subscription)
        );
    }
}

/// bus.rs `event_of` (the part that builds the envelope).
fn producer_bus_event(
    id: &str,
    detail_type: &str,
    source: &str,
    time: chrono::DateTime<chrono::Utc>,
    resources: &[String],
    detail: Value,
) -> Value {
    let mut event = serde_json::Map::new();
    event.insert("version".into(), "0".into());
    event.insert("id".into(), id.into());
    event.insert("detail-type".into(), detail_type.into());
    event.insert("source".into(), source.into());
    event.insert("account".into(), ACCOUNT_ID.into());
    event.insert(
        "time".into(),
        time.format("%Y-%m-%dT%H:%M:%SZ").to_string().into(),
    );
    event.insert("region".into(), REGION.into());
    event.insert(
        "resources".into(),
        Value::Array(resources.iter().cloned().map(Value::String).collect()),
    );
    event.insert("detail".into(), detail);
    Value::Object(event)
}

/// scheduler.rs `envelope`.
fn producer_scheduled(id: &str, rule: &str, tick_ms: i64, missed: u64) -> Value {
    let time = chrono::DateTime::from_timestamp_millis(tick_ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default();
    let detail = if missed > 0 {
        json!({ "missedTicks": missed })
    } else {
        json!({})
    };
    json!({
        "version": "0",
        "id": id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": time,
        "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule}")],
        "detail": detail,
    })
}

#[test]
fn eventbridge_events_match_the_bus_and_the_scheduler() {
    let scope = ResourceScope::DEFAULT;
    let ms = 1_704_067_200_999;
    let time = chrono::DateTime::from_timestamp_millis(ms).expect("in range");
    let resources = vec!["arn:aws:sqs:us-east-1:000000000000:q".to_string()];
    let detail = json!({"z": 1, "a": {"y": [1, {"b": null}]}, "detail-type": "x"});
    let mut typed = EventBridgeEvent::new(
        &scope,
        "e-1",
        "shop",
        "Order Placed",
        event_time(ms).expect("in range"),
        detail.clone(),
    );
    typed.resources = resources.clone();
    let want = producer_bus_event("e-1", "Order Placed", "shop", time, &resources, detail);
    assert_eq!(
        serde_json::to_string(&typed).expect("serialises"),
        want.to_string()
    );
    assert_eq!(serde_json::to_value(&typed).expect("a value"), want);

    for (tick, missed) in [(1_704_067_200_000, 0), (1_704_067_200_250, 3)] {
        let detail = if missed > 0 {
            json!({ "missedTicks": missed })
        } else {
            json!({})
        };
        let typed = EventBridgeEvent::scheduled(
            &scope,
            "id-1",
            "f-schedule-1",
            scheduled_time(tick).expect("in range"),
            detail,
        );
        assert_eq!(
            serde_json::to_string(&typed).expect("serialises"),
            producer_scheduled("id-1", "f-schedule-1", tick, missed).to_string()
        );
    }
}

/// destinations.rs `destination_record`, over the engine's outcome fields.
fn producer_destination(o: &DestinationOutcome<'_>, timestamp: &str) -> Value {
    let qualifier = match o.version {
        Some(v) => v.to_string(),
        None => "$LATEST".to_string(),
    };
    let mut response_context = json!({
        "statusCode": 200,
        "executedVersion": qualifier,
    });
    let response_payload = match (&o.response, &o.error) {
        (Some(body), _) => json_or_text(body),
        (None, Some((error_type, message, body))) => {
            response_context["functionError"] = Value::String("Unhandled".into());
            match body {
                Some(body) if serde_json::from_slice::<Value>(body).is_ok() => json_or_text(body),
                _ => json!({"errorType": error_type, "errorMessage": message}),
            }
        }
        (None, None) => Value::Null,
    };
    let mut record = json!({
        "version": "1.0",
        "timestamp": timestamp,
        "requestContext": {
            "requestId": o.request_id,
            "functionArn": format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{}:{qualifier}", o.function),
            "condition": o.condition.as_str(),
            "approximateInvokeCount": o.attempts,
        },
        "requestPayload": json_or_text(o.payload),
    });
    if o.condition != DestinationCondition::EventAgeExceeded {
        record["responseContext"] = response_context;
        record["responsePayload"] = response_payload;
    }
    record
}

#[test]
fn destination_records_match_the_engine_handler() {
    let scope = ResourceScope::DEFAULT;
    let timestamp = timestamp_millis(1_704_067_200_000).expect("in range");
    let base = DestinationOutcome {
        function: "f",
        version: Some(3),
        request_id: "r-1",
        condition: DestinationCondition::Success,
        attempts: 1,
        payload: br#"{"a":1}"#,
        response: Some(br#"{"ok":true}"#),
        error: None,
    };
    let outcomes = [
        base,
        DestinationOutcome {
            response: Some(b"plain text"),
            ..base
        },
        DestinationOutcome {
            version: None,
            condition: DestinationCondition::RetriesExhausted,
            attempts: 3,
            payload: b"not json",
            response: None,
            error: Some(("Error", "boom", None)),
            ..base
        },
        DestinationOutcome {
            condition: DestinationCondition::RetriesExhausted,
            response: None,
            error: Some((
                "Error",
                "boom",
                Some(br#"{"errorType":"E","stackTrace":[]}"#),
            )),
            ..base
        },
        DestinationOutcome {
            condition: DestinationCondition::RetriesExhausted,
            response: None,
            error: Some(("Error", "boom", Some(b"not json"))),
            ..base
        },
        DestinationOutcome {
            condition: DestinationCondition::RetriesExhausted,
            response: None,
            error: None,
            ..base
        },
        DestinationOutcome {
            version: None,
            condition: DestinationCondition::EventAgeExceeded,
            attempts: 0,
            response: None,
            error: None,
            ..base
        },
    ];
    for outcome in outcomes {
        let typed = DestinationRecord::new(&scope, &outcome, timestamp.clone());
        let want = producer_destination(&outcome, &timestamp);
        assert_eq!(
            serde_json::to_string(&typed).expect("serialises"),
            want.to_string(),
            "{outcome:?}"
        );
        let back: DestinationRecord = serde_json::from_value(want).expect("parses its own output");
        assert_eq!(back, typed);
    }
}

#[test]
fn spec_samples_parse() {
    // shared/specs/lambda.md §3 (from aws-lambda-go's testdata), as written.
    let sqs: SqsEvent = serde_json::from_str(
        r#"{"Records":[{"messageId":"…","receiptHandle":"…","body":"…","md5OfBody":"…",
 "attributes":{"ApproximateReceiveCount":"1","SentTimestamp":"1520621625029","SenderId":"…","ApproximateFirstReceiveTimestamp":"…"},
 "messageAttributes":{"A":{"stringValue":"v","dataType":"String","stringListValues":[],"binaryListValues":[]}},
 "eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:…:q","awsRegion":"us-west-2"}]}"#,
    )
    .expect("the SQS sample");
    assert_eq!(sqs.records[0].aws_region, "us-west-2");
    assert_eq!(
        sqs.records[0].message_attributes["A"]
            .string_value
            .as_deref(),
        Some("v")
    );
    let sns: SnsEvent = serde_json::from_str(
        r#"{"Records":[{"EventSource":"aws:sns","EventVersion":"1.0","EventSubscriptionArn":"…",
 "Sns":{"Type":"Notification","MessageId":"…","TopicArn":"…","Subject":"…","Message":"…",
 "Timestamp":"2015-06-03T17:43:27.123Z","SignatureVersion":"1","Signature":"…",
 "SigningCertUrl":"…","UnsubscribeUrl":"…","MessageAttributes":{"k":{"Type":"String","Value":"v"}}}}]}"#,
    )
    .expect("the SNS sample");
    assert_eq!(sns.records[0].sns.message_attributes["k"].value, "v");
    let event: EventBridgeEvent = serde_json::from_str(
        r#"{"version":"0","id":"uuid","detail-type":"…","source":"my.app","account":"123456789012",
 "time":"2024-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail":{}}"#,
    )
    .expect("the EventBridge sample");
    assert_eq!(event.account, "123456789012");
    // "A scheduled rule delivers the same envelope with source aws.events,
    // detail-type Scheduled Event, resources [rule ARN] and detail {}".
    let scope = ResourceScope::parse("us-east-1", "123456789012").expect("valid scope");
    let scheduled =
        EventBridgeEvent::scheduled(&scope, "uuid", "r", "2024-01-01T00:00:00Z", json!({}));
    assert_eq!(
        serde_json::to_value(&scheduled).expect("a value"),
        json!({"version":"0","id":"uuid","detail-type":"Scheduled Event","source":"aws.events",
               "account":"123456789012","time":"2024-01-01T00:00:00Z","region":"us-east-1",
               "resources":["arn:aws:events:us-east-1:123456789012:rule/r"],"detail":{}})
    );
    // The failure-destination record: version, timestamp, requestContext
    // {requestId, functionArn, condition, approximateInvokeCount},
    // requestPayload, responseContext {statusCode, executedVersion,
    // functionError}, responsePayload.
    let record = DestinationRecord::new(
        &ResourceScope::DEFAULT,
        &DestinationOutcome {
            function: "f",
            version: Some(1),
            request_id: "r",
            condition: DestinationCondition::RetriesExhausted,
            attempts: 3,
            payload: b"{}",
            response: None,
            error: Some(("Error", "boom", None)),
        },
        "2024-01-01T00:00:00.000Z",
    );
    let value = serde_json::to_value(&record).expect("a value");
    assert_eq!(value["responseContext"]["functionError"], "Unhandled");
    assert_eq!(value["responseContext"]["statusCode"], 200);
    assert_eq!(value["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(value["requestContext"]["approximateInvokeCount"], 3);
}

#[test]
fn time_formats() {
    assert_eq!(
        timestamp_millis(1_704_067_200_000).as_deref(),
        Some("2024-01-01T00:00:00.000Z")
    );
    assert_eq!(
        event_time(1_704_067_200_999).as_deref(),
        Some("2024-01-01T00:00:00Z")
    );
    assert_eq!(
        scheduled_time(1_704_067_200_250).as_deref(),
        Some("2024-01-01T00:00:00.250Z")
    );
    assert_eq!(
        scheduled_time(1_704_067_200_000).as_deref(),
        Some("2024-01-01T00:00:00Z")
    );
    assert_eq!(timestamp_millis(i64::MAX), None);
}
