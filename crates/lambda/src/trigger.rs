//! Which trigger invoked the function, and which objects it names.
//!
//! The same function serves S3 notifications, SQS (S3 or SNS-wrapped S3
//! notifications, and EventBridge events routed to a queue), SNS, EventBridge
//! and S3 Batch Operations. The trigger is told apart by the payload's shape.
//!
//! Parsing is lenient on purpose: `aws_lambda_events`' S3 record requires
//! fields (`eventTime`, `userIdentity`, `requestParameters`) that some
//! emitters leave out, and its batch types model only schema 1.0. Only the
//! fields this adapter uses are read; one unreadable record never hides the
//! others.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::SqsMessage;
use serde::Deserialize;
use serde_json::Value;

/// How the key in an event is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEncoding {
    /// URL-encoded, as in S3 event notifications (`+` for space, `%xx`).
    UrlEncoded,
    /// Not documented either way (EventBridge detail, Batch manifests): the
    /// URL-decoded form is tried first, then the key exactly as written.
    Ambiguous,
}

/// One object an event asks to classify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    /// The key as the event writes it.
    pub raw_key: String,
    pub encoding: KeyEncoding,
    pub version_id: Option<String>,
    /// The event's `sequencer` (S3 notifications and EventBridge): orders
    /// events on the same key, so an older event never replaces the result
    /// of a newer one. Batch Operations tasks have none.
    pub sequencer: Option<String>,
}

/// One entry of a notification: an object to process, or something to skip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Object(ObjectRef),
    /// Acknowledged without processing (an `ObjectRemoved` event, the
    /// `s3:TestEvent`, another EventBridge detail type).
    Ignored {
        reason: String,
    },
    /// A record that names no object this adapter can read. Never dropped
    /// silently: it fails its invocation or message.
    Invalid {
        reason: String,
    },
}

/// One SQS message of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub message_id: Option<String>,
    pub items: Vec<Item>,
}

/// An S3 Batch Operations invocation (schema 1.0 or 2.0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchInvocation {
    pub schema_version: String,
    pub invocation_id: Option<String>,
    pub tasks: Vec<BatchTask>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchTask {
    pub task_id: String,
    /// The object, or why the task names none.
    pub object: Result<ObjectRef, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Direct S3 notification, SNS, or EventBridge: the invocation fails as
    /// a whole when an object fails.
    Notification {
        source: &'static str,
        items: Vec<Item>,
    },
    /// SQS: per-message results (`batchItemFailures`).
    Queue { messages: Vec<QueueMessage> },
    /// S3 Batch Operations: per-task result codes.
    Batch(BatchInvocation),
}

/// Recognises the trigger. `Err` when the payload has none of the known shapes.
pub fn parse_trigger(payload: &Value) -> Result<Trigger, String> {
    if payload.get("invocationSchemaVersion").is_some() && payload.get("tasks").is_some() {
        return parse_batch(payload).map(Trigger::Batch);
    }
    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        let source = records.iter().find_map(|r| {
            r.get("eventSource")
                .or_else(|| r.get("EventSource"))
                .and_then(Value::as_str)
        });
        return Ok(match source {
            Some("aws:sqs") => Trigger::Queue {
                messages: records.iter().map(parse_sqs_record).collect(),
            },
            Some("aws:sns") => Trigger::Notification {
                source: "sns",
                items: records.iter().flat_map(parse_sns_record).collect(),
            },
            _ => Trigger::Notification {
                source: "s3",
                items: parse_s3_records(records),
            },
        });
    }
    if payload.get("detail-type").is_some() {
        return Ok(Trigger::Notification {
            source: "eventbridge",
            items: vec![parse_eventbridge(payload)],
        });
    }
    if is_test_event(payload) {
        return Ok(Trigger::Notification {
            source: "s3",
            items: vec![test_event_item()],
        });
    }
    Err(
        "the event is none of: S3 notification, SQS, SNS, EventBridge, S3 Batch Operations"
            .to_owned(),
    )
}

/// Items in a message body (SQS) or SNS `Message`: an S3 notification, the
/// S3 test event, an SNS envelope of either (SQS only), or an EventBridge event.
fn parse_message_body(body: &str, allow_sns_envelope: bool) -> Vec<Item> {
    let value: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => {
            return vec![Item::Invalid {
                reason: format!("message body is not JSON: {e}"),
            }];
        }
    };
    if let Some(records) = value.get("Records").and_then(Value::as_array) {
        return parse_s3_records(records);
    }
    if is_test_event(&value) {
        return vec![test_event_item()];
    }
    if value.get("detail-type").is_some() {
        return vec![parse_eventbridge(&value)];
    }
    if allow_sns_envelope
        && value.get("Type").and_then(Value::as_str) == Some("Notification")
        && let Some(message) = value.get("Message").and_then(Value::as_str)
    {
        return parse_message_body(message, false);
    }
    vec![Item::Invalid {
        reason: "message body is not an S3 notification, SNS envelope or EventBridge event"
            .to_owned(),
    }]
}

fn is_test_event(value: &Value) -> bool {
    value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent")
}

fn test_event_item() -> Item {
    Item::Ignored {
        reason: "s3:TestEvent".to_owned(),
    }
}

fn parse_sqs_record(record: &Value) -> QueueMessage {
    match SqsMessage::deserialize(record) {
        Ok(message) => {
            let items = match message.body.as_deref() {
                Some(body) => parse_message_body(body, true),
                None => vec![Item::Invalid {
                    reason: "SQS message without a body".to_owned(),
                }],
            };
            QueueMessage {
                message_id: message.message_id,
                items,
            }
        }
        Err(e) => QueueMessage {
            message_id: record
                .get("messageId")
                .and_then(Value::as_str)
                .map(str::to_owned),
            items: vec![Item::Invalid {
                reason: format!("unreadable SQS record: {e}"),
            }],
        },
    }
}

#[derive(Deserialize)]
struct SnsRecord {
    #[serde(rename = "Sns")]
    sns: SnsPart,
}

#[derive(Deserialize)]
struct SnsPart {
    #[serde(rename = "Message")]
    message: String,
}

fn parse_sns_record(record: &Value) -> Vec<Item> {
    match SnsRecord::deserialize(record) {
        Ok(r) => parse_message_body(&r.sns.message, false),
        Err(e) => vec![Item::Invalid {
            reason: format!("unreadable SNS record: {e}"),
        }],
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct S3Record {
    event_name: Option<String>,
    s3: Option<S3Entity>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct S3Entity {
    bucket: Option<NamedBucket>,
    object: Option<S3Object>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NamedBucket {
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct S3Object {
    key: Option<String>,
    version_id: Option<String>,
    sequencer: Option<String>,
}

fn parse_s3_records(records: &[Value]) -> Vec<Item> {
    records.iter().map(parse_s3_record).collect()
}

fn parse_s3_record(record: &Value) -> Item {
    let record = match S3Record::deserialize(record) {
        Ok(r) => r,
        Err(e) => {
            return Item::Invalid {
                reason: format!("unreadable S3 record: {e}"),
            };
        }
    };
    let event_name = record.event_name.unwrap_or_default();
    // S3 writes `ObjectCreated:Put`; some S3-compatible servers `s3:ObjectCreated:Put`.
    if !event_name
        .trim_start_matches("s3:")
        .starts_with("ObjectCreated:")
    {
        return Item::Ignored {
            reason: format!("event {event_name:?} is not ObjectCreated"),
        };
    }
    let s3 = record.s3.unwrap_or_default();
    let bucket = s3.bucket.and_then(|b| b.name).filter(|n| !n.is_empty());
    let object = s3.object.unwrap_or_default();
    match (bucket, object.key) {
        (Some(bucket), Some(key)) if !key.is_empty() => Item::Object(ObjectRef {
            bucket,
            raw_key: key,
            encoding: KeyEncoding::UrlEncoded,
            version_id: object.version_id.filter(|v| !v.is_empty()),
            sequencer: object.sequencer.filter(|s| !s.is_empty()),
        }),
        _ => Item::Invalid {
            reason: "S3 record without bucket name or object key".to_owned(),
        },
    }
}

/// `detail` of an S3 `Object Created` event on EventBridge.
#[derive(Deserialize, Default, serde::Serialize)]
#[serde(default)]
struct EventBridgeS3Detail {
    bucket: Option<EbBucket>,
    object: Option<EbObject>,
}

#[derive(Deserialize, Default, serde::Serialize)]
#[serde(default)]
struct EbBucket {
    name: Option<String>,
}

#[derive(Deserialize, Default, serde::Serialize)]
#[serde(default)]
struct EbObject {
    key: Option<String>,
    #[serde(rename = "version-id")]
    version_id: Option<String>,
    sequencer: Option<String>,
}

fn parse_eventbridge(value: &Value) -> Item {
    let event = match EventBridgeEvent::<EventBridgeS3Detail>::deserialize(value) {
        Ok(e) => e,
        Err(e) => {
            return Item::Invalid {
                reason: format!("unreadable EventBridge event: {e}"),
            };
        }
    };
    if event.source != "aws.s3" || event.detail_type != "Object Created" {
        return Item::Ignored {
            reason: format!(
                "EventBridge {:?} from {:?} is not S3 Object Created",
                event.detail_type, event.source
            ),
        };
    }
    let detail = event.detail;
    let bucket = detail.bucket.and_then(|b| b.name).filter(|n| !n.is_empty());
    let object = detail.object.unwrap_or_default();
    match (bucket, object.key) {
        (Some(bucket), Some(key)) if !key.is_empty() => Item::Object(ObjectRef {
            bucket,
            raw_key: key,
            encoding: KeyEncoding::Ambiguous,
            version_id: object.version_id.filter(|v| !v.is_empty()),
            sequencer: object.sequencer.filter(|s| !s.is_empty()),
        }),
        _ => Item::Invalid {
            reason: "EventBridge event without bucket name or object key".to_owned(),
        },
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBatch {
    invocation_schema_version: String,
    #[serde(default)]
    invocation_id: Option<String>,
    tasks: Vec<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawBatchTask {
    task_id: Option<String>,
    s3_key: Option<String>,
    s3_version_id: Option<String>,
    /// Schema 1.0.
    s3_bucket_arn: Option<String>,
    /// Schema 2.0.
    s3_bucket: Option<String>,
}

fn parse_batch(payload: &Value) -> Result<BatchInvocation, String> {
    let raw = RawBatch::deserialize(payload)
        .map_err(|e| format!("unreadable S3 Batch Operations event: {e}"))?;
    let mut tasks = Vec::with_capacity(raw.tasks.len());
    for task in &raw.tasks {
        let task = RawBatchTask::deserialize(task).unwrap_or_default();
        // Without a task id there is nothing to answer: the whole invocation fails.
        let task_id = task
            .task_id
            .clone()
            .ok_or("S3 Batch Operations task without taskId")?;
        tasks.push(BatchTask {
            task_id,
            object: batch_object(task),
        });
    }
    Ok(BatchInvocation {
        schema_version: raw.invocation_schema_version,
        invocation_id: raw.invocation_id,
        tasks,
    })
}

fn batch_object(task: RawBatchTask) -> Result<ObjectRef, String> {
    // 2.0 names the bucket; 1.0 gives its ARN (`arn:aws:s3:::name`).
    let bucket = task
        .s3_bucket
        .filter(|b| !b.is_empty())
        .or_else(|| {
            task.s3_bucket_arn
                .as_deref()
                .and_then(|arn| arn.rsplit(':').next())
                .map(str::to_owned)
        })
        .filter(|b| !b.is_empty())
        .ok_or("task names no bucket (s3Bucket or s3BucketArn)")?;
    let key = task
        .s3_key
        .filter(|k| !k.is_empty())
        .ok_or("task has no s3Key")?;
    Ok(ObjectRef {
        bucket,
        raw_key: key,
        encoding: KeyEncoding::Ambiguous,
        version_id: task.s3_version_id.filter(|v| !v.is_empty()),
        sequencer: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(bucket: &str, key: &str, encoding: KeyEncoding, version: Option<&str>) -> Item {
        Item::Object(ObjectRef {
            bucket: bucket.into(),
            raw_key: key.into(),
            encoding,
            version_id: version.map(Into::into),
            sequencer: None,
        })
    }

    #[test]
    fn s3_record_with_only_the_needed_fields() {
        let t = parse_trigger(&json!({"Records": [
            {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": "a+b.txt"}}},
            {"eventName": "ObjectRemoved:Delete", "s3": {"bucket": {"name": "b"}, "object": {"key": "x"}}},
            {"eventName": "ObjectCreated:Copy", "s3": {"bucket": {"name": "b"}}},
            {"eventName": "s3:ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": "k", "versionId": "v1"}}},
            "not an object",
        ]}))
        .unwrap();
        let Trigger::Notification { source, items } = t else {
            panic!("{t:?}")
        };
        assert_eq!(source, "s3");
        assert_eq!(
            items[0],
            object("b", "a+b.txt", KeyEncoding::UrlEncoded, None)
        );
        assert!(matches!(items[1], Item::Ignored { .. }));
        assert!(matches!(items[2], Item::Invalid { .. }));
        assert_eq!(
            items[3],
            object("b", "k", KeyEncoding::UrlEncoded, Some("v1"))
        );
        assert!(matches!(items[4], Item::Invalid { .. }));
    }

    #[test]
    fn sequencers_are_read_from_s3_and_eventbridge() {
        let sequencer = |payload: Value| match parse_trigger(&payload).unwrap() {
            Trigger::Notification { items, .. } => match &items[0] {
                Item::Object(o) => o.sequencer.clone(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        };
        assert_eq!(
            sequencer(
                json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
                "bucket": {"name": "b"}, "object": {"key": "k", "sequencer": "0055AED6DCD90281E5"}}}]})
            ),
            Some("0055AED6DCD90281E5".to_owned())
        );
        assert_eq!(
            sequencer(json!({"detail-type": "Object Created", "source": "aws.s3",
                "detail": {"bucket": {"name": "b"}, "object": {"key": "k", "sequencer": "617f08299329d189"}}})),
            Some("617f08299329d189".to_owned())
        );
        assert_eq!(
            sequencer(
                json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
                "bucket": {"name": "b"}, "object": {"key": "k", "sequencer": ""}}}]})
            ),
            None
        );
    }

    #[test]
    fn sqs_bodies() {
        let s3 = json!({"Records": [{"eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]})
        .to_string();
        let sns = json!({"Type": "Notification", "Message": s3}).to_string();
        let test =
            json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}).to_string();
        let t = parse_trigger(&json!({"Records": [
            {"messageId": "1", "eventSource": "aws:sqs", "body": s3},
            {"messageId": "2", "eventSource": "aws:sqs", "body": sns},
            {"messageId": "3", "eventSource": "aws:sqs", "body": test},
            {"messageId": "4", "eventSource": "aws:sqs", "body": "hello"},
            {"messageId": "5", "eventSource": "aws:sqs"},
        ]}))
        .unwrap();
        let Trigger::Queue { messages } = t else {
            panic!("{t:?}")
        };
        let want = object("b", "k", KeyEncoding::UrlEncoded, None);
        assert_eq!(messages[0].items, vec![want.clone()]);
        assert_eq!(messages[1].items, vec![want]);
        assert_eq!(
            messages[2].items,
            vec![Item::Ignored {
                reason: "s3:TestEvent".into()
            }]
        );
        assert!(matches!(messages[3].items[..], [Item::Invalid { .. }]));
        assert!(matches!(messages[4].items[..], [Item::Invalid { .. }]));
        assert_eq!(messages[4].message_id.as_deref(), Some("5"));
    }

    #[test]
    fn eventbridge() {
        let event = |detail_type: &str| {
            json!({"version": "0", "id": "x", "detail-type": detail_type, "source": "aws.s3",
                "account": "1", "time": "2024-01-01T00:00:00Z", "region": "us-east-1", "resources": [],
                "detail": {"version": "0", "bucket": {"name": "b"},
                    "object": {"key": "a b.txt", "size": 3, "etag": "e", "version-id": "v"}}})
        };
        let Trigger::Notification { source, items } =
            parse_trigger(&event("Object Created")).unwrap()
        else {
            panic!()
        };
        assert_eq!(source, "eventbridge");
        assert_eq!(
            items,
            vec![object("b", "a b.txt", KeyEncoding::Ambiguous, Some("v"))]
        );
        let Trigger::Notification { items, .. } = parse_trigger(&event("Object Deleted")).unwrap()
        else {
            panic!()
        };
        assert!(matches!(items[..], [Item::Ignored { .. }]));
    }

    #[test]
    fn batch_both_schemas() {
        let v1 = json!({"invocationSchemaVersion": "1.0", "invocationId": "i", "job": {"id": "j"},
            "tasks": [{"taskId": "t1", "s3Key": "k", "s3VersionId": null, "s3BucketArn": "arn:aws:s3:::b"}]});
        let v2 = json!({"invocationSchemaVersion": "2.0", "invocationId": "i",
            "job": {"id": "j", "userArguments": {"a": "b"}},
            "tasks": [{"taskId": "t1", "s3Key": "k", "s3VersionId": "v", "s3Bucket": "b"},
                      {"taskId": "t2", "s3Key": "k"}]});
        let Trigger::Batch(b1) = parse_trigger(&v1).unwrap() else {
            panic!()
        };
        assert_eq!(b1.schema_version, "1.0");
        assert_eq!(
            b1.tasks[0].object,
            Ok(ObjectRef {
                bucket: "b".into(),
                raw_key: "k".into(),
                encoding: KeyEncoding::Ambiguous,
                version_id: None,
                sequencer: None,
            })
        );
        let Trigger::Batch(b2) = parse_trigger(&v2).unwrap() else {
            panic!()
        };
        assert_eq!(
            b2.tasks[0].object.as_ref().unwrap().version_id.as_deref(),
            Some("v")
        );
        assert!(b2.tasks[1].object.is_err());
        let no_id = json!({"invocationSchemaVersion": "1.0", "tasks": [{"s3Key": "k"}]});
        assert!(parse_trigger(&no_id).is_err());
    }

    #[test]
    fn unknown_shapes() {
        assert!(parse_trigger(&json!({})).is_err());
        assert!(parse_trigger(&json!([1, 2])).is_err());
        assert!(parse_trigger(&json!("x")).is_err());
        let Trigger::Notification { items, .. } =
            parse_trigger(&json!({"Event": "s3:TestEvent"})).unwrap()
        else {
            panic!()
        };
        assert!(matches!(items[..], [Item::Ignored { .. }]));
    }
}
