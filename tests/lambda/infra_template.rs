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
    let functions: Vec<_> = resources(&t)
        .iter()
        .filter(|(_, r)| {
            matches!(
                r["Type"].as_str(),
                Some("AWS::Serverless::Function" | "AWS::Lambda::Function")
            )
        })
        .collect();
    assert_eq!(functions.len(), 1, "exactly one function");
    let (name, f) = functions[0];
    assert_eq!(name, "ClassifierFunction");
    assert_eq!(f["Type"], "AWS::Serverless::Function");
    let p = &f["Properties"];
    assert_eq!(p["Runtime"], "provided.al2023");
    assert_eq!(p["Architectures"], json!(["arm64"]));
    assert_eq!(p["Handler"], "bootstrap");
    assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda");
    assert_eq!(f["Metadata"]["BuildProperties"]["Binary"], "bootstrap");
    // The explicit role is the only source of permissions: no SAM policy
    // templates, which can grant more than this project needs.
    assert!(
        p.get("Policies").is_none(),
        "use the explicit FunctionRole, not SAM Policies"
    );
    assert_eq!(p["Role"], json!({ "Fn::GetAtt": ["FunctionRole", "Arn"] }));
    assert_eq!(p["RecursiveLoop"], "Terminate");
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
