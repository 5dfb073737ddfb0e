//! Layouts: which extra entries a generated log carries around the same call
//! scenarios.
//!
//! Real logs hold more than the generator's original (`current`) layout
//! (`ccp-log-format.md` §2.6, §3.2–§3.4): the SharedWorker's AWS client logs
//! every `getAgentSnapshot` response with the snapshot as its object, just
//! before `GET_AGENT_SNAPSHOT succeeded.`, so two large entries of different
//! kinds alternate; configuration polls (`getAgentStates`,
//! `getAgentConfiguration`, `getRoutingProfileQueues`) every ~30 s with their
//! responses; softphone metrics whose numbers change every time; and, from
//! 2025 on, softphone lines nested through the Peer Connection Manager's
//! logger (§1.1). A layout only adds entries or rewraps softphone lines in
//! ways the rules read the same, so a call's label is its scenario's label
//! whatever the layout.
//!
//! The extras draw from their own random stream: the calls, their timing and
//! their labels are those of the `current` layout with the same seed (until
//! the size limit, which the extras reach sooner), and `current` writes
//! exactly the bytes it always did.

use std::io::Write;

use ccp_disconnect_core::time::format_iso8601;

use crate::{Gen, J, Layer, QUEUE_ARN, Rng, SampleConfig};

/// Which extra entries are interleaved around the calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// The generator's original layout: snapshots, heartbeats, API lines,
    /// softphone lines, metrics every ~30 s while talking.
    #[default]
    Current,
    /// `current` plus the AWS client's `getAgentSnapshot` response (the
    /// same snapshot) before every `GET_AGENT_SNAPSHOT succeeded.`, and
    /// configuration polls every ~30 s.
    Interleaved,
    /// `interleaved` plus softphone metrics about twice a second while talking.
    Metrics,
    /// `interleaved` with the 2025+ softphone: every RTC line nested through
    /// the Peer Connection Manager's logger, and its periodic
    /// empty-id lines.
    Persistent,
}

impl Layout {
    pub const ALL: [Layout; 4] = [
        Layout::Current,
        Layout::Interleaved,
        Layout::Metrics,
        Layout::Persistent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Current => "current",
            Layout::Interleaved => "interleaved",
            Layout::Metrics => "metrics",
            Layout::Persistent => "persistent",
        }
    }

    pub fn parse(name: &str) -> Option<Layout> {
        Layout::ALL.into_iter().find(|l| l.as_str() == name)
    }

    fn interleaves_responses(self) -> bool {
        self != Layout::Current
    }
}

impl SampleConfig {
    /// The same configuration with another layout.
    pub fn with_layout(mut self, layout: Layout) -> SampleConfig {
        self.layout = layout;
        self
    }
}

/// The layout's own state: its random stream and schedule.
pub(crate) struct Extras {
    layout: Layout,
    rng: Rng,
    next_poll: Option<i64>,
}

impl Extras {
    pub(crate) fn new(config: &SampleConfig) -> Extras {
        Extras {
            layout: config.layout,
            rng: Rng::new(config.seed ^ 0x6c61_796f_7574_2121),
            next_poll: None,
        }
    }
}

/// A deep copy (the tree is built once and written twice).
fn dup(j: &J) -> J {
    match j {
        J::Null => J::Null,
        J::Bool(b) => J::Bool(*b),
        J::Int(n) => J::Int(*n),
        J::Str(s) => J::Str(s.clone()),
        J::S(s) => J::S(s),
        J::Arr(items) => J::Arr(items.iter().map(dup).collect()),
        J::Obj(fields) => J::Obj(fields.iter().map(|(k, v)| (*k, dup(v))).collect()),
    }
}

const INSTANCE: &str =
    "arn:aws:connect:us-east-1:111122223333:instance/5f3e0c2a-9b7d-4c41-8e2f-6a1d3b9c7e55";

impl<W: Write> Gen<W> {
    fn worker(&mut self, t: i64, text: String, objects: Vec<J>) {
        self.push(t, Layer::Worker, "TRACE", "ccp", text, objects);
    }

    /// Called with every snapshot's object just before its
    /// `GET_AGENT_SNAPSHOT succeeded.` entry is queued.
    pub(crate) fn layout_snapshot(&mut self, t: i64, obj: &J) {
        if !self.extras.layout.interleaves_responses() {
            return;
        }
        let called = t - self.extras.rng.range(80, 250);
        let answered = t - self.extras.rng.range(1, 4);
        self.worker(
            called,
            "AWSClient: --> Calling operation 'getAgentSnapshot'".into(),
            Vec::new(),
        );
        self.worker(
            answered,
            "AWSClient: <-- Operation 'getAgentSnapshot' succeeded.".into(),
            vec![dup(obj)],
        );
    }

    /// Called from the periodic entries up to `until`.
    pub(crate) fn layout_periodic(&mut self, from: i64, until: i64) {
        if !self.extras.layout.interleaves_responses() {
            return;
        }
        let mut next = *self
            .extras
            .next_poll
            .get_or_insert_with(|| from + self.extras.rng.range(1_000, 30_000));
        while next < until {
            self.config_poll(next);
            if self.extras.layout == Layout::Persistent {
                let t = next + self.extras.rng.range(100, 900);
                self.softphone(
                    t,
                    "LOG",
                    "  RtcPeerConnectionManager Persistent peer connection is idle, keeping it open"
                        .into(),
                );
            }
            next += self.extras.rng.range(29_000, 31_000);
        }
        self.extras.next_poll = Some(next);
    }

    fn config_poll(&mut self, t: i64) {
        let states = J::Arr(
            [
                ("Available", "routable"),
                ("Offline", "offline"),
                ("Lunch", "not_routable"),
                ("Training", "not_routable"),
                ("Meeting", "not_routable"),
            ]
            .iter()
            .enumerate()
            .map(|(i, (_, kind))| {
                J::Obj(vec![
                    (
                        "agentStateARN",
                        J::Str(format!(
                            "{INSTANCE}/agent-state/{i:08}-0000-4000-8000-00000000000{i}"
                        )),
                    ),
                    ("type", J::S(kind)),
                    ("name", J::S("[redacted]")),
                    ("startTimestamp", J::Null),
                ])
            })
            .collect(),
        );
        let queue = |i: usize| {
            J::Obj(vec![
                ("queueARN", J::Str(format!("{QUEUE_ARN}{i}"))),
                ("queueId", J::Str(format!("q-{i:04}"))),
                ("name", J::S("[redacted]")),
                ("channels", J::Arr(vec![J::S("VOICE"), J::S("CHAT")])),
            ])
        };
        let queues = J::Arr((0..6).map(queue).collect());
        let configuration = J::Obj(vec![(
            "configuration",
            J::Obj(vec![
                ("agentPreferences", J::Obj(vec![("locale", J::S("en_US"))])),
                ("dialableCountries", J::Arr(vec![J::S("US"), J::S("CA")])),
                ("extension", J::Null),
                ("name", J::S("[redacted]")),
                (
                    "permissions",
                    J::Arr(
                        [
                            "outboundCall",
                            "voiceId",
                            "transferToQueue",
                            "quickConnects",
                        ]
                        .into_iter()
                        .map(J::S)
                        .collect(),
                    ),
                ),
                (
                    "routingProfile",
                    J::Obj(vec![
                        (
                            "channelConcurrencyMap",
                            J::Obj(vec![
                                ("CHAT", J::Int(0)),
                                ("TASK", J::Int(0)),
                                ("VOICE", J::Int(1)),
                            ]),
                        ),
                        ("defaultOutboundQueue", queue(0)),
                        ("name", J::S("[redacted]")),
                        ("queues", J::Arr((0..3).map(queue).collect())),
                        (
                            "routingProfileARN",
                            J::Str(format!("{INSTANCE}/routing-profile/rp-basic")),
                        ),
                        ("routingProfileId", J::S("rp-basic")),
                    ]),
                ),
                ("softphoneAutoAccept", J::Bool(false)),
                ("softphoneEnabled", J::Bool(true)),
                ("username", J::S("[redacted]")),
            ]),
        )]);
        let polls = [
            (
                "getAgentStates",
                J::Obj(vec![("states", states), ("nextToken", J::Null)]),
            ),
            ("getAgentConfiguration", configuration),
            (
                "getRoutingProfileQueues",
                J::Obj(vec![("queues", queues), ("nextToken", J::Null)]),
            ),
        ];
        let mut at = t;
        for (method, response) in polls {
            let sent = at + self.extras.rng.range(1, 20);
            let done = sent + self.extras.rng.range(60, 240);
            at = done;
            self.worker(
                sent,
                format!("AWSClient: --> Calling operation '{method}'"),
                Vec::new(),
            );
            self.worker(
                done,
                format!("AWSClient: <-- Operation '{method}' succeeded."),
                vec![response],
            );
        }
    }

    /// Called after every regular metrics entry at `m` while the call talks
    /// (until `quiet_from`).
    pub(crate) fn layout_metrics(&mut self, m: i64, quiet_from: i64) {
        if self.extras.layout != Layout::Metrics {
            return;
        }
        let mut t = m + self.extras.rng.range(550, 650);
        // Stop short of the next regular entry (~30 s later).
        while t < quiet_from && t < m + 28_000 {
            let text = self.extra_metrics_text(t);
            self.softphone(t, "INFO", text);
            t += self.extras.rng.range(550, 650);
        }
    }

    /// A lossless metrics line, in the regular lines' format.
    fn extra_metrics_text(&self, t: i64) -> String {
        let r = &self.extras.rng;
        let mut samples = Vec::new();
        for s in 0..3 {
            let ts = format_iso8601(t - 3_012 + s * 1_000);
            for stream in ["audio_input", "audio_output"] {
                samples.push(format!(
                    "{{\"softphoneStreamType\":\"{stream}\",\"timestamp\":\"{ts}\",\"packetsLost\":0,\"packetsCount\":50,\"audioLevel\":{},\"jitterBufferMillis\":{},\"roundTripTimeMillis\":{}}}",
                    r.range(0, 3000),
                    r.range(10, 60),
                    r.range(20, 90),
                ));
            }
        }
        format!("sendSoftphoneMetrics success[{}]", samples.join(","))
    }

    /// The text of an RTC line (`machine` is its category).
    pub(crate) fn layout_rtc(&self, cid: &str, machine: &str, msg: &str) -> String {
        match self.extras.layout {
            Layout::Persistent => format!(" {cid} RtcPeerConnectionManager {cid} {machine} {msg}"),
            _ => format!(" {cid} {machine} {msg}"),
        }
    }
}
