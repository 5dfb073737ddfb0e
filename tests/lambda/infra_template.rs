//! Invariants of the deployment template `infra/template.yaml`.
//!
//! The template is parsed as YAML; CloudFormation short-form tags (`!Ref`,
//! `!Sub`, `!If`, ...) are rewritten to their long form (`{"Ref": ..}`,
//! `{"Fn::Sub": ..}`), so every check below reads one shape.
//! `cfn-lint` and `checkov` (run by `.ci/infra.sh`) check the template against
//! the resource schemas; these tests pin the project's own rules: the trigger
//! can never see a result, IAM grants are narrow, the bucket is hardened.

use serde_json::{Map, Value, json};

const TEMPLATE: &str = include_str!("../../infra/template.yaml");

// ------------------------------------------------------------------ loading

fn to_json(v: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64().expect("finite number"))
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => panic!("unsupported mapping key {other:?}"),
                };
                out.insert(key, to_json(v));
            }
            Value::Object(out)
        }
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = to_json(t.value);
            let (key, value) = match name {
                "Ref" | "Condition" => (name.to_string(), inner),
                // `!GetAtt Resource.Attribute` is the string form of a list.
                "GetAtt" => match inner {
                    Value::String(s) => {
                        let (res, attr) = s.split_once('.').expect("GetAtt Resource.Attribute");
                        ("Fn::GetAtt".to_string(), json!([res, attr]))
                    }
                    other => ("Fn::GetAtt".to_string(), other),
                },
                other => (format!("Fn::{other}"), inner),
            };
            json!({ key: value })
        }
    }
}

fn template() -> Value {
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(TEMPLATE).expect("infra/template.yaml is YAML");
    to_json(yaml)
}

fn resources(t: &Value) -> &Map<String, Value> {
    t["Resources"].as_object().expect("Resources")
}

fn resource<'a>(t: &'a Value, name: &str) -> &'a Value {
    t["Resources"]
        .get(name)
        .unwrap_or_else(|| panic!("resource {name} missing"))
}

fn param_default(t: &Value, name: &str) -> String {
    match &t["Parameters"][name]["Default"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("parameter {name} has no usable Default: {other:?}"),
    }
}

fn r#ref(name: &str) -> Value {
    json!({ "Ref": name })
}

/// Every value a (possibly `Fn::If`-wrapped) property can take; `AWS::NoValue`
/// branches are dropped.
fn branches(v: &Value) -> Vec<&Value> {
    if let Some(args) = v.get("Fn::If").and_then(Value::as_array) {
        assert_eq!(args.len(), 3, "Fn::If takes [condition, then, else]: {v}");
        return args[1..].iter().flat_map(branches).collect();
    }
    if *v == r#ref("AWS::NoValue") {
        return vec![];
    }
    vec![v]
}

fn as_list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().flat_map(branches).collect(),
        other => branches(other),
    }
}

fn strings(v: &Value) -> Vec<String> {
    as_list(v)
        .into_iter()
        .map(|x| {
            x.as_str()
                .unwrap_or_else(|| panic!("expected a string, got {x}"))
                .to_string()
        })
        .collect()
}

/// The literal template of a `Fn::Sub` (either form), or a plain string.
fn sub_template(v: &Value) -> Option<&str> {
    match v.get("Fn::Sub") {
        Some(Value::String(s)) => Some(s),
        Some(Value::Array(a)) => a.first().and_then(Value::as_str),
        _ => v.as_str(),
    }
}

struct Statement<'a> {
    owner: String,
    body: &'a Value,
}

/// Every IAM statement in the template: role trust and inline policies,
/// bucket and queue policies. `Fn::If` alternatives are all included.
fn statements(t: &Value) -> Vec<Statement<'_>> {
    fn collect<'a>(owner: &str, doc: &'a Value, out: &mut Vec<Statement<'a>>) {
        for s in as_list(&doc["Statement"]) {
            out.push(Statement {
                owner: owner.to_string(),
                body: s,
            });
        }
    }
    let mut out = Vec::new();
    for (name, r) in resources(t) {
        let p = &r["Properties"];
        for key in ["PolicyDocument", "AssumeRolePolicyDocument"] {
            if p.get(key).is_some() {
                collect(name, &p[key], &mut out);
            }
        }
        if let Some(policies) = p.get("Policies").and_then(Value::as_array) {
            for pol in policies {
                if pol.get("PolicyDocument").is_some() {
                    collect(name, &pol["PolicyDocument"], &mut out);
                }
            }
        }
    }
    out
}

fn actions(s: &Value) -> Vec<String> {
    assert!(
        s.get("NotAction").is_none(),
        "NotAction is not allowed: {s}"
    );
    strings(&s["Action"])
}

fn overlaps(a: &str, b: &str) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

// ------------------------------------------------------------------ runtime

#[test]
fn function_runtime_architecture_and_handler() {
    let t = template();
    let mut functions: Vec<_> = resources(&t)
        .iter()
        .filter(|(_, r)| {
            matches!(
                r["Type"].as_str(),
                Some("AWS::Serverless::Function" | "AWS::Lambda::Function")
            )
        })
        .map(|(name, _)| name.as_str())
        .collect();
    functions.sort();
    // The classifier, and the upload page's presign function (UploadPage=true).
    assert_eq!(functions, ["ClassifierFunction", "PresignFunction"]);
    for (name, binary, role) in [
        ("ClassifierFunction", "bootstrap", "FunctionRole"),
        ("PresignFunction", "presign", "PresignRole"),
    ] {
        let f = resource(&t, name);
        assert_eq!(f["Type"], "AWS::Serverless::Function", "{name}");
        let p = &f["Properties"];
        assert_eq!(p["Runtime"], "provided.al2023", "{name}");
        assert_eq!(p["Architectures"], json!(["arm64"]), "{name}");
        // cargo-lambda ships every binary as `bootstrap`.
        assert_eq!(p["Handler"], "bootstrap", "{name}");
        // Both binaries come from the one Lambda crate; BuildProperties.Binary
        // picks which (SAM's rust-cargolambda build method).
        assert_eq!(p["CodeUri"], "../crates/lambda", "{name}");
        assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda", "{name}");
        assert_eq!(f["Metadata"]["BuildProperties"]["Binary"], binary, "{name}");
        // The explicit role is the only source of permissions: no SAM policy
        // templates, which can grant more than this project needs.
        assert!(
            p.get("Policies").is_none(),
            "{name}: use the explicit role, not SAM Policies"
        );
        assert_eq!(p["Role"], json!({ "Fn::GetAtt": [role, "Arn"] }), "{name}");
    }
    assert_eq!(
        resource(&t, "ClassifierFunction")["Properties"]["RecursiveLoop"],
        "Terminate"
    );
}

// ------------------------------------------------------------------ trigger

#[test]
fn default_prefixes_do_not_overlap() {
    let t = template();
    let uploads = param_default(&t, "UploadsPrefix");
    let results = param_default(&t, "ResultsPrefix");
    assert_eq!(uploads, "uploads/");
    assert_eq!(results, "results/");
    assert!(!overlaps(&uploads, &results), "{uploads} vs {results}");
    // A result key is <results prefix><input key>.json: it must stay outside
    // the trigger's prefix.
    let result_key = format!("{results}{uploads}agent-log.json.json");
    assert!(!result_key.starts_with(&uploads));
    // The function is told the same results prefix the filter excludes.
    let env = &resource(&t, "ClassifierFunction")["Properties"]["Environment"]["Variables"];
    assert_eq!(env["RESULTS_PREFIX"], r#ref("ResultsPrefix"));
}

#[test]
fn every_trigger_is_filtered_to_the_uploads_prefix() {
    let t = template();
    let bucket = resource(&t, "LogsBucket");
    let mut configs = Vec::new();
    for nc in branches(&bucket["Properties"]["NotificationConfiguration"]) {
        let obj = nc.as_object().expect("notification configuration");
        for (kind, list) in obj {
            assert!(
                kind == "LambdaConfigurations" || kind == "QueueConfigurations",
                "unexpected notification kind {kind}"
            );
            configs.extend(as_list(list));
        }
    }
    assert_eq!(
        configs.len(),
        2,
        "one Lambda (direct) and one SQS (buffered) configuration"
    );
    for c in configs {
        assert_eq!(c["Event"], "s3:ObjectCreated:*");
        let rules = as_list(&c["Filter"]["S3Key"]["Rules"]);
        assert_eq!(rules.len(), 1, "{c}");
        assert_eq!(rules[0]["Name"], "prefix");
        assert_eq!(rules[0]["Value"], r#ref("UploadsPrefix"));
    }

    // Existing buckets: EventBridge rule with the same prefix.
    let pattern = &resource(&t, "ObjectCreatedRule")["Properties"]["EventPattern"];
    assert_eq!(pattern["source"], json!(["aws.s3"]));
    assert_eq!(pattern["detail-type"], json!(["Object Created"]));
    assert_eq!(
        pattern["detail"]["object"]["key"],
        json!([{ "prefix": r#ref("UploadsPrefix") }])
    );
    assert_eq!(
        pattern["detail"]["bucket"]["name"],
        json!([r#ref("ExistingBucketName")])
    );
}

/// Evaluates a parameter's AllowedPattern (an ECMA regex, as JSON Schema's
/// `pattern`) on a candidate value.
fn allowed(t: &Value, param: &str, value: &str) -> bool {
    let pattern = t["Parameters"][param]["AllowedPattern"]
        .as_str()
        .expect("AllowedPattern");
    jsonschema::is_valid(
        &json!({ "type": "string", "pattern": pattern }),
        &json!(value),
    )
}

#[test]
fn overlapping_prefixes_are_refused() {
    let t = template();
    // The rule: UploadsPrefix != ResultsPrefix.
    let wanted = [
        json!({ "Fn::Not": [{ "Fn::Equals": [r#ref("UploadsPrefix"), r#ref("ResultsPrefix")] }] }),
        json!({ "Fn::Not": [{ "Fn::Equals": [r#ref("ResultsPrefix"), r#ref("UploadsPrefix")] }] }),
    ];
    let rules = t["Rules"].as_object().expect("Rules");
    let found = rules.values().any(|rule| {
        rule.get("RuleCondition").is_none()
            && as_list(&rule["Assertions"])
                .iter()
                .any(|a| wanted.contains(&a["Assert"]))
    });
    assert!(
        found,
        "no unconditional rule asserting UploadsPrefix != ResultsPrefix"
    );

    // Inequality is a complete overlap check only because each prefix is a
    // single top-level folder: check that on a sample of values.
    let candidates = [
        "uploads/",
        "results/",
        "uploads/results/",
        "results/uploads/",
        "up/",
        "uploads",
        "",
        "/uploads/",
        "a/b/",
        "uploads//",
        "Uploads/",
        "u/",
        "uploads-2/",
        "upload/",
        "r.e_s-1/",
        "../",
        "uploads/*",
    ];
    for p in ["UploadsPrefix", "ResultsPrefix"] {
        assert!(
            allowed(&t, p, &param_default(&t, p)),
            "{p} default must satisfy its pattern"
        );
        for bad in [
            "uploads/results/",
            "a/b/",
            "",
            "uploads",
            "/uploads/",
            "uploads//",
            "../",
        ] {
            assert!(!allowed(&t, p, bad), "{p} must refuse {bad:?}");
        }
    }
    for a in candidates
        .iter()
        .filter(|c| allowed(&t, "UploadsPrefix", c))
    {
        for b in candidates
            .iter()
            .filter(|c| allowed(&t, "ResultsPrefix", c))
        {
            if overlaps(a, b) {
                assert_eq!(a, b, "{a} and {b} overlap but the rule would accept them");
            }
        }
    }
}

// ------------------------------------------------------------------ IAM

#[test]
fn no_wildcard_actions_are_granted() {
    let t = template();
    let all = statements(&t);
    assert!(all.len() >= 15, "statement walker found only {}", all.len());
    let mut denies = 0;
    for s in &all {
        let acts = actions(s.body);
        assert!(!acts.is_empty(), "{}: statement without actions", s.owner);
        match s.body["Effect"].as_str() {
            Some("Allow") => {
                for a in &acts {
                    assert!(!a.contains('*'), "{}: wildcard action {a} granted", s.owner);
                }
            }
            Some("Deny") => {
                // The one deny: refuse every S3 request not made over TLS.
                denies += 1;
                assert_eq!(s.owner, "LogsBucketPolicy");
                assert_eq!(acts, ["s3:*"]);
                assert_eq!(
                    s.body["Condition"],
                    json!({ "Bool": { "aws:SecureTransport": "false" } })
                );
            }
            other => panic!("{}: unexpected Effect {other:?}", s.owner),
        }
    }
    assert_eq!(denies, 1, "the bucket policy denies non-TLS requests");
}

#[test]
fn s3_grants_are_scoped_to_their_prefixes() {
    let t = template();
    let mut seen = Vec::new();
    for s in statements(&t) {
        if s.body["Effect"] != "Allow" {
            continue;
        }
        let acts = actions(s.body);
        let s3: Vec<_> = acts.iter().filter(|a| a.starts_with("s3:")).collect();
        if s3.is_empty() {
            continue;
        }
        assert_eq!(
            s3.len(),
            acts.len(),
            "{}: S3 and non-S3 actions mixed",
            s.owner
        );
        let res: Vec<_> = as_list(&s.body["Resource"]);
        assert!(!res.is_empty());
        for r in res {
            let tpl = sub_template(r)
                .unwrap_or_else(|| panic!("{}: resource {r} is not a Fn::Sub", s.owner));
            assert!(
                tpl.starts_with("arn:${AWS::Partition}:s3:::${Bucket}/"),
                "{}: {tpl}",
                s.owner
            );
            let prefix = tpl.trim_start_matches("arn:${AWS::Partition}:s3:::${Bucket}/");
            for a in &s3 {
                let expected: &[&str] = match (s.owner.as_str(), a.as_str()) {
                    // Reading a stored result's stamp before replacing it.
                    ("FunctionRole", "s3:GetObject") => &["${UploadsPrefix}*", "${ResultsPrefix}*"],
                    ("FunctionRole", "s3:GetObjectVersion") => &["${UploadsPrefix}*"],
                    ("FunctionRole", "s3:PutObject") => &["${ResultsPrefix}*"],
                    // Presigned POSTs for new logs; presigned GETs (and the
                    // HeadObject before them) for results of uploaded logs.
                    ("PresignRole", "s3:PutObject") => &["${UploadsPrefix}*"],
                    ("PresignRole", "s3:GetObject") => &["${ResultsPrefix}${UploadsPrefix}*"],
                    (
                        "BatchOperationsRole",
                        "s3:GetObject" | "s3:GetObjectVersion" | "s3:PutObject",
                    ) => &["batch-operations/*"],
                    (owner, action) => panic!("{owner}: unexpected S3 grant {action}"),
                };
                assert!(expected.contains(&prefix), "{}: {a} on {tpl}", s.owner);
                seen.push((s.owner.clone(), a.to_string()));
            }
        }
    }
    for needed in ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"] {
        assert!(
            seen.contains(&("FunctionRole".to_string(), needed.to_string())),
            "FunctionRole lacks {needed}"
        );
    }
}

#[test]
fn logs_and_kms_grants_are_narrow() {
    let t = template();
    let role = statements(&t)
        .into_iter()
        .filter(|s| s.owner == "FunctionRole")
        .collect::<Vec<_>>();
    let logs = role
        .iter()
        .find(|s| actions(s.body).iter().any(|a| a.starts_with("logs:")))
        .expect("logs grant");
    assert_eq!(
        actions(logs.body),
        ["logs:CreateLogStream", "logs:PutLogEvents"]
    );
    assert_eq!(
        logs.body["Resource"],
        json!({ "Fn::GetAtt": ["FunctionLogGroup", "Arn"] })
    );
    let kms = role
        .iter()
        .find(|s| actions(s.body).iter().any(|a| a.starts_with("kms:")))
        .expect("kms grant");
    assert_eq!(actions(kms.body), ["kms:Decrypt", "kms:GenerateDataKey"]);
    assert_eq!(kms.body["Resource"], r#ref("KmsKeyArn"));
}

// ------------------------------------------------------------------ logging

#[test]
fn log_group_has_retention_and_json_format() {
    let t = template();
    let lg = &resource(&t, "FunctionLogGroup")["Properties"];
    assert_eq!(lg["RetentionInDays"], r#ref("LogRetentionDays"));
    let default: u64 = param_default(&t, "LogRetentionDays")
        .parse()
        .expect("numeric default");
    assert!(default > 0);
    let allowed: Vec<u64> = t["Parameters"]["LogRetentionDays"]["AllowedValues"]
        .as_array()
        .expect("AllowedValues")
        .iter()
        .map(|v| v.as_u64().expect("number"))
        .collect();
    assert!(allowed.contains(&default) && !allowed.contains(&0));

    let f = &resource(&t, "ClassifierFunction")["Properties"];
    assert_eq!(f["LoggingConfig"]["LogFormat"], "JSON");
    assert_eq!(f["LoggingConfig"]["LogGroup"], r#ref("FunctionLogGroup"));
    let fname = sub_template(&f["FunctionName"]).expect("FunctionName");
    assert_eq!(
        sub_template(&lg["LogGroupName"]),
        Some(format!("/aws/lambda/{fname}").as_str())
    );
    assert_eq!(f["Environment"]["Variables"]["LOG_FORMAT"], "json");
}

// ------------------------------------------------------------------ bucket

#[test]
fn bucket_is_hardened() {
    let t = template();
    let b = &resource(&t, "LogsBucket")["Properties"];
    let pab = &b["PublicAccessBlockConfiguration"];
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(pab[flag], json!(true), "{flag}");
    }
    assert_eq!(
        b["OwnershipControls"]["Rules"],
        json!([{ "ObjectOwnership": "BucketOwnerEnforced" }])
    );
    assert_eq!(b["VersioningConfiguration"]["Status"], "Enabled");

    let sse = as_list(&b["BucketEncryption"]["ServerSideEncryptionConfiguration"]);
    assert_eq!(sse.len(), 1);
    let algos: Vec<&Value> = branches(&sse[0]["ServerSideEncryptionByDefault"]);
    assert_eq!(algos.len(), 2, "SSE-S3 and SSE-KMS alternatives");
    for a in algos {
        match a["SSEAlgorithm"].as_str() {
            Some("AES256") => {}
            Some("aws:kms") => assert_eq!(a["KMSMasterKeyID"], r#ref("KmsKeyArn")),
            other => panic!("unexpected SSEAlgorithm {other:?}"),
        }
    }
    assert_eq!(branches(&sse[0]["BucketKeyEnabled"]), [&json!(true)]);

    let rules = as_list(&b["LifecycleConfiguration"]["Rules"]);
    for (prefix, days) in [
        ("UploadsPrefix", "UploadsExpirationDays"),
        ("ResultsPrefix", "ResultsExpirationDays"),
    ] {
        assert!(
            rules.iter().any(|r| r["Status"] == "Enabled"
                && r["Prefix"] == r#ref(prefix)
                && r["ExpirationInDays"] == r#ref(days)),
            "no expiry rule for {prefix}"
        );
        assert!(param_default(&t, days).parse::<u64>().expect("days") >= 1);
    }
    assert_eq!(
        resource(&t, "LogsBucketPolicy")["Properties"]["Bucket"],
        r#ref("LogsBucket")
    );
}

// ------------------------------------------------------------------ reliability

#[test]
fn buffered_mode_queue_settings() {
    let t = template();
    let q = &resource(&t, "IngestQueue")["Properties"];
    assert_eq!(
        q["VisibilityTimeout"],
        json!({ "Fn::FindInMap": ["VisibilityTimeout", r#ref("FunctionTimeout"), "Seconds"] })
    );
    // Every allowed timeout maps to exactly 6x, and nothing else is mapped.
    let map = t["Mappings"]["VisibilityTimeout"]
        .as_object()
        .expect("mapping");
    let timeouts = t["Parameters"]["FunctionTimeout"]["AllowedValues"]
        .as_array()
        .expect("AllowedValues");
    assert_eq!(map.len(), timeouts.len());
    for timeout in timeouts {
        let secs = timeout.as_u64().expect("number");
        let vis = map[&secs.to_string()]["Seconds"].as_u64().expect("Seconds");
        assert_eq!(vis, 6 * secs, "visibility for timeout {secs}");
        assert!(vis <= 43_200, "SQS maximum visibility timeout");
    }
    assert_eq!(
        q["RedrivePolicy"]["deadLetterTargetArn"],
        json!({ "Fn::GetAtt": ["DeadLetterQueue", "Arn"] })
    );
    assert!(
        q["RedrivePolicy"]["maxReceiveCount"]
            .as_u64()
            .expect("maxReceiveCount")
            >= 1
    );

    let esm = &resource(&t, "IngestEventSourceMapping")["Properties"];
    assert_eq!(
        esm["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(
        esm["EventSourceArn"],
        json!({ "Fn::GetAtt": ["IngestQueue", "Arn"] })
    );

    let policy = statements(&t)
        .into_iter()
        .find(|s| s.owner == "IngestQueuePolicy")
        .expect("queue policy");
    assert_eq!(
        policy.body["Principal"],
        json!({ "Service": "s3.amazonaws.com" })
    );
    assert_eq!(actions(policy.body), ["sqs:SendMessage"]);
    assert!(
        policy.body["Condition"]["ArnEquals"]
            .get("aws:SourceArn")
            .is_some()
    );
    assert_eq!(
        policy.body["Condition"]["StringEquals"]["aws:SourceAccount"],
        r#ref("AWS::AccountId")
    );
}

#[test]
fn async_failures_concurrency_and_alarms() {
    let t = template();
    let f = &resource(&t, "ClassifierFunction")["Properties"];
    let eic = &f["EventInvokeConfig"];
    assert_eq!(eic["MaximumRetryAttempts"], r#ref("AsyncMaxRetryAttempts"));
    assert_eq!(
        eic["MaximumEventAgeInSeconds"],
        r#ref("AsyncMaxEventAgeSeconds")
    );
    assert_eq!(eic["DestinationConfig"]["OnFailure"]["Type"], "SQS");
    assert_eq!(
        eic["DestinationConfig"]["OnFailure"]["Destination"],
        json!({ "Fn::GetAtt": ["DeadLetterQueue", "Arn"] })
    );

    // Reserved by default; 0 is accepted (emergency stop); -1 alone drops the reservation.
    assert_eq!(
        f["ReservedConcurrentExecutions"],
        json!({ "Fn::If": ["ReserveConcurrency", r#ref("ReservedConcurrency"), r#ref("AWS::NoValue")] })
    );
    assert_eq!(
        t["Conditions"]["ReserveConcurrency"],
        json!({ "Fn::Not": [{ "Fn::Equals": [r#ref("ReservedConcurrency"), "-1"] }] })
    );
    let p = &t["Parameters"]["ReservedConcurrency"];
    assert_eq!(p["MinValue"], json!(-1));
    assert!(
        param_default(&t, "ReservedConcurrency")
            .parse::<i64>()
            .expect("number")
            >= 1
    );

    let alarms: Vec<&Value> = resources(&t)
        .values()
        .filter(|r| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|r| &r["Properties"])
        .collect();
    assert!(alarms.iter().any(|a| a["Namespace"] == "AWS/Lambda"
        && a["MetricName"] == "Errors"
        && a["Dimensions"]
            == json!([{ "Name": "FunctionName", "Value": r#ref("ClassifierFunction") }])));
    assert!(alarms.iter().any(|a| a["Namespace"] == "AWS/SQS"
        && a["MetricName"] == "ApproximateNumberOfMessagesVisible"
        && a["Dimensions"][0]["Value"]
            == json!({ "Fn::GetAtt": ["DeadLetterQueue", "QueueName"] })));
}

// ------------------------------------------------------------------ Athena, outputs

#[test]
fn glue_table_reads_the_results_prefix_as_json() {
    let t = template();
    let table = &resource(&t, "ResultsTable")["Properties"]["TableInput"];
    let sd = &table["StorageDescriptor"];
    assert_eq!(
        sd["SerdeInfo"]["SerializationLibrary"],
        "org.openx.data.jsonserde.JsonSerDe"
    );
    let loc = sub_template(&sd["Location"]).expect("Location");
    assert_eq!(loc, "s3://${Bucket}/${ResultsPrefix}");
    let cols: Vec<&str> = sd["Columns"]
        .as_array()
        .expect("Columns")
        .iter()
        .map(|c| c["Name"].as_str().unwrap())
        .collect();
    assert_eq!(
        cols,
        [
            "schema_version",
            "status",
            "generator",
            "source",
            "error",
            "log",
            "calls",
            "other_contacts",
            "summary"
        ]
    );
}

#[test]
fn outputs_name_what_users_need() {
    let t = template();
    let outputs = t["Outputs"].as_object().expect("Outputs");
    for name in [
        "BucketName",
        "UploadPrefix",
        "ResultsPrefix",
        "FunctionArn",
        "DeadLetterQueueUrl",
        "BatchOperationsRoleArn",
    ] {
        assert!(outputs.contains_key(name), "output {name} missing");
    }
    assert_eq!(
        outputs["DeadLetterQueueUrl"]["Value"],
        r#ref("DeadLetterQueue")
    );
}

// ------------------------------------------------------------------ metrics, dashboard, alarms

/// The text of a `Fn::Sub` with every `${...}` resolved: parameters to their
/// defaults, pseudo parameters to fixed stand-ins, `Resource` and
/// `Resource.Attribute` to `res:<name>` (the resource must exist). An unknown
/// name fails the test, as it would fail the deployment.
fn resolve_sub(t: &Value, text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("unclosed ${") + start;
        let name = &rest[start + 2..end];
        let value = match name {
            "AWS::Region" => "us-east-1".to_owned(),
            "AWS::StackName" => "stack".to_owned(),
            "AWS::AccountId" => "123456789012".to_owned(),
            "AWS::Partition" => "aws".to_owned(),
            "AWS::URLSuffix" => "amazonaws.com".to_owned(),
            _ if t["Parameters"].get(name).is_some() => param_default(t, name),
            _ => {
                let resource = name.split('.').next().unwrap();
                assert!(
                    resources(t).contains_key(resource),
                    "${{{name}}} names nothing"
                );
                format!("res:{name}")
            }
        };
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The `Service` dimension value the function uses, as deployed.
fn metrics_service(t: &Value) -> String {
    let env = &resource(t, "ClassifierFunction")["Properties"]["Environment"]["Variables"];
    resolve_sub(
        t,
        sub_template(&env["METRICS_SERVICE"]).expect("METRICS_SERVICE"),
    )
}

/// Checks one metric of the function's namespace: a name the code emits,
/// dimensions the code emits, the deployed `Service`, and verdict and kind
/// values from the core's closed lists. (Reason values have no list to check
/// against, so the template names none; the dashboard finds them by SEARCH.)
fn check_own_metric(t: &Value, name: &str, dimensions: &[(String, String)], what: &str) {
    use ccp_disconnect_core::{DisconnectedBy, RejectKind};
    use ccp_disconnect_lambda::{DIMENSION_NAMES, METRIC_NAMES};
    assert!(
        METRIC_NAMES.contains(&name),
        "{what}: {name} is not emitted"
    );
    assert!(
        dimensions.iter().any(|(d, _)| d == "Service"),
        "{what}: {name} without Service"
    );
    for (dimension, value) in dimensions {
        assert!(
            DIMENSION_NAMES.contains(&dimension.as_str()),
            "{what}: dimension {dimension}"
        );
        match dimension.as_str() {
            "Service" => assert_eq!(*value, metrics_service(t), "{what}"),
            "DisconnectedBy" => assert!(
                DisconnectedBy::ALL.iter().any(|v| v.as_str() == value),
                "{what}: DisconnectedBy={value}"
            ),
            "Kind" => assert!(
                RejectKind::ALL.iter().any(|v| v.as_str() == value),
                "{what}: Kind={value}"
            ),
            other => panic!("{what}: {other}={value} cannot be checked; use SEARCH"),
        }
    }
}

/// `SEARCH('{namespace,Dim,...} MetricName="X" Service="Y"', ...)`: the
/// schema's namespace and dimensions, the metric name and the service.
fn check_search(t: &Value, expression: &str, namespace: &str, what: &str) -> String {
    use ccp_disconnect_lambda::{DIMENSION_NAMES, METRIC_NAMES};
    let schema_start = expression.find("SEARCH('{").expect("SEARCH('{") + 9;
    let schema_end = expression[schema_start..].find('}').unwrap() + schema_start;
    let mut schema = expression[schema_start..schema_end].split(',');
    assert_eq!(schema.next(), Some(namespace), "{what}: {expression}");
    let dims: Vec<&str> = schema.collect();
    assert!(dims.contains(&"Service"), "{what}: {expression}");
    assert!(
        dims.iter().all(|d| DIMENSION_NAMES.contains(d)),
        "{what}: {expression}"
    );
    let quoted = |key: &str| {
        let start = expression
            .find(&format!("{key}=\""))
            .unwrap_or_else(|| panic!("{what}: no {key} in {expression}"))
            + key.len()
            + 2;
        let end = expression[start..].find('"').unwrap() + start;
        expression[start..end].to_owned()
    };
    let name = quoted("MetricName");
    assert!(METRIC_NAMES.contains(&name.as_str()), "{what}: {name}");
    assert_eq!(quoted("Service"), metrics_service(t), "{what}");
    name
}

/// The lower-case identifiers of a metric-math expression outside quotes:
/// the ids it refers to (functions are upper case).
fn expression_ids(expression: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut in_quote: Option<char> = None;
    let mut word = String::new();
    for c in expression.chars().chain([' ']) {
        match in_quote {
            Some(q) if c == q => in_quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => in_quote = Some(c),
            None if c.is_ascii_alphanumeric() || c == '_' => {
                word.push(c);
                continue;
            }
            None => {}
        }
        if word.starts_with(|c: char| c.is_ascii_lowercase()) {
            ids.push(std::mem::take(&mut word));
        }
        word.clear();
    }
    ids
}

#[test]
fn the_function_is_told_its_metrics_namespace_and_service() {
    let t = template();
    let f = &resource(&t, "ClassifierFunction")["Properties"];
    let env = &f["Environment"]["Variables"];
    assert_eq!(env["METRICS_NAMESPACE"], r#ref("MetricsNamespace"));
    // The service is the function's name: the same text as FunctionName.
    assert_eq!(
        sub_template(&env["METRICS_SERVICE"]),
        sub_template(&f["FunctionName"])
    );
    // The namespace parameter allows only what the function accepts.
    let default = param_default(&t, "MetricsNamespace");
    let config = ccp_disconnect_lambda::Config::from_lookup(|name| match name {
        "METRICS_NAMESPACE" => Some(default.clone()),
        "METRICS_SERVICE" => Some(metrics_service(&t)),
        _ => None,
    })
    .expect("the template's defaults are a valid configuration");
    assert_eq!(config.metrics_namespace, default);
}

#[test]
fn the_function_is_told_whether_to_write_html_reports() {
    let t = template();
    let env = &resource(&t, "ClassifierFunction")["Properties"]["Environment"]["Variables"];
    assert_eq!(env["HTML_REPORTS"], r#ref("HtmlReports"));
    // Every value the parameter allows is one the function accepts, and
    // means what it says; the default is the function's own default, so a
    // stack and a function run without the variable behave alike.
    let param = &t["Parameters"]["HtmlReports"];
    let allowed = strings(&param["AllowedValues"]);
    assert_eq!(allowed, ["true", "false"]);
    for value in &allowed {
        let config = ccp_disconnect_lambda::Config::from_lookup(|name| {
            (name == "HTML_REPORTS").then(|| value.clone())
        })
        .expect("an allowed value is a valid configuration");
        assert_eq!(config.html_reports, value == "true", "{value}");
    }
    assert_eq!(
        param_default(&t, "HtmlReports"),
        ccp_disconnect_lambda::Config::default()
            .html_reports
            .to_string()
    );
    // The page lives under the results prefix, where the function may
    // write (s3_grants_are_scoped_to_their_prefixes pins that grant) and
    // which never triggers it.
    let config = ccp_disconnect_lambda::Config {
        results_prefix: param_default(&t, "ResultsPrefix"),
        ..Default::default()
    };
    let page = config.html_key(&format!(
        "{}agent-log.txt",
        param_default(&t, "UploadsPrefix")
    ));
    assert!(
        page.starts_with(&param_default(&t, "ResultsPrefix")),
        "{page}"
    );
    assert!(
        !page.starts_with(&param_default(&t, "UploadsPrefix")),
        "{page}"
    );
}

#[test]
fn dashboard_shows_only_and_all_metrics_the_function_emits() {
    let t = template();
    let namespace = param_default(&t, "MetricsNamespace");
    let body = &resource(&t, "Dashboard")["Properties"]["DashboardBody"];
    let text = resolve_sub(&t, sub_template(body).expect("DashboardBody is a Sub"));
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the dashboard body is not JSON ({e}):\n{text}"));

    let mut shown = std::collections::BTreeSet::new();
    let mut alarms_shown = Vec::new();
    let widgets = body["widgets"].as_array().expect("widgets");
    for widget in widgets {
        let props = &widget["properties"];
        let title = props["title"].as_str().expect("every widget has a title");
        match widget["type"].as_str().unwrap() {
            "metric" => {
                assert_eq!(props["region"], "us-east-1", "{title}");
                let rows = props["metrics"].as_array().expect("metrics");
                let ids: Vec<&str> = rows
                    .iter()
                    .filter_map(|r| r.as_array()?.last()?.get("id")?.as_str())
                    .collect();
                for row in rows {
                    let row = row.as_array().expect("a metric row is an array");
                    if let Some(expression) = row[0].get("expression") {
                        let expression = expression.as_str().unwrap();
                        if expression.contains("SEARCH(") {
                            shown.insert(check_search(&t, expression, &namespace, title));
                        } else {
                            for id in expression_ids(expression) {
                                assert!(
                                    ids.contains(&id.as_str()),
                                    "{title}: {id} in {expression}"
                                );
                            }
                        }
                        continue;
                    }
                    // [namespace, name, dim, value, ..., {options}], no "." shorthand.
                    let words: Vec<&str> = row.iter().filter_map(Value::as_str).collect();
                    assert!(!words.contains(&"."), "{title}: spell rows out");
                    let (ns, name) = (words[0], words[1]);
                    let dims: Vec<(String, String)> = words[2..]
                        .chunks(2)
                        .map(|p| (p[0].to_owned(), p[1].to_owned()))
                        .collect();
                    match ns {
                        _ if ns == namespace => {
                            check_own_metric(&t, name, &dims, title);
                            shown.insert(name.to_owned());
                        }
                        "AWS/Lambda" => {
                            assert!(
                                ["Errors", "Throttles", "Duration"].contains(&name),
                                "{name}"
                            );
                            assert_eq!(
                                dims,
                                [("FunctionName".into(), "res:ClassifierFunction".into())]
                            );
                        }
                        "AWS/SQS" => {
                            assert_eq!(name, "ApproximateNumberOfMessagesVisible");
                            assert_eq!(
                                dims,
                                [("QueueName".into(), "res:DeadLetterQueue.QueueName".into())]
                            );
                        }
                        other => panic!("{title}: namespace {other}"),
                    }
                }
            }
            "alarm" => {
                for arn in props["alarms"].as_array().unwrap() {
                    let name = arn
                        .as_str()
                        .and_then(|a| a.strip_prefix("res:"))
                        .and_then(|a| a.strip_suffix(".Arn"))
                        .unwrap_or_else(|| panic!("{title}: {arn}"));
                    assert_eq!(resource(&t, name)["Type"], "AWS::CloudWatch::Alarm");
                    alarms_shown.push(name.to_owned());
                }
            }
            other => panic!("unexpected widget type {other}"),
        }
    }
    let emitted: std::collections::BTreeSet<String> = ccp_disconnect_lambda::METRIC_NAMES
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(shown, emitted, "every emitted metric has a graph");
    // Every alarm of the stack is on the dashboard.
    let mut alarms: Vec<String> = resources(&t)
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(n, _)| n.clone())
        .collect();
    alarms.sort();
    alarms_shown.sort();
    assert_eq!(alarms_shown, alarms);
}

#[test]
fn alarms_on_the_functions_metrics() {
    let t = template();
    let topic =
        json!({ "Fn::If": ["HasAlarmTopic", [r#ref("AlarmTopicArn")], r#ref("AWS::NoValue")] });
    let mut own = Vec::new();
    for (name, r) in resources(&t) {
        if r["Type"] != "AWS::CloudWatch::Alarm" {
            continue;
        }
        let p = &r["Properties"];
        // Every alarm, old and new, goes to the optional topic.
        assert_eq!(p["AlarmActions"], topic, "{name}");
        assert_eq!(p["TreatMissingData"], "notBreaching", "{name}");
        let mut metrics = Vec::new();
        if p.get("MetricName").is_some() {
            metrics.push(p.clone());
        }
        let queries = p["Metrics"].as_array().cloned().unwrap_or_default();
        let ids: Vec<&str> = queries.iter().map(|q| q["Id"].as_str().unwrap()).collect();
        for q in &queries {
            if let Some(stat) = q.get("MetricStat") {
                metrics.push(stat["Metric"].clone());
            }
            if let Some(expression) = q.get("Expression") {
                let text = resolve_sub(&t, sub_template(expression).unwrap());
                for id in expression_ids(&text) {
                    assert!(ids.contains(&id.as_str()), "{name}: {id} in {text}");
                }
            }
        }
        if !queries.is_empty() {
            assert_eq!(
                queries.iter().filter(|q| q["ReturnData"] == true).count(),
                1,
                "{name}: one query is the alarm's"
            );
        }
        for m in metrics {
            if m["Namespace"] != r#ref("MetricsNamespace") {
                continue;
            }
            let dims: Vec<(String, String)> = m["Dimensions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    let value = match &d["Value"] {
                        Value::String(s) => s.clone(),
                        v => resolve_sub(&t, sub_template(v).expect("a Sub")),
                    };
                    (d["Name"].as_str().unwrap().to_owned(), value)
                })
                .collect();
            check_own_metric(&t, m["MetricName"].as_str().unwrap(), &dims, name);
            own.push((
                name.clone(),
                m["MetricName"].as_str().unwrap().to_owned(),
                dims,
            ));
        }
    }
    let has = |alarm: &str, metric: &str, verdict: Option<&str>| {
        own.iter().any(|(a, m, dims)| {
            a == alarm
                && m == metric
                && verdict.is_none_or(|v| dims.iter().any(|(d, x)| d == "DisconnectedBy" && x == v))
        })
    };
    // The network share: network calls over all calls.
    assert!(
        has("NetworkShareAlarm", "Calls", Some("network")),
        "{own:?}"
    );
    assert!(has("NetworkShareAlarm", "Calls", None), "{own:?}");
    assert!(has("RejectedLogsAlarm", "LogsRejected", None), "{own:?}");

    // The share is only computed over enough calls, and its window, minimum
    // and threshold are parameters with defaults.
    let share = &resource(&t, "NetworkShareAlarm")["Properties"];
    let expression = share["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["ReturnData"] == true)
        .unwrap();
    let text = sub_template(&expression["Expression"]).unwrap();
    assert!(
        text.starts_with("IF(calls >= ${NetworkShareMinimumCalls},"),
        "{text}"
    );
    assert!(text.contains("100 * FILL(network, 0) / calls"), "{text}");
    assert_eq!(share["Threshold"], r#ref("NetworkShareThresholdPercent"));
    for q in share["Metrics"].as_array().unwrap() {
        if let Some(stat) = q.get("MetricStat") {
            assert_eq!(stat["Period"], r#ref("NetworkShareWindowSeconds"));
            assert_eq!(stat["Stat"], "Sum");
        }
    }
    let rejected = &resource(&t, "RejectedLogsAlarm")["Properties"];
    assert_eq!(rejected["Threshold"], r#ref("RejectedLogsThreshold"));
    assert_eq!(rejected["Statistic"], "Sum");
    for param in [
        "NetworkShareThresholdPercent",
        "NetworkShareMinimumCalls",
        "NetworkShareWindowSeconds",
        "RejectedLogsThreshold",
        "MetricsNamespace",
    ] {
        let p = &t["Parameters"][param];
        assert!(
            p["Description"].as_str().is_some_and(|d| d.len() > 60),
            "{param} explains itself"
        );
        param_default(&t, param);
    }
}

// ------------------------------------------------------------------ upload page

/// One deployment's parameter choices: the defaults, with some overridden.
struct Scenario<'a> {
    t: &'a Value,
    overrides: Vec<(&'a str, &'a str)>,
}

impl<'a> Scenario<'a> {
    fn new(t: &'a Value, overrides: &[(&'a str, &'a str)]) -> Self {
        for (name, _) in overrides {
            assert!(t["Parameters"].get(*name).is_some(), "no parameter {name}");
        }
        Scenario {
            t,
            overrides: overrides.to_vec(),
        }
    }

    fn param(&self, name: &str) -> String {
        match self.overrides.iter().find(|(n, _)| *n == name) {
            Some((_, v)) => v.to_string(),
            None => param_default(self.t, name),
        }
    }

    /// The value of a named condition, as CloudFormation evaluates it.
    fn condition(&self, name: &str) -> bool {
        let c = self.t["Conditions"]
            .get(name)
            .unwrap_or_else(|| panic!("no condition {name}"));
        self.truth(c)
    }

    fn truth(&self, v: &Value) -> bool {
        let obj = v.as_object().expect("a condition function");
        let (f, args) = obj.iter().next().expect("one key");
        match f.as_str() {
            "Condition" => self.condition(args.as_str().expect("condition name")),
            "Fn::Equals" => {
                let a = args.as_array().expect("two operands");
                self.string(&a[0]) == self.string(&a[1])
            }
            "Fn::Not" => !self.truth(&args[0]),
            "Fn::And" => args.as_array().unwrap().iter().all(|c| self.truth(c)),
            "Fn::Or" => args.as_array().unwrap().iter().any(|c| self.truth(c)),
            other => panic!("condition function {other}"),
        }
    }

    /// Whether a resource (or output) is created in this scenario.
    fn exists(&self, r: &Value) -> bool {
        r.get("Condition")
            .and_then(Value::as_str)
            .is_none_or(|c| self.condition(c))
    }

    /// A value with every intrinsic function resolved: parameters to their
    /// values, pseudo parameters to fixed stand-ins, `Ref X` / `GetAtt X.A`
    /// of a resource to `res:X` / `res:X.A`; `None` for `AWS::NoValue`.
    fn eval(&self, v: &Value) -> Option<Value> {
        match v {
            Value::Array(items) => Some(Value::Array(
                items.iter().filter_map(|x| self.eval(x)).collect(),
            )),
            Value::Object(obj) if obj.len() == 1 => {
                let (f, args) = obj.iter().next().unwrap();
                match f.as_str() {
                    "Ref" if args == "AWS::NoValue" => None,
                    "Ref" => Some(Value::String(self.name(args.as_str().unwrap()))),
                    "Fn::GetAtt" => {
                        let a = args.as_array().expect("[resource, attribute]");
                        let res = a[0].as_str().unwrap();
                        assert!(resources(self.t).contains_key(res), "GetAtt {res}");
                        Some(json!(format!("res:{res}.{}", a[1].as_str().unwrap())))
                    }
                    "Fn::If" => {
                        let a = args.as_array().expect("[condition, then, else]");
                        let pick = if self.condition(a[0].as_str().unwrap()) {
                            &a[1]
                        } else {
                            &a[2]
                        };
                        self.eval(pick)
                    }
                    "Fn::Sub" => Some(Value::String(self.sub(args))),
                    "Fn::Split" => {
                        let a = args.as_array().expect("[separator, text]");
                        let sep = a[0].as_str().unwrap();
                        let text = self.string(&a[1]);
                        Some(text.split(sep).map(|x| json!(x)).collect())
                    }
                    "Fn::Join" => {
                        let a = args.as_array().expect("[separator, list]");
                        let items = self.eval(&a[1]).expect("a list");
                        let items: Vec<&str> = items
                            .as_array()
                            .expect("a list")
                            .iter()
                            .map(|x| x.as_str().expect("strings"))
                            .collect();
                        Some(json!(items.join(a[0].as_str().unwrap())))
                    }
                    f if f.starts_with("Fn::") => panic!("unsupported {f}"),
                    _ => Some(self.eval_object(obj)),
                }
            }
            Value::Object(obj) => Some(self.eval_object(obj)),
            other => Some(other.clone()),
        }
    }

    fn eval_object(&self, obj: &Map<String, Value>) -> Value {
        Value::Object(
            obj.iter()
                .filter_map(|(k, v)| Some((k.clone(), self.eval(v)?)))
                .collect(),
        )
    }

    fn string(&self, v: &Value) -> String {
        match self.eval(v) {
            Some(Value::String(s)) => s,
            Some(Value::Number(n)) => n.to_string(),
            other => panic!("{v} is not a string: {other:?}"),
        }
    }

    fn name(&self, name: &str) -> String {
        match name {
            "AWS::Region" => "us-east-1".to_owned(),
            "AWS::StackName" => "stack".to_owned(),
            "AWS::AccountId" => "123456789012".to_owned(),
            "AWS::Partition" => "aws".to_owned(),
            "AWS::URLSuffix" => "amazonaws.com".to_owned(),
            _ if self.t["Parameters"].get(name).is_some() => self.param(name),
            _ => {
                let res = name.split('.').next().unwrap();
                assert!(resources(self.t).contains_key(res), "{name} names nothing");
                format!("res:{name}")
            }
        }
    }

    fn sub(&self, args: &Value) -> String {
        let (text, vars) = match args {
            Value::String(s) => (s.as_str(), None),
            Value::Array(a) => (a[0].as_str().unwrap(), a[1].as_object()),
            other => panic!("Fn::Sub {other}"),
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("unclosed ${") + start;
            let name = &rest[start + 2..end];
            match vars.and_then(|m| m.get(name)) {
                Some(v) => out.push_str(&self.string(v)),
                None => out.push_str(&self.name(name)),
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// The resource's properties as deployed in this scenario.
    fn properties(&self, name: &str) -> Value {
        let r = resource(self.t, name);
        assert!(self.exists(r), "{name} is not created in this scenario");
        self.eval(&r["Properties"]).unwrap_or(Value::Null)
    }

    /// A resource's properties with the names of the resources they refer to
    /// (`res:X` anywhere in a string).
    fn referenced(&self, v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                for (i, _) in s.match_indices("res:") {
                    let name: String = s[i + 4..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric())
                        .collect();
                    out.push(name);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| self.referenced(x, out)),
            Value::Object(o) => o.values().for_each(|x| self.referenced(x, out)),
            _ => {}
        }
    }
}

const OIDC: &[(&str, &str)] = &[
    ("UploadPage", "true"),
    ("IdentityProvider", "oidc"),
    ("OidcIssuer", "https://idp.example.com/oauth2/default"),
    ("OidcAudience", "0oa-upload-page"),
    (
        "OidcAuthorizeUrl",
        "https://idp.example.com/oauth2/default/v1/authorize",
    ),
    (
        "OidcTokenUrl",
        "https://idp.example.com/oauth2/default/v1/token",
    ),
    (
        "OidcLogoutUrl",
        "https://idp.example.com/oauth2/default/v1/logout",
    ),
];
const COGNITO: &[(&str, &str)] = &[("UploadPage", "true"), ("IdentityProvider", "cognito")];

/// What the page's origin is in a scenario: the API's default endpoint.
const API_ORIGIN: &str = "https://res:UploadApi.execute-api.us-east-1.amazonaws.com";

#[test]
fn upload_page_is_off_by_default_and_wholly_conditional() {
    let t = template();
    assert_eq!(param_default(&t, "UploadPage"), "false");
    assert_eq!(
        strings(&t["Parameters"]["UploadPage"]["AllowedValues"]),
        ["true", "false"]
    );
    assert_eq!(param_default(&t, "IdentityProvider"), "cognito");
    assert_eq!(
        strings(&t["Parameters"]["IdentityProvider"]["AllowedValues"]),
        ["cognito", "oidc"]
    );
    let upload_only = |name: &str| name.starts_with("Upload") || name.starts_with("Presign");
    let off = Scenario::new(&t, &[]);
    let cognito = Scenario::new(&t, COGNITO);
    let oidc = Scenario::new(&t, OIDC);
    let oidc_existing = Scenario::new(
        &t,
        &[OIDC, &[("ExistingBucketName", "example-existing-bucket")]].concat(),
    );
    for (name, r) in resources(&t) {
        if upload_only(name) {
            // Nothing of the page exists unless asked for: stacks updated to
            // this template are unchanged.
            assert!(!off.exists(r), "{name} exists with UploadPage=false");
            assert!(cognito.exists(r), "{name} is missing with Cognito");
            // The user pool, its domain and client exist for Cognito only.
            let is_cognito = name.starts_with("UploadUserPool");
            assert_eq!(oidc.exists(r), !is_cognito, "{name} with OIDC");
        }
    }
    // Every reference of a created resource or output names a created
    // resource, in every scenario.
    for sc in [&off, &cognito, &oidc, &oidc_existing] {
        for section in ["Resources", "Outputs"] {
            for (name, r) in t[section].as_object().unwrap() {
                if !sc.exists(r) {
                    continue;
                }
                let body = if section == "Resources" {
                    json!([sc.eval(&r["Properties"]), sc.eval(&r["Metadata"])])
                } else {
                    sc.eval(&r["Value"]).unwrap()
                };
                let mut names = Vec::new();
                sc.referenced(&body, &mut names);
                for n in names {
                    assert!(
                        sc.exists(resource(&t, &n)),
                        "{name} refers to {n}, which is not created ({:?})",
                        sc.overrides
                    );
                }
            }
        }
    }
}

#[test]
fn upload_routes_and_which_need_a_token() {
    let t = template();
    let sc = Scenario::new(&t, COGNITO);
    let mut routes: Vec<(String, String)> = Vec::new();
    for (name, r) in resources(&t) {
        if r["Type"] != "AWS::ApiGatewayV2::Route" {
            continue;
        }
        let p = sc.properties(name);
        assert_eq!(p["ApiId"], "res:UploadApi", "{name}");
        assert_eq!(
            p["Target"], "integrations/res:UploadApiIntegration",
            "{name}"
        );
        let key = p["RouteKey"].as_str().unwrap().to_owned();
        let auth = p["AuthorizationType"].as_str().unwrap().to_owned();
        match auth.as_str() {
            "JWT" => assert_eq!(p["AuthorizerId"], "res:UploadApiAuthorizer", "{key}"),
            "NONE" => assert!(p.get("AuthorizerId").is_none(), "{key}"),
            other => panic!("{key}: authorization {other}"),
        }
        // Anything under /api/ is for signed-in callers only.
        let path = key.split_once(' ').unwrap().1;
        assert_eq!(path.starts_with("/api/"), auth == "JWT", "{key}");
        routes.push((key, auth));
    }
    routes.sort();
    let expected = [
        ("GET /", "NONE"),
        ("GET /api/results", "JWT"),
        ("GET /collector.js", "NONE"),
        ("GET /config.json", "NONE"),
        ("GET /upload.css", "NONE"),
        ("GET /upload.js", "NONE"),
        ("POST /api/uploads", "JWT"),
    ];
    assert_eq!(
        routes,
        expected.map(|(k, a)| (k.to_owned(), a.to_owned())),
        "the contract's routes, no catch-all"
    );

    let integration = sc.properties("UploadApiIntegration");
    assert_eq!(integration["IntegrationType"], "AWS_PROXY");
    assert_eq!(integration["PayloadFormatVersion"], "2.0");
    assert_eq!(integration["IntegrationUri"], "res:PresignFunction.Arn");
    assert_eq!(sc.properties("UploadApi")["ProtocolType"], "HTTP");

    // API Gateway may invoke the function for this API only.
    let permission = sc.properties("UploadApiInvokePermission");
    assert_eq!(permission["Principal"], "apigateway.amazonaws.com");
    assert_eq!(permission["FunctionName"], "res:PresignFunction.Arn");
    assert_eq!(
        permission["SourceArn"],
        "arn:aws:execute-api:us-east-1:123456789012:res:UploadApi/*"
    );
}

#[test]
fn upload_api_is_throttled_and_logged() {
    let t = template();
    let sc = Scenario::new(&t, COGNITO);
    let stage = sc.properties("UploadApiStage");
    assert_eq!(stage["StageName"], "$default");
    assert_eq!(stage["AutoDeploy"], true);
    let raw = &resource(&t, "UploadApiStage")["Properties"]["DefaultRouteSettings"];
    assert_eq!(raw["ThrottlingRateLimit"], r#ref("UploadApiRateLimit"));
    assert_eq!(raw["ThrottlingBurstLimit"], r#ref("UploadApiBurstLimit"));
    let rate: f64 = param_default(&t, "UploadApiRateLimit").parse().unwrap();
    let burst: f64 = param_default(&t, "UploadApiBurstLimit").parse().unwrap();
    assert!(rate >= 1.0 && burst >= rate, "rate {rate}, burst {burst}");
    for param in ["UploadApiRateLimit", "UploadApiBurstLimit"] {
        let p = &t["Parameters"][param];
        assert!(
            p["MinValue"].as_u64().unwrap() >= 1,
            "{param} can never be 0"
        );
        assert!(
            p["Description"].as_str().is_some_and(|d| d.len() > 60),
            "{param} explains its default"
        );
    }

    let logs = &stage["AccessLogSettings"];
    assert_eq!(logs["DestinationArn"], "res:UploadApiLogGroup.Arn");
    let format: Value =
        serde_json::from_str(logs["Format"].as_str().unwrap()).expect("the access log is JSON");
    for field in ["requestId", "routeKey", "status", "sub"] {
        assert!(format.get(field).is_some(), "access log without {field}");
    }
    let lg = &resource(&t, "UploadApiLogGroup")["Properties"];
    assert_eq!(lg["RetentionInDays"], r#ref("LogRetentionDays"));
}

#[test]
fn jwt_authorizer_and_page_config_follow_the_identity_provider() {
    let t = template();
    for (choice, overrides) in [("cognito", COGNITO), ("oidc", OIDC)] {
        let sc = Scenario::new(&t, overrides);
        let auth = sc.properties("UploadApiAuthorizer");
        assert_eq!(auth["AuthorizerType"], "JWT");
        assert_eq!(auth["ApiId"], "res:UploadApi");
        assert_eq!(
            auth["IdentitySource"],
            json!(["$request.header.Authorization"])
        );
        let jwt = &auth["JwtConfiguration"];
        let env = sc.properties("PresignFunction")["Environment"]["Variables"].clone();
        // The page signs in with OIDC_CLIENT_ID and sends the ID token, whose
        // aud is that client id: the authorizer must accept exactly it.
        assert_eq!(jwt["Audience"], json!([env["OIDC_CLIENT_ID"]]), "{choice}");
        assert!(
            env["OIDC_SCOPES"]
                .as_str()
                .unwrap()
                .split(' ')
                .any(|s| s == "openid"),
            "{choice}"
        );
        let text = |name: &str| env[name].as_str().map(str::to_owned);
        match choice {
            "cognito" => {
                let pool = sc.properties("UploadUserPoolDomain");
                let domain = pool["Domain"].as_str().unwrap();
                assert_eq!(domain, "stack-123456789012", "the default domain prefix");
                assert_eq!(pool["UserPoolId"], "res:UploadUserPool");
                assert_eq!(
                    jwt["Issuer"],
                    "https://cognito-idp.us-east-1.amazonaws.com/res:UploadUserPool"
                );
                assert_eq!(jwt["Audience"], json!(["res:UploadUserPoolClient"]));
                let hosted = format!("https://{domain}.auth.us-east-1.amazoncognito.com");
                assert_eq!(
                    text("OIDC_AUTHORIZE_URL"),
                    Some(format!("{hosted}/oauth2/authorize"))
                );
                assert_eq!(
                    text("OIDC_TOKEN_URL"),
                    Some(format!("{hosted}/oauth2/token"))
                );
                assert_eq!(text("OIDC_LOGOUT_URL"), Some(format!("{hosted}/logout")));
                // The page asks for the scopes the client allows.
                let client = sc.properties("UploadUserPoolClient");
                let mut allowed = strings(&client["AllowedOAuthScopes"]);
                let mut asked: Vec<String> = env["OIDC_SCOPES"]
                    .as_str()
                    .unwrap()
                    .split(' ')
                    .map(String::from)
                    .collect();
                allowed.sort();
                asked.sort();
                assert_eq!(asked, allowed);
                let outputs = &t["Outputs"];
                assert_eq!(sc.string(&outputs["UploadSignInDomain"]["Value"]), hosted);
                assert_eq!(
                    sc.string(&outputs["UploadUserPoolId"]["Value"]),
                    "res:UploadUserPool"
                );
                assert_eq!(
                    sc.string(&outputs["UploadUserPoolClientId"]["Value"]),
                    "res:UploadUserPoolClient"
                );
                // A prefix chosen by the operator is used everywhere.
                let named = Scenario::new(
                    &t,
                    &[COGNITO, &[("CognitoDomainPrefix", "agents-upload")]].concat(),
                );
                let env = named.properties("PresignFunction")["Environment"]["Variables"].clone();
                assert_eq!(
                    named.properties("UploadUserPoolDomain")["Domain"],
                    "agents-upload"
                );
                assert_eq!(
                    env["OIDC_TOKEN_URL"],
                    "https://agents-upload.auth.us-east-1.amazoncognito.com/oauth2/token"
                );
            }
            _ => {
                let p = |n: &str| OIDC.iter().find(|(k, _)| *k == n).unwrap().1.to_owned();
                assert_eq!(jwt["Issuer"], p("OidcIssuer"));
                assert_eq!(jwt["Audience"], json!([p("OidcAudience")]));
                assert_eq!(text("OIDC_AUTHORIZE_URL"), Some(p("OidcAuthorizeUrl")));
                assert_eq!(text("OIDC_TOKEN_URL"), Some(p("OidcTokenUrl")));
                assert_eq!(text("OIDC_LOGOUT_URL"), Some(p("OidcLogoutUrl")));
                assert_eq!(text("OIDC_SCOPES"), Some(param_default(&t, "OidcScopes")));
                // No logout URL: the variable is left unset (the page shows
                // no sign-out link), not set to "".
                let without = Scenario::new(
                    &t,
                    &OIDC
                        .iter()
                        .copied()
                        .filter(|(k, _)| *k != "OidcLogoutUrl")
                        .collect::<Vec<_>>(),
                );
                let env = without.properties("PresignFunction")["Environment"]["Variables"].clone();
                assert!(env.get("OIDC_LOGOUT_URL").is_none(), "{env}");
                for n in [
                    "UploadSignInDomain",
                    "UploadUserPoolId",
                    "UploadUserPoolClientId",
                ] {
                    assert!(!sc.exists(&t["Outputs"][n]), "{n} without Cognito");
                }
            }
        }
    }
    // With oidc, the four settings it cannot work without are required.
    let rule = &t["Rules"]["UploadPageWithOidcNeedsItsSettings"];
    assert_eq!(
        rule["RuleCondition"],
        json!({ "Fn::And": [
            { "Fn::Equals": [r#ref("UploadPage"), "true"] },
            { "Fn::Equals": [r#ref("IdentityProvider"), "oidc"] },
        ] })
    );
    let asserted: Vec<&Value> = as_list(&rule["Assertions"])
        .iter()
        .map(|a| &a["Assert"])
        .collect();
    for param in [
        "OidcIssuer",
        "OidcAudience",
        "OidcAuthorizeUrl",
        "OidcTokenUrl",
    ] {
        assert!(
            asserted.contains(&&json!({ "Fn::Not": [{ "Fn::Equals": [r#ref(param), ""] }] })),
            "{param} is not required"
        );
    }
}

#[test]
fn presign_function_gets_every_variable_of_the_contract() {
    let t = template();
    let sc = Scenario::new(&t, COGNITO);
    let f = sc.properties("PresignFunction");
    let env = f["Environment"]["Variables"].as_object().unwrap().clone();
    let mut names: Vec<&str> = env.keys().map(String::as_str).collect();
    names.sort();
    // MAX_OBJECT_BYTES is unset by default, like the classifier's (the
    // built-in limit); the contract's optional S3_PUBLIC_ENDPOINT is for
    // tests against a local S3 only.
    assert_eq!(
        names,
        [
            "BUCKET_NAME",
            "LOG_FORMAT",
            "OIDC_AUTHORIZE_URL",
            "OIDC_CLIENT_ID",
            "OIDC_LOGOUT_URL",
            "OIDC_SCOPES",
            "OIDC_TOKEN_URL",
            "RESULTS_BUCKET",
            "RESULTS_PREFIX",
            "RESULT_URL_EXPIRY_SECONDS",
            "RUST_LOG",
            "UPLOADS_PREFIX",
            "UPLOAD_URL_EXPIRY_SECONDS",
        ]
    );
    // Same bucket, prefixes and size limit as the classifier: the keys
    // signed are the ones it is triggered on, results are read where it
    // writes them, and nothing is accepted that it would refuse unread.
    let raw = &resource(&t, "PresignFunction")["Properties"]["Environment"]["Variables"];
    let classifier = &resource(&t, "ClassifierFunction")["Properties"]["Environment"]["Variables"];
    assert_eq!(raw["UPLOADS_PREFIX"], r#ref("UploadsPrefix"));
    assert_eq!(raw["RESULTS_PREFIX"], classifier["RESULTS_PREFIX"]);
    assert_eq!(raw["RESULTS_BUCKET"], classifier["RESULTS_BUCKET"]);
    assert_eq!(raw["BUCKET_NAME"], classifier["RESULTS_BUCKET"]);
    assert_eq!(raw["MAX_OBJECT_BYTES"], classifier["MAX_OBJECT_BYTES"]);
    let limited = Scenario::new(&t, &[COGNITO, &[("MaxObjectBytes", "1048576")]].concat());
    assert_eq!(
        limited.properties("PresignFunction")["Environment"]["Variables"]["MAX_OBJECT_BYTES"],
        "1048576"
    );
    assert_eq!(env["BUCKET_NAME"], "stack-logs-123456789012");
    let existing = Scenario::new(
        &t,
        &[COGNITO, &[("ExistingBucketName", "their-bucket")]].concat(),
    );
    let env2 = existing.properties("PresignFunction")["Environment"]["Variables"].clone();
    assert_eq!(env2["BUCKET_NAME"], "their-bucket");
    assert_eq!(env2["RESULTS_BUCKET"], "their-bucket");

    // Expiry: the contract's defaults and range.
    for (var, param) in [
        ("UPLOAD_URL_EXPIRY_SECONDS", "UploadUrlExpirySeconds"),
        ("RESULT_URL_EXPIRY_SECONDS", "ResultUrlExpirySeconds"),
    ] {
        assert_eq!(raw[var], r#ref(param));
        assert_eq!(param_default(&t, param), "300");
        let p = &t["Parameters"][param];
        assert_eq!(
            (p["MinValue"].as_u64(), p["MaxValue"].as_u64()),
            (Some(1), Some(3600))
        );
    }
    assert_eq!(env["LOG_FORMAT"], "json");

    // Its own log group with retention, a small reserved concurrency.
    let raw_f = &resource(&t, "PresignFunction")["Properties"];
    assert_eq!(raw_f["LoggingConfig"]["LogGroup"], r#ref("PresignLogGroup"));
    assert_eq!(raw_f["LoggingConfig"]["LogFormat"], "JSON");
    let lg = &resource(&t, "PresignLogGroup")["Properties"];
    assert_eq!(lg["RetentionInDays"], r#ref("LogRetentionDays"));
    assert_eq!(
        sub_template(&lg["LogGroupName"]),
        Some(
            format!(
                "/aws/lambda/{}",
                sub_template(&raw_f["FunctionName"]).unwrap()
            )
            .as_str()
        )
    );
    let reserved = f["ReservedConcurrentExecutions"]
        .as_u64()
        .expect("reserved");
    assert!((1..=10).contains(&reserved), "{reserved}");
    let unreserved = Scenario::new(&t, &[COGNITO, &[("ReservedConcurrency", "-1")]].concat());
    assert!(
        unreserved
            .properties("PresignFunction")
            .get("ReservedConcurrentExecutions")
            .is_none()
    );
}

#[test]
fn presign_role_signs_for_uploads_and_reads_upload_results_only() {
    let t = template();
    let role: Vec<Statement> = statements(&t)
        .into_iter()
        .filter(|s| s.owner == "PresignRole" && s.body.get("Principal").is_none())
        .collect();
    let mut granted = Vec::new();
    for s in &role {
        assert_eq!(s.body["Effect"], "Allow");
        for a in actions(s.body) {
            granted.push(a);
        }
    }
    granted.sort();
    assert_eq!(
        granted,
        [
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "s3:GetObject",
            "s3:PutObject",
        ],
        "no s3:ListBucket, no deletes, nothing else"
    );

    // Resolved with the default prefixes, for the created and an existing
    // bucket: the ARNs end exactly at the prefixes.
    for (bucket, overrides) in [
        ("stack-logs-123456789012", COGNITO.to_vec()),
        (
            "their-bucket",
            [COGNITO, &[("ExistingBucketName", "their-bucket")]].concat(),
        ),
    ] {
        let sc = Scenario::new(&t, &overrides);
        let p = sc.properties("PresignRole");
        let statements = p["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .clone();
        let arn = |action: &str| -> Vec<String> {
            statements
                .iter()
                .filter(|s| strings(&s["Action"]).contains(&action.to_owned()))
                .flat_map(|s| strings(&s["Resource"]))
                .collect()
        };
        assert_eq!(
            arn("s3:PutObject"),
            [format!("arn:aws:s3:::{bucket}/uploads/*")]
        );
        assert_eq!(
            arn("s3:GetObject"),
            [format!("arn:aws:s3:::{bucket}/results/uploads/*")]
        );
        assert_eq!(arn("logs:PutLogEvents"), ["res:PresignLogGroup.Arn"]);
        assert!(arn("kms:Decrypt").is_empty(), "no key, no KMS grant");
    }
    let kms = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000";
    let sc = Scenario::new(&t, &[COGNITO, &[("KmsKeyArn", kms)]].concat());
    let p = sc.properties("PresignRole");
    let kms_grant: Vec<&Value> = p["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| strings(&s["Action"]).iter().any(|a| a.starts_with("kms:")))
        .collect();
    assert_eq!(kms_grant.len(), 1);
    assert_eq!(kms_grant[0]["Resource"], kms);

    // What the function signs a GET for is what the classifier writes for an
    // uploaded key: the grant covers every result of every upload.
    let config = ccp_disconnect_lambda::Config {
        results_prefix: param_default(&t, "ResultsPrefix"),
        ..Default::default()
    };
    let key = "uploads/agent~7Csub/20261201T010203.456Z-jdoe-agent-log.txt";
    for result in [config.result_key(key), config.html_key(key)] {
        assert!(result.starts_with("results/uploads/"), "{result}");
    }
}

#[test]
fn bucket_cors_admits_the_upload_page_origin_only() {
    let t = template();
    let raw = &resource(&t, "LogsBucket")["Properties"]["CorsConfiguration"];
    assert_eq!(raw["Fn::If"][0], "UploadPageOn", "CORS only with the page");
    assert!(
        Scenario::new(&t, &[])
            .properties("LogsBucket")
            .get("CorsConfiguration")
            .is_none(),
        "no CORS rule by default"
    );
    let sc = Scenario::new(&t, COGNITO);
    let cors = sc.properties("LogsBucket")["CorsConfiguration"].clone();
    let rules = cors["CorsRules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    let rule = &rules[0];
    // Exactly the page's origin: scheme and host, no path, no wildcard.
    assert_eq!(rule["AllowedOrigins"], json!([API_ORIGIN]));
    let page = sc.string(&t["Outputs"]["UploadPageUrl"]["Value"]);
    assert_eq!(page, format!("{API_ORIGIN}/"));
    let mut methods = strings(&rule["AllowedMethods"]);
    methods.sort();
    assert_eq!(methods, ["GET", "HEAD", "POST"], "no PUT, no DELETE");
    for h in strings(&rule["AllowedHeaders"]) {
        assert_eq!(h.to_ascii_lowercase(), "content-type");
    }
    assert!(rule.get("ExposedHeaders").is_none());
    let max_age = rule["MaxAge"].as_u64().expect("MaxAge");
    assert!((60..=7200).contains(&max_age), "{max_age}");

    // An existing bucket: the same rule, as the JSON its owner applies with
    // `aws s3api put-bucket-cors`.
    let existing = Scenario::new(
        &t,
        &[COGNITO, &[("ExistingBucketName", "their-bucket")]].concat(),
    );
    let output = &t["Outputs"]["UploadBucketCors"];
    assert!(existing.exists(output) && !sc.exists(output));
    let applied: Value =
        serde_json::from_str(&existing.string(&output["Value"])).expect("the output is JSON");
    let r = &applied["CORSRules"][0];
    assert_eq!(applied["CORSRules"].as_array().unwrap().len(), 1);
    assert_eq!(r["AllowedOrigins"], rule["AllowedOrigins"]);
    assert_eq!(r["AllowedMethods"], rule["AllowedMethods"]);
    assert_eq!(r["AllowedHeaders"], rule["AllowedHeaders"]);
    assert_eq!(r["MaxAgeSeconds"], rule["MaxAge"]);

    // The API itself needs no CORS for its own page.
    assert!(
        sc.properties("UploadApi")
            .get("CorsConfiguration")
            .is_none()
    );

    // Custom CCPs running the collector: their origins, exactly, on the
    // bucket and on the API, and in the existing bucket's rule.
    let ccps = "https://ccp.example.com,https://ccp2.example.com:8443";
    let with = Scenario::new(&t, &[COGNITO, &[("CollectorOrigins", ccps)]].concat());
    let expected = json!([
        API_ORIGIN,
        "https://ccp.example.com",
        "https://ccp2.example.com:8443"
    ]);
    let rule = with.properties("LogsBucket")["CorsConfiguration"]["CorsRules"][0].clone();
    assert_eq!(rule["AllowedOrigins"], expected);
    let api = with.properties("UploadApi")["CorsConfiguration"].clone();
    assert_eq!(
        api["AllowOrigins"],
        json!(["https://ccp.example.com", "https://ccp2.example.com:8443"])
    );
    let mut methods = strings(&api["AllowMethods"]);
    methods.sort();
    assert_eq!(methods, ["GET", "POST"]);
    let mut headers = strings(&api["AllowHeaders"]);
    headers.sort();
    assert_eq!(headers, ["authorization", "content-type"]);
    assert!(
        api.get("AllowCredentials").is_none(),
        "tokens go in a header, not cookies"
    );
    let existing = Scenario::new(
        &t,
        &[
            COGNITO,
            &[
                ("ExistingBucketName", "their-bucket"),
                ("CollectorOrigins", ccps),
            ],
        ]
        .concat(),
    );
    let applied: Value = serde_json::from_str(&existing.string(&output["Value"])).unwrap();
    assert_eq!(applied["CORSRules"][0]["AllowedOrigins"], expected);
    // Only origins, no wildcard, no path.
    for bad in [
        "*",
        "https://*.example.com",
        "http://ccp.example.com",
        "https://ccp.example.com/",
        "https://a.example.com,",
    ] {
        assert!(!allowed(&t, "CollectorOrigins", bad), "{bad}");
    }
    assert!(allowed(&t, "CollectorOrigins", ccps));
}

#[test]
fn cognito_pool_and_app_client_for_a_browser_page() {
    let t = template();
    let sc = Scenario::new(&t, COGNITO);
    let client = sc.properties("UploadUserPoolClient");
    // A public client: the page runs in the browser and can keep no secret.
    assert_eq!(client["GenerateSecret"], false);
    assert_eq!(client["UserPoolId"], "res:UploadUserPool");
    assert_eq!(client["AllowedOAuthFlowsUserPoolClient"], true);
    assert_eq!(
        client["AllowedOAuthFlows"],
        json!(["code"]),
        "code flow (with PKCE), no implicit"
    );
    assert_eq!(client["SupportedIdentityProviders"], json!(["COGNITO"]));
    // Back to the page after sign-in and sign-out.
    let page = sc.string(&t["Outputs"]["UploadPageUrl"]["Value"]);
    assert_eq!(client["CallbackURLs"], json!([page]));
    assert_eq!(client["LogoutURLs"], json!([page]));
    for flow in strings(&client["ExplicitAuthFlows"]) {
        assert!(
            !flow.contains("PASSWORD"),
            "{flow}: passwords go to the hosted pages only"
        );
    }

    let pool = sc.properties("UploadUserPool");
    assert_eq!(
        pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"],
        true
    );
    let pw = &pool["Policies"]["PasswordPolicy"];
    assert!(pw["MinimumLength"].as_u64().unwrap() >= 12);
    for flag in [
        "RequireLowercase",
        "RequireUppercase",
        "RequireNumbers",
        "RequireSymbols",
    ] {
        assert_eq!(pw[flag], true, "{flag}");
    }
    assert_eq!(pool["MfaConfiguration"], "OPTIONAL");
    assert_eq!(pool["EnabledMfas"], json!(["SOFTWARE_TOKEN_MFA"]));

    // The page's URL is an output whenever the page exists.
    let oidc = Scenario::new(&t, OIDC);
    assert_eq!(oidc.string(&t["Outputs"]["UploadPageUrl"]["Value"]), page);
}
