//! Optional cross-check of every call with Amazon Connect's own contact
//! record, fetched with `DescribeContact` (on when `CONNECT_INSTANCE_ID` is
//! set). The comparison itself is the core's
//! ([`ccp_disconnect_core::contact_records`]); this module only fetches.
//!
//! Bounds, so a slow or refusing Connect API never fails a result and never
//! delays it by more than a known time:
//! - at most [`Enricher::concurrency`] requests in flight and
//!   [`MAX_LOOKUPS`] contacts per log;
//! - the SDK's standard retries (throttling included), a per-attempt timeout,
//!   and one budget for the whole log ([`Enricher::budget`]): whatever is not
//!   answered by then is `unavailable`;
//! - a contact not found, access denied, throttled to the end or any other
//!   error is recorded in the call's block as `unavailable` with its reason.
//!
//! Answers are gathered by contact id and applied in the document's order,
//! so the output does not depend on the order requests complete in. (It
//! does depend on what the API answered: a contact found on one run and
//! throttled on the next gives two documents.)

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_connect::config::retry::RetryConfig;
use aws_sdk_connect::config::timeout::TimeoutConfig;
use aws_sdk_connect::error::ProvideErrorMetadata;
use ccp_disconnect_core::contact_records::{
    AgreementCounts, ContactRecord, RecordIndex, unavailable,
};
use ccp_disconnect_core::{Document, Status};

/// Contacts looked up per log at most; the rest are `unavailable`. A CCP log
/// covers about an hour, so a real one has far fewer calls.
pub const MAX_LOOKUPS: usize = 200;

/// Defaults of the environment variables below.
const DEFAULT_CONCURRENCY: usize = 4;
const DEFAULT_BUDGET: Duration = Duration::from_millis(3000);

/// Fetches contact records with `DescribeContact`.
#[derive(Clone, Debug)]
pub struct Enricher {
    client: aws_sdk_connect::Client,
    instance_id: String,
    /// Requests in flight at most (`CONTACT_RECORDS_CONCURRENCY`).
    pub concurrency: usize,
    /// The longest one log's lookups may take (`CONTACT_RECORDS_BUDGET_MS`).
    pub budget: Duration,
}

/// What one lookup gave.
type Answer = Result<ContactRecord, String>;

impl Enricher {
    /// An enricher over `client` for the instance `instance_id`.
    pub fn new(client: aws_sdk_connect::Client, instance_id: impl Into<String>) -> Enricher {
        Enricher {
            client,
            instance_id: instance_id.into(),
            concurrency: DEFAULT_CONCURRENCY,
            budget: DEFAULT_BUDGET,
        }
    }

    /// The Connect client for `sdk`: standard retries (three attempts, so
    /// throttling is retried with backoff) and a per-attempt timeout, both
    /// well inside `budget`.
    pub fn client(sdk: &SdkConfig, budget: Duration) -> aws_sdk_connect::Client {
        let conf = aws_sdk_connect::config::Builder::from(sdk)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(100))
                    .with_max_backoff(budget / 4),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(budget / 2)
                    .build(),
            )
            .build();
        aws_sdk_connect::Client::from_conf(conf)
    }

    /// From the environment: `None` when `CONNECT_INSTANCE_ID` is unset or
    /// empty; an error names a variable with a bad value.
    pub fn from_env(sdk: &SdkConfig) -> Result<Option<Enricher>, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let Some(instance_id) = var("CONNECT_INSTANCE_ID") else {
            return Ok(None);
        };
        let number = |name: &str, default: u64, max: u64| match var(name) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(format!(
                    "{name} must be a whole number from 1 to {max}, not {v:?}"
                )),
            },
        };
        let concurrency = number(
            "CONTACT_RECORDS_CONCURRENCY",
            DEFAULT_CONCURRENCY as u64,
            32,
        )?;
        let budget = Duration::from_millis(number(
            "CONTACT_RECORDS_BUDGET_MS",
            DEFAULT_BUDGET.as_millis() as u64,
            60_000,
        )?);
        let mut e = Enricher::new(Enricher::client(sdk, budget), instance_id.trim());
        e.concurrency = concurrency as usize;
        e.budget = budget;
        Ok(Some(e))
    }

    /// Looks every call of an `ok` document up and adds the `contact_record`
    /// blocks and the summary's agreement counts. Never fails.
    pub async fn enrich(&self, doc: &mut Document) {
        if doc.status != Status::Ok {
            return;
        }
        let ids: BTreeSet<String> = doc.calls.iter().map(|c| c.contact_id.clone()).collect();
        let (ids, over): (Vec<String>, Vec<String>) = {
            let mut ids: Vec<String> = ids.into_iter().collect();
            let over = ids.split_off(ids.len().min(MAX_LOOKUPS));
            (ids, over)
        };
        let answers = self.fetch(ids.clone()).await;
        let mut index = RecordIndex::new(ids.iter().cloned());
        for record in answers.values().flatten() {
            index.insert(record.clone());
        }
        index.cross_check(doc);
        // The core says "not in the records given" for what it lacks; say
        // why here instead.
        for call in &mut doc.calls {
            let id = &call.contact_id;
            let why = match answers.get(id) {
                Some(Ok(_)) => continue,
                Some(Err(why)) => why.clone(),
                None if over.contains(id) => {
                    format!("not looked up: more than {MAX_LOOKUPS} contacts in one log")
                }
                None => format!(
                    "DescribeContact did not answer within {} ms",
                    self.budget.as_millis()
                ),
            };
            call.contact_record = Some(unavailable(why));
        }
        doc.summary.contact_records = Some(AgreementCounts::of(&doc.calls));
    }

    /// Every id's answer, with at most `concurrency` requests in flight, by
    /// the end of the budget. Ids missing from the map were not answered.
    async fn fetch(&self, ids: Vec<String>) -> BTreeMap<String, Answer> {
        let answers = Arc::new(Mutex::new(BTreeMap::new()));
        let queue = Arc::new(Mutex::new(ids.into_iter().rev().collect::<Vec<_>>()));
        let workers = self.concurrency.min(queue.lock().map_or(0, |q| q.len()));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let (this, queue, answers) = (self.clone(), queue.clone(), answers.clone());
            tasks.spawn(async move {
                loop {
                    let next = queue.lock().ok().and_then(|mut q| q.pop());
                    let Some(id) = next else { break };
                    let answer = this.describe(&id).await;
                    if let Ok(mut a) = answers.lock() {
                        a.insert(id, answer);
                    }
                }
            });
        }
        let stop = tokio::time::Instant::now() + self.budget;
        while let Ok(Some(_)) = tokio::time::timeout_at(stop, tasks.join_next()).await {}
        // Out of budget: requests still in flight are dropped.
        tasks.abort_all();
        answers.lock().map(|a| a.clone()).unwrap_or_default()
    }

    async fn describe(&self, contact_id: &str) -> Answer {
        let result = self
            .client
            .describe_contact()
            .instance_id(&self.instance_id)
            .contact_id(contact_id)
            .send()
            .await;
        match result {
            Ok(out) => match out.contact() {
                Some(contact) => Ok(record_of(contact, contact_id)),
                None => Err("DescribeContact answered without a contact".into()),
            },
            Err(err) => Err(match err.code() {
                Some("ResourceNotFoundException") => {
                    "DescribeContact: no such contact in the instance (ResourceNotFoundException; \
                     records are kept 24 months)"
                        .into()
                }
                Some("AccessDeniedException") => {
                    "DescribeContact: access denied (AccessDeniedException): the function's \
                     role needs connect:DescribeContact on this instance's contacts"
                        .into()
                }
                Some("ThrottlingException") => {
                    "DescribeContact: still throttled after retries (ThrottlingException)".into()
                }
                Some(code) => format!("DescribeContact: {code}"),
                // No code: a timeout or a connection failure. The SDK's
                // message carries no request id, so it is stable.
                None => format!(
                    "DescribeContact failed: {}",
                    aws_sdk_connect::error::DisplayErrorContext(&err)
                ),
            }),
        }
    }
}

/// The SDK's contact, as the core's record. Scores go through their text so
/// an `f32` 4.61 stays 4.61 rather than 4.610000133514404.
fn record_of(c: &aws_sdk_connect::types::Contact, asked: &str) -> ContactRecord {
    let audio = c
        .quality_metrics()
        .and_then(|q| q.agent())
        .and_then(|a| a.audio());
    ContactRecord {
        contact_id: c.id().unwrap_or(asked).to_owned(),
        initial_contact_id: c.initial_contact_id().map(str::to_owned),
        previous_contact_id: c.previous_contact_id().map(str::to_owned),
        next_contact_id: None,
        disconnect_reason: c.disconnect_reason().map(str::to_owned),
        potential_disconnect_issue: c
            .disconnect_details()
            .and_then(|d| d.potential_disconnect_issue())
            .map(str::to_owned),
        agent_id: c.agent_info().and_then(|a| a.id()).map(str::to_owned),
        agent_audio_quality_score: audio
            .map(|a| a.quality_score())
            .and_then(|s| s.to_string().parse().ok()),
        agent_audio_quality_issues: audio
            .map(|a| a.potential_quality_issues().to_vec())
            .unwrap_or_default(),
        last_update: c
            .last_update_timestamp()
            .map(|t| t.secs() * 1000 + i64::from(t.subsec_nanos() / 1_000_000)),
        origin: "DescribeContact".into(),
    }
}
