//! Trigger decoding, structure-aware: one object (any bucket, key and
//! version id) is put into every trigger shape the function serves, as
//! JSON text, and must come out as that object.
//!
//! Checks: the bucket and version id come back as written; a key from an S3
//! notification comes back URL-encoded and decodes to the original key (in
//! every encoding S3 and its look-alikes write); a key from EventBridge or a
//! Batch Operations task comes back as written; an object without a bucket
//! or a key is refused, never dropped; removals are ignored.

#![no_main]

use arbitrary::Arbitrary;
use ccp_disconnect_lambda::trigger::{Item, KeyEncoding, ObjectRef, Trigger, parse_trigger};
use ccp_disconnect_lambda::key::decode_event_key;
use ccp_disconnect_fuzz::s3_encode_key;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Shape {
    S3,
    SqsS3,
    SqsSnsS3,
    Sns,
    EventBridge,
    SqsEventBridge,
    Batch1,
    Batch2,
}

#[derive(Arbitrary, Debug)]
struct Input {
    shape: Shape,
    bucket: String,
    key: String,
    version_id: Option<String>,
    /// How the key is URL-encoded (see `s3_encode_key`).
    style: u8,
    removed: bool,
}

fn s3_notification(input: &Input) -> Value {
    let event_name = match (input.removed, input.style & 8 != 0) {
        (true, _) => "ObjectRemoved:Delete",
        (false, false) => "ObjectCreated:Put",
        // Some S3-compatible servers.
        (false, true) => "s3:ObjectCreated:CompleteMultipartUpload",
    };
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2024-01-01T00:00:00.000Z",
        "eventName": event_name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": input.bucket, "arn": format!("arn:aws:s3:::{}", input.bucket)},
            "object": {
                "key": s3_encode_key(&input.key, input.style),
                "size": 3,
                "versionId": input.version_id,
                "sequencer": "0055AED6DCD90281E5",
            },
        },
    }]})
}

fn eventbridge(input: &Input) -> Value {
    json!({
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": if input.removed { "Object Deleted" } else { "Object Created" },
        "source": "aws.s3",
        "account": "111122223333",
        "time": "2024-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{}", input.bucket)],
        "detail": {
            "version": "0",
            "bucket": {"name": input.bucket},
            "object": {"key": input.key, "size": 3, "etag": "e", "version-id": input.version_id},
        },
    })
}

fn sqs(body: String) -> Value {
    json!({"Records": [{
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "receiptHandle": "AQEB",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:queue",
        "awsRegion": "us-east-1",
    }]})
}

fn sns_envelope(message: String) -> Value {
    json!({
        "Type": "Notification",
        "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
        "TopicArn": "arn:aws:sns:us-east-1:111122223333:topic",
        "Subject": "Amazon S3 Notification",
        "Message": message,
        "Timestamp": "2024-01-01T00:00:00.000Z",
    })
}

fn batch(input: &Input, schema: &str) -> Value {
    let mut task = json!({
        "taskId": "dGFza2lk",
        "s3Key": input.key,
        "s3VersionId": input.version_id,
    });
    if schema == "1.0" {
        task["s3BucketArn"] = json!(format!("arn:aws:s3:::{}", input.bucket));
    } else {
        task["s3Bucket"] = json!(input.bucket);
    }
    json!({
        "invocationSchemaVersion": schema,
        "invocationId": "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
        "job": {"id": "f3cc4f60-61f6-4a2b-8a21-d07600c373ce", "userArguments": {}},
        "tasks": [task],
    })
}

fuzz_target!(|input: Input| {
    let payload = match input.shape {
        Shape::S3 => s3_notification(&input),
        Shape::SqsS3 => sqs(s3_notification(&input).to_string()),
        Shape::SqsSnsS3 => sqs(sns_envelope(s3_notification(&input).to_string()).to_string()),
        Shape::Sns => json!({"Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "Sns": sns_envelope(s3_notification(&input).to_string()),
        }]}),
        Shape::EventBridge => eventbridge(&input),
        Shape::SqsEventBridge => sqs(eventbridge(&input).to_string()),
        Shape::Batch1 => batch(&input, "1.0"),
        Shape::Batch2 => batch(&input, "2.0"),
    };
    // As the runtime hands it over: parsed from text.
    let payload: Value = serde_json::from_str(&payload.to_string()).unwrap();
    let trigger = parse_trigger(&payload).unwrap_or_else(|e| panic!("{input:?}: {e}"));

    // An ARN names the bucket after its last colon (bucket names have none).
    let bucket = match input.shape {
        Shape::Batch1 => input.bucket.rsplit(':').next().unwrap(),
        _ => &input.bucket,
    };
    let named = !bucket.is_empty() && !input.key.is_empty();
    let version = input.version_id.as_deref().filter(|v| !v.is_empty());
    let item = match trigger {
        Trigger::Notification { items, .. } => single(items),
        Trigger::Queue { messages } => {
            assert_eq!(messages.len(), 1);
            single(messages.into_iter().next().unwrap().items)
        }
        Trigger::Batch(batch) => {
            assert_eq!(batch.tasks.len(), 1);
            let task = batch.tasks.into_iter().next().unwrap();
            assert_eq!(task.task_id, "dGFza2lk");
            match task.object {
                Ok(object) => Item::Object(object),
                Err(reason) => Item::Invalid { reason },
            }
        }
    };
    let batch = matches!(input.shape, Shape::Batch1 | Shape::Batch2);
    match item {
        Item::Ignored { .. } => assert!(input.removed && !batch, "{input:?}"),
        Item::Invalid { .. } => assert!(!named && (!input.removed || batch), "{input:?}"),
        Item::Object(object) => {
            assert!(named && (!input.removed || batch), "{input:?}");
            assert_eq!(object.bucket, bucket);
            assert_eq!(object.version_id.as_deref(), version);
            check_key(&input, &object);
        }
    }
});

fn single(items: Vec<Item>) -> Item {
    assert_eq!(items.len(), 1, "{items:?}");
    items.into_iter().next().unwrap()
}

fn check_key(input: &Input, object: &ObjectRef) {
    match input.shape {
        Shape::S3 | Shape::SqsS3 | Shape::SqsSnsS3 | Shape::Sns => {
            assert_eq!(object.encoding, KeyEncoding::UrlEncoded);
            assert_eq!(decode_event_key(&object.raw_key).as_ref(), Ok(&input.key));
        }
        _ => {
            assert_eq!(object.encoding, KeyEncoding::Ambiguous);
            assert_eq!(object.raw_key, input.key);
        }
    }
}
