//! Deciding who disconnected, from a finished contact record.
//!
//! The facts every rule looks at are computed once ([`Facts`]); the rules
//! are tried in the order of [`LADDER`], and the first that decides wins.
//! The order follows the evidence ladder of `ccp-log-format.md` §3.6 (the
//! call never connecting, the agent's own request, the first softphone
//! transition out of `TalkingState` (the Knowledge Center rule), snapshots
//! and contact events, and finally "undecided"), with one deliberate
//! change: an unrecovered connectivity loss is tried before the Knowledge
//! Center rule, because a `bye` that follows lost media is the end of a
//! broken call, not a choice (§1.6, §3.4). Each rule names the README rule
//! it implements and the fixtures that exercise it. Bare `§x.y` references
//! in this crate are to `docs/ccp-log-format.md`.

use crate::Reason;
use crate::calls::{Contact, Ev, Exit};
use crate::document::{Confidence, DisconnectedBy};
use crate::recognize::Trouble;
use crate::time::Millis;

/// Log layers merge about 1 s apart (ccp-log-format.md §2.6): allow for it when comparing
/// times from different layers.
const LAYER_SKEW_MS: Millis = 2_000;

pub struct Verdict {
    pub reason: Reason,
    pub confidence: Confidence,
    pub evidence: Vec<Ev>,
    /// When the conversation began; none for a call that never connected.
    pub connected_at: Option<Millis>,
    pub ended_at: Option<Millis>,
}

/// Facts about the whole log that change how much a silence means.
pub struct LogFacts {
    /// Requests are logged (`Sending API_REQUEST` or the worker's
    /// `AWSClient` lines, ccp-log-format.md §3.3), so a missing `destroyConnection` is
    /// telling.
    pub api_lines: bool,
    /// `Sending API_REQUEST` lines with params are logged: they name the
    /// leg, and the worker's lines only repeat them.
    pub api_params_lines: bool,
}

/// A verdict citing `evidence`, in log order and without repeats.
fn verdict(reason: Reason, confidence: Confidence, evidence: Vec<&Ev>) -> Verdict {
    let mut evidence: Vec<Ev> = evidence.into_iter().cloned().collect();
    evidence.sort_by_key(|e| e.index);
    evidence.dedup_by_key(|e| e.index);
    Verdict {
        reason,
        confidence,
        evidence,
        connected_at: None,
        ended_at: None,
    }
}

/// `high` when a second, independent kind of evidence agrees, else `medium`.
fn corroborated(second_kind_agrees: bool) -> Confidence {
    if second_kind_agrees {
        Confidence::High
    } else {
        Confidence::Medium
    }
}

/// The first transition out of `TalkingState` of the RTC machine that
/// speaks for the call, with the entry that completed it.
type RtcExit<'a> = (Exit, &'a Ev, Option<&'a Ev>);

/// Which of the agent's and the customer's legs the server dropped first,
/// by the snapshots (ccp-log-format.md §3.2, §3.6 step 3).
#[derive(Clone, Copy)]
enum LegOrder<'a> {
    /// The agent's leg; the snapshot(s) that show it.
    AgentFirst(&'a Ev, &'a Ev),
    /// The customer's leg: a snapshot with it gone while the agent's was up,
    /// or both down with the customer's timestamp earlier.
    FarFirst(&'a Ev, &'a Ev),
    /// Both down at the same server instant.
    Tie(&'a Ev),
    Unknown,
}

/// What every rule may look at, computed once per contact.
struct Facts<'a> {
    c: &'a Contact,
    log: &'a LogFacts,
    /// SIGNALING when it talked, else the V2 CallSession, else SESSION.
    exit: Option<RtcExit<'a>>,
    /// The best known end of the call.
    end: Option<&'a Ev>,
    /// A snapshot or contact event showing the contact `connected`.
    conversation: Option<&'a Ev>,
    /// The agent's `destroyConnection` on its own leg (or naming no leg),
    /// early enough to have caused the end: before the server's `bye` when
    /// one came first (§1.6), else up to the end (allowing for layer skew).
    own_destroy: Option<&'a Ev>,
    /// Whether `own_destroy` names the agent's connection, not only a
    /// method (the worker's line, or a request without params).
    own_destroy_named: bool,
    /// The agent's `destroyConnection` on the customer's leg, as early.
    customer_destroy: Option<&'a Ev>,
    order: LegOrder<'a>,
    /// The agent's hang-up would have been a logged request: the log
    /// records requests and the call is a softphone call (a deskphone
    /// handset hang-up sends none, §3.5).
    silence_means: bool,
}

impl<'a> Facts<'a> {
    fn of(c: &'a Contact, log: &'a LogFacts) -> Facts<'a> {
        let exit = [&c.signaling, &c.call_session, &c.session]
            .into_iter()
            .find_map(|t| t.exit.as_ref().map(|(x, e)| (*x, e, t.exit_done.as_ref())));
        let end = c.end();
        let latest_ok = match exit {
            Some((Exit::LocalHangup, e, _)) => Some(e.time),
            _ => end.map(|e| e.time + LAYER_SKEW_MS),
        };
        let in_time = |e: &Ev| latest_ok.is_none_or(|t| e.time <= t);
        let own = c
            .api
            .destroys
            .iter()
            .filter(|(conn, _)| is_own_leg(c, conn.as_deref()))
            .find(|(_, e)| in_time(e));
        // The worker's line repeats a request the CCP side logs with params
        // when that side logs at all (2023+, §3.3).
        let worker = (!log.api_params_lines)
            .then(|| c.api.worker_destroys.iter().find(|e| in_time(e)))
            .flatten();
        let customer_destroy = c
            .api
            .destroys
            .iter()
            .filter(|(conn, _)| conn.as_deref().is_some_and(|k| c.is_customer_leg(k)))
            .map(|(_, e)| e)
            .find(|e| in_time(e));
        Facts {
            c,
            log,
            exit,
            end,
            conversation: c.snap.connected.as_ref().or(c.events.connected.as_ref()),
            own_destroy: own.map(|(_, e)| e).or(worker),
            own_destroy_named: own.is_some_and(|(conn, _)| conn.is_some()),
            customer_destroy,
            order: leg_order(c),
            silence_means: log.api_lines && c.softphone,
        }
    }

    fn exit_ev(&self) -> Option<&'a Ev> {
        self.exit.map(|(_, e, _)| e)
    }

    fn ended(&self) -> Option<&'a Ev> {
        self.c.snap.ended.as_ref().or(self.c.events.ended.as_ref())
    }
}

fn leg_order(c: &Contact) -> LegOrder<'_> {
    if let Some(gone) = &c.snap.far_end_gone_first {
        return LegOrder::FarFirst(gone, gone);
    }
    // The agent's leg gone while the customer (or another party) was still
    // connected: a survey flow, a transfer, the agent leaving (§3.5).
    if let Some(stay) = &c.snap.others_stayed {
        return LegOrder::AgentFirst(stay, stay);
    }
    match (&c.snap.agent_down, &c.snap.customer_down) {
        (Some(a), Some(k)) if k.at < a.at => LegOrder::FarFirst(&k.ev, &a.ev),
        (Some(a), Some(k)) if a.at < k.at => LegOrder::AgentFirst(&a.ev, &k.ev),
        (Some(a), Some(_)) => LegOrder::Tie(&a.ev),
        _ => LegOrder::Unknown,
    }
}

type Rule = fn(&Facts<'_>) -> Option<Verdict>;

/// The rules in the order they are tried; the README's "How it decides"
/// lists them in the same order.
const LADDER: [(&str, Rule); 9] = [
    ("never_connected", never_connected),
    ("customer_not_answered", customer_not_answered),
    ("setup_failed", setup_failed),
    ("agents_end_call", agents_end_call),
    ("transfer", transfer),
    ("network", network),
    ("knowledge_center", knowledge_center),
    ("snapshots_only", snapshots_only),
    ("undecided", undecided),
];

pub fn decide(c: &Contact, log: &LogFacts) -> Verdict {
    let facts = Facts::of(c, log);
    let mut v = LADDER
        .iter()
        .find_map(|(_, rule)| rule(&facts))
        .expect("the last rule always decides");
    if v.reason.verdict() != DisconnectedBy::NotConnected {
        v.connected_at = connected_at(&facts);
    }
    v.ended_at = ended_at(&facts);
    v
}

/// When the conversation began. For a call that began before the log, the
/// agent leg's `state.timestamp` in the first snapshot (on the log's clock);
/// else the first snapshot or contact event showing the contact
/// `connected`. The softphone entering `TalkingState` counts only when no
/// snapshot names the contact: the session talks while the call rings
/// (ccp-log-format.md §1.6, §3.5).
fn connected_at(f: &Facts<'_>) -> Option<Millis> {
    let c = f.c;
    if c.started_before_log == Some(true)
        && let Some(t) = c.snap.first_agent_connected
    {
        return Some(t);
    }
    [c.snap.connected.as_ref(), c.events.connected.as_ref()]
        .into_iter()
        .flatten()
        .map(|e| e.time)
        .min()
        .or_else(|| {
            (!c.snap.seen)
                .then(|| c.talking_ev().map(|e| e.time))
                .flatten()
        })
}

/// When the call ended: the first of the agent's and the customer's legs to
/// go, by the connections' `state.timestamp` (on the log's clock), where a
/// snapshot carries them; a snapshot's arrival can be late after an outage
/// (ccp-log-format.md §3.2). Else the best known end.
fn ended_at(f: &Facts<'_>) -> Option<Millis> {
    let c = f.c;
    [c.snap.agent_down.as_ref(), c.snap.customer_down.as_ref()]
        .into_iter()
        .flatten()
        .map(|d| d.at)
        .min()
        .or(f.end.map(|e| e.time))
}

/// README rule 1, "Never connected": no snapshot or event shows the contact
/// `connected`, and the contact's own states say it was missed, rejected or
/// failed (§3.5). The softphone session starts while the call rings, so a
/// talking RTC session does not prove a conversation.
/// Fixtures: `missed_call_talking`, `rejected_call`, `call_not_found_404`,
/// `times_missed_talking_2022`.
fn never_connected(f: &Facts<'_>) -> Option<Verdict> {
    if f.conversation.is_some() {
        return None;
    }
    let c = f.c;
    let missed_state = c.snap.missed.as_ref();
    let agent_error = c.snap.agent_error_state.as_ref();
    let agent_missed = agent_error
        .filter(|(n, _)| n == "MissedCallAgent" || n == "MissedCall")
        .map(|(_, e)| e);
    let customer_side = agent_error
        .filter(|(n, _)| is_customer_side_error(n))
        .map(|(_, e)| e);

    if let Some(r) = c.snap.rejected.as_ref().or(c.api.reject.as_ref()) {
        let both = c.snap.rejected.is_some() && c.api.reject.is_some();
        let mut ev = vec![r];
        ev.extend(c.api.reject.as_ref());
        return Some(verdict(
            Reason::Rejected,
            corroborated(both || c.events.missed.is_some()),
            ev,
        ));
    }
    if let Some(e) = customer_side {
        return Some(verdict(
            Reason::OutboundNotAnswered,
            Confidence::High,
            vec![e],
        ));
    }
    let failed_early = c.snap.error.is_some()
        || c.events.error.is_some()
        || missed_state.is_some()
        || c.events.missed.is_some()
        || agent_error.is_some();
    // An RTC failure names the cause more precisely than the contact state.
    if failed_early && let Some(v) = rtc_setup_failure(c) {
        return Some(v);
    }
    if let Some(err) = c.snap.error.as_ref().or(c.events.error.as_ref()) {
        let kinds = [
            c.snap.error.is_some(),
            c.events.error.is_some(),
            agent_error.is_some(),
        ];
        let mut ev = vec![err];
        ev.extend(agent_error.map(|(_, e)| e));
        return Some(verdict(
            Reason::ContactError,
            corroborated(kinds.iter().filter(|k| **k).count() > 1),
            ev,
        ));
    }
    if let Some(m) = missed_state.or(c.events.missed.as_ref()).or(agent_missed) {
        let kinds = [
            missed_state.is_some(),
            c.events.missed.is_some(),
            agent_missed.is_some(),
        ];
        let mut ev = vec![m];
        ev.extend(c.events.missed.as_ref());
        ev.extend(agent_missed);
        return Some(verdict(
            Reason::Missed,
            corroborated(kinds.iter().filter(|k| **k).count() > 1),
            ev,
        ));
    }
    if let Some((_, e)) = agent_error
        && c.talk_start().is_none()
    {
        return Some(verdict(Reason::ContactError, Confidence::Medium, vec![e]));
    }
    None
}

/// Agent error states that name the customer's side of a dial-out: the
/// customer did not answer, was busy, or could not be reached (§3.2 enums,
/// §3.5 "Outbound", "Queued callback").
fn is_customer_side_error(name: &str) -> bool {
    matches!(
        name,
        "BadAddressCustomer"
            | "LineEngagedCustomer"
            | "FailedConnectCustomer"
            | "MissedCallCustomer"
    )
}

/// README rule 1, dial-out part: an outbound call or a queued callback
/// whose customer leg was still `connecting` when it ended, never
/// `connected` (§3.5 "Outbound", "Queued callback"). The agent's own leg
/// may well have connected (a callback connects the agent first).
/// Fixtures: `outbound_not_answered`, `callback_not_answered_2021`,
/// `callback_not_answered_2024`.
fn customer_not_answered(f: &Facts<'_>) -> Option<Verdict> {
    let c = f.c;
    let customer_error = c
        .snap
        .agent_error_state
        .as_ref()
        .filter(|(n, _)| is_customer_side_error(n))
        .map(|(_, e)| e);
    let dial_out = c.api.outbound
        || c.initiation.as_deref() == Some("OUTBOUND")
        || c.kind.as_deref() == Some("queue_callback")
        || customer_error.is_some();
    if !(dial_out && c.snap.customer_connected.is_none() && f.end.is_some()) {
        return None;
    }
    let connecting = c.snap.customer_connecting.as_ref()?;
    let mut ev = vec![connecting];
    ev.extend(f.own_destroy);
    ev.extend(customer_error);
    ev.extend(f.end);
    Some(verdict(
        Reason::OutboundNotAnswered,
        corroborated(f.own_destroy.is_some() || c.snap.ended.is_some() || customer_error.is_some()),
        ev,
    ))
}

/// README rule 1, set-up part: a softphone session that failed before
/// talking, with no conversation (§1.4, §3.4).
/// Fixtures: `setup_ice_timeout`, `call_not_found_404`.
fn setup_failed(f: &Facts<'_>) -> Option<Verdict> {
    if f.conversation.is_some() || f.c.talk_start().is_some() {
        return None;
    }
    rtc_setup_failure(f.c)
}

/// README rule 2, "The agent's own request": `destroyConnection` on the
/// agent's own leg (End call) or on the customer's (dropping the customer
/// ends a two-party call), before the end (§3.3, §3.6 step 1). The agent's leg
/// going while a third party stays is leaving a conference; the customer
/// alone staying (a survey flow after the agent ended) is still End call
/// (§3.5 "Transfers / conference").
/// Fixtures: `agent_end_call_api`, `conference_agent_left`,
/// `action_destroy_customer_leg_2024`, `action_destroy_customer_leg_pcm_2025`,
/// `action_survey_after_agent_2024`, `action_transfer_queue_2021`,
/// `agent_drops_customer_2023`,
/// `agent_drops_customer_v2_2026`, `norequest_local_hangup_awsclient_2022`.
fn agents_end_call(f: &Facts<'_>) -> Option<Verdict> {
    let c = f.c;
    if f.own_destroy.is_none()
        && let Some(d) = f.customer_destroy
    {
        let mut ev = vec![d];
        ev.extend(f.exit_ev());
        let agrees = match f.order {
            LegOrder::FarFirst(a, b) => {
                ev.extend([a, b]);
                true
            }
            _ => false,
        };
        return Some(verdict(Reason::AgentHangupApi, corroborated(agrees), ev));
    }
    let d = f.own_destroy?;
    let mut ev = vec![d];
    if let Some(stay) = &c.snap.others_stayed {
        ev.push(stay);
        if c.snap.third_party || c.api.add_party.is_some() {
            ev.extend(c.api.add_party.as_ref());
            let contradicted = matches!(f.exit, Some((Exit::LocalHangup | Exit::Failed, _, _)));
            return Some(verdict(
                Reason::AgentLeftConference,
                corroborated(f.own_destroy_named && !contradicted),
                ev,
            ));
        }
    }
    let agrees = match f.exit {
        Some((Exit::RemoteHangup | Exit::Idle | Exit::Disconnected, e, _)) => {
            ev.push(e);
            true
        }
        Some((_, e, _)) => {
            ev.push(e);
            false
        }
        None => {
            if let LegOrder::AgentFirst(a, _) = f.order {
                ev.push(a);
            }
            c.snap.ended.is_some()
                || c.events.ended.is_some()
                || matches!(f.order, LegOrder::AgentFirst(..))
        }
    };
    Some(verdict(Reason::AgentHangupApi, corroborated(agrees), ev))
}

/// README rule 3, "Transfer": a request adding a party
/// (`createAdditionalConnection`, quick connect, `transferContact`), then
/// the agent's leg ends while the customer stays connected (§3.3, §3.5).
/// The agent handed the call on, whatever the softphone's last message.
/// Fixtures: `transfer_quick_connect_2024`, `transfer_awsclient_2022`.
fn transfer(f: &Facts<'_>) -> Option<Verdict> {
    let c = f.c;
    let (add, stay) = (c.api.add_party.as_ref()?, c.snap.others_stayed.as_ref()?);
    let mut ev = vec![add, stay];
    ev.extend(f.exit_ev());
    // The server's `bye` read by the KC rule says "customer".
    let contradicted = matches!(f.exit, Some((Exit::LocalHangup | Exit::Failed, _, _)));
    Some(verdict(
        Reason::AgentLeftConference,
        corroborated(!contradicted),
        ev,
    ))
}

/// README rule 4, "Network": only a failure that is not recovered before the
/// end ends a call (ccp-log-format.md §1.6, §3.4). Signaling lost
/// (`PendingReconnectState => FailedState`) counts unless metrics show audio
/// still flowing after it; media lost (ICE) counts when neither an ICE
/// recovery nor audio in the metrics follows it before the end, however long
/// the far end then waits; a machine failing while talking counts.
/// Fixtures: `signaling_lost`, `ice_lost_network`,
/// `reconnect_recovered_then_customer`, `failure_media_lost_silence_2022`,
/// `failure_signaling_lost_audio_flows_2024`, `failure_media_lost_silence_2025`,
/// `media_lost_late_hangup_2020`, `media_lost_silent_metrics_2023`,
/// `ice_recovered_then_customer_2021`, `ice_lost_audio_resumes_2024`,
/// `signaling_lost_media_continues_2021`, `times_outage_end_2022`.
fn network(f: &Facts<'_>) -> Option<Verdict> {
    let c = f.c;
    let audio_after = |t: Millis| c.media.last_audio.is_some_and(|a| a > t + LAYER_SKEW_MS);
    if let Some(lost) = [&c.signaling, &c.call_session]
        .iter()
        .find_map(|t| t.reconnect_failed.as_ref())
        .filter(|lost| !audio_after(lost.time))
    {
        let mut ev = vec![lost];
        ev.extend(
            c.media
                .troubles
                .iter()
                .filter(|t| t.2.time <= lost.time)
                .map(|t| &t.2)
                .next_back(),
        );
        let confidence = corroborated(ev.len() > 1 || f.end.is_some_and(|e| e.index != lost.index));
        return Some(verdict(Reason::SignalingLost, confidence, ev));
    }
    if let Some((Exit::Failed, e, _)) = f.exit {
        return Some(verdict(
            Reason::FailedWhileTalking,
            Confidence::Medium,
            vec![e],
        ));
    }
    let (end, talk_start) = (f.end?, c.talk_start()?);
    let before_end = |e: &Ev| (e.time, e.index) < (end.time, end.index);
    let losses: Vec<&Ev> = c
        .media
        .troubles
        .iter()
        // Before the end: ICE also drops during a normal tear-down, right
        // after the hang-up.
        .filter(|(t, _, e)| t.is_connectivity_loss() && e.time >= talk_start && before_end(e))
        .map(|t| &t.2)
        .collect();
    let recovered_after =
        |t: Millis| audio_after(t) || c.media.ice_recovered.iter().any(|&r| r > t && r < end.time);
    // The first loss after which nothing recovered.
    let from = losses.iter().position(|l| !recovered_after(l.time))?;
    let unrecovered = &losses[from..];
    let first = unrecovered[0];
    let noted = first.with_note(
        format!(
            "no recovery before the end at {}: no ICE connected/completed line, no audio in the metrics",
            crate::time::format_iso8601(end.time)
        )
        .into(),
    );
    let mut ev: Vec<&Ev> = unrecovered[1..].to_vec();
    ev.push(end);
    // The metrics counting no packets after the loss are a second,
    // independent kind of evidence (§3.4); more ICE lines are not.
    let silent_after = c.media.last_silence.is_some_and(|s| s > first.time);
    let mut v = verdict(Reason::MediaLost, corroborated(silent_after), ev);
    v.evidence.insert(0, noted);
    v.evidence.sort_by_key(|e| e.index);
    Some(v)
}

/// README rule 5, "The Knowledge Center rule": `PendingRemoteHangupState`
/// is the CCP's own `bye`, `PendingLocalHangupState` the server's (§1.4,
/// §1.5). The CCP's `bye` follows a snapshot showing the contact ended
/// (§1.6), so it is the agent's only when nothing says otherwise: a
/// snapshot or the connections' timestamps showing the customer's leg gone
/// first make it the snapshot/bye race; no request in a log that records
/// them makes it the CCP's teardown, no softphone verdict at all. The server's `bye` is the customer's, with the
/// confidence lowered when the agent's leg went first (the customer may
/// still be connected): then, with no request log to clear the agent, the
/// agent's.
/// Fixtures: `kc_agent`, `kc_customer`, `snapshot_race_no_api`,
/// `snapshot_race_api_era`, `snapshot_race_contact_ended`,
/// `race_timestamps_both_down_2020`, `race_timestamps_both_down_2024`,
/// `race_mirror_agent_first_2021`, `race_mirror_agent_first_2024`,
/// `race_both_down_awsclient_2022`, `survey_after_agent_2020`,
/// `norequest_local_hangup_api_2023`, `norequest_local_hangup_awsclient_2022`,
/// `norequest_teardown_pcm_2025`.
fn knowledge_center(f: &Facts<'_>) -> Option<Verdict> {
    let c = f.c;
    let race_confidence = if f.silence_means {
        Confidence::Medium
    } else {
        Confidence::Low
    };
    match f.exit {
        Some((Exit::RemoteHangup, e, done)) => {
            match f.order {
                LegOrder::FarFirst(a, b)
                    if c.snap
                        .far_end_gone_first
                        .as_ref()
                        .is_none_or(|g| g.time <= e.time + LAYER_SKEW_MS) =>
                {
                    return Some(verdict(
                        Reason::RemoteHangupSnapshotRace,
                        race_confidence,
                        vec![a, b, e],
                    ));
                }
                LegOrder::AgentFirst(..) => {}
                _ if f.silence_means => {
                    // No End call in a log that would show it: the CCP's
                    // teardown after the contact ended (§1.6, §3.3), so no
                    // softphone verdict; with no leg order either, only the
                    // silence speaks (as in `snapshots_only`).
                    let mut ev = vec![e];
                    ev.extend(f.ended());
                    if let LegOrder::Tie(t) = f.order {
                        ev.push(t);
                    }
                    return Some(verdict(Reason::RemoteHangupSnapshot, Confidence::Low, ev));
                }
                _ => {}
            }
            let mut ev: Vec<&Ev> = vec![e];
            ev.extend(done);
            ev.extend(c.media.agent_disconnected_line.as_ref());
            let mut second_kind = c.media.agent_disconnected_line.is_some()
                || c.snap
                    .agent_error_state
                    .as_ref()
                    .is_some_and(|(n, _)| n == "AgentHungUp");
            let mut contradicted = false;
            match f.order {
                LegOrder::AgentFirst(a, b) => {
                    ev.extend([a, b]);
                    second_kind = true;
                }
                // The customer's leg gone first, but only shown after the
                // CCP's `bye`: it contradicts without explaining the `bye`.
                LegOrder::FarFirst(a, b) => {
                    ev.extend([a, b]);
                    contradicted = true;
                }
                _ => {}
            }
            // The agent's leg first, yet no request where one would show.
            let confidence = if f.silence_means || contradicted {
                Confidence::Low
            } else {
                corroborated(second_kind)
            };
            Some(verdict(Reason::AgentHangup, confidence, ev))
        }
        Some((Exit::LocalHangup, e, done)) => {
            let mut ev: Vec<&Ev> = vec![e];
            ev.extend(done);
            match f.order {
                LegOrder::AgentFirst(a, b) => {
                    // The race the other way (§1.6): the server's `bye`
                    // followed the agent's leg going, and the customer may
                    // even still be connected (§3.5). In a log that records
                    // requests and shows none, the agent did not end it.
                    ev.extend([a, b]);
                    let reason = if f.silence_means {
                        Reason::RemoteHangup
                    } else {
                        Reason::AgentHangup
                    };
                    Some(verdict(reason, Confidence::Low, ev))
                }
                LegOrder::FarFirst(a, b) => {
                    ev.extend([a, b]);
                    Some(verdict(Reason::RemoteHangup, Confidence::High, ev))
                }
                _ => {
                    let ended = f.log.api_lines && f.ended().is_some();
                    Some(verdict(Reason::RemoteHangup, corroborated(ended), ev))
                }
            }
        }
        _ => None,
    }
}

/// README rule 6, "No softphone verdict": persistent connection
/// (`TalkingState => IdleState`), the V2 path, or a deskphone (§1.5, §1.6,
/// §3.5): the agent state `AgentHungUp`, or the snapshots' leg order, or, in
/// a softphone log that records requests, the contact ending with none.
/// A deskphone's silence proves nothing: its handset sends no request.
/// Fixtures: `deskphone_agent`, `persistent_customer`, `v2_callsession`,
/// `deskphone_timestamps_agent_2022`, `deskphone_nothing_decides_2024`,
/// `deskphone_customer_first_2023`, `deskphone_handset_awsclient_2021`,
/// `persistent_timestamps_customer_2025`.
fn snapshots_only(f: &Facts<'_>) -> Option<Verdict> {
    let c = f.c;
    if let Some((name, e)) = &c.snap.agent_error_state
        && name == "AgentHungUp"
    {
        return Some(verdict(
            Reason::AgentHungUpState,
            Confidence::Medium,
            vec![e],
        ));
    }
    match f.order {
        LegOrder::FarFirst(a, b) => {
            let mut ev = vec![a, b];
            ev.extend(f.exit_ev());
            return Some(verdict(
                Reason::RemoteHangupSnapshot,
                corroborated(f.silence_means),
                ev,
            ));
        }
        LegOrder::AgentFirst(a, b) => {
            let mut ev = vec![a, b];
            ev.extend(f.exit_ev());
            // No request where the agent's End call would show one.
            let confidence = if f.silence_means {
                Confidence::Low
            } else {
                Confidence::Medium
            };
            return Some(verdict(Reason::AgentHangup, confidence, ev));
        }
        _ => {}
    }
    let ended = f.ended()?;
    if f.silence_means && (f.conversation.is_some() || f.exit.is_some()) {
        let mut ev = vec![ended];
        ev.extend(f.exit_ev());
        return Some(verdict(Reason::RemoteHangupSnapshot, Confidence::Low, ev));
    }
    None
}

/// README rule 7: nothing decides. A persistent-connection end with nothing
/// to corroborate it, a call still talking when the log ends, or an end the
/// log does not explain.
/// Fixtures: `persistent_ambiguous`, `log_ends_mid_call`, `deskphone_unknown`.
fn undecided(f: &Facts<'_>) -> Option<Verdict> {
    let c = f.c;
    let mut ev: Vec<&Ev> = f.exit_ev().into_iter().collect();
    if matches!(f.exit, Some((Exit::Idle, _, _))) {
        return Some(verdict(Reason::PersistentAmbiguous, Confidence::Low, ev));
    }
    if f.end.is_none() && f.exit.is_none() {
        ev.extend(c.talking_ev().or(f.conversation));
        return Some(verdict(Reason::LogEndsMidCall, Confidence::Low, ev));
    }
    ev.extend(f.ended().or(f.end));
    Some(verdict(Reason::NoEndEvidence, Confidence::Low, ev))
}

/// Whether a destroyConnection names the agent's own leg. With no connection
/// id known either way, End call (the common case) is assumed.
fn is_own_leg(c: &Contact, conn: Option<&str>) -> bool {
    match (conn, c.agent_connection.as_deref()) {
        // A callback's agent connection id can change when it connects:
        // any leg a snapshot showed as the agent's counts.
        (Some(conn), Some(agent)) => conn == agent || c.is_agent_leg(conn),
        _ => true,
    }
}

/// An RTC session that failed before talking, named by its cause: 404
/// `CallNotFound`, or another set-up failure line (§1.4, §3.4).
fn rtc_setup_failure(c: &Contact) -> Option<Verdict> {
    let failed = [&c.signaling, &c.session, &c.call_session]
        .into_iter()
        .find_map(|t| t.failed_before_talking.as_ref());
    let not_found = c
        .media
        .troubles
        .iter()
        .find(|t| t.0 == Trouble::CallNotFound)
        .map(|t| &t.2);
    let setup = c
        .media
        .troubles
        .iter()
        .find(|t| t.0.is_setup_failure())
        .map(|t| &t.2);
    if failed.is_none() && not_found.is_none() && setup.is_none() {
        return None;
    }
    let (reason, cause) = match not_found {
        Some(nf) => (Reason::CallNotFound, Some(nf)),
        None => (Reason::SetupFailed, setup),
    };
    let mut ev: Vec<&Ev> = failed.into_iter().collect();
    ev.extend(cause);
    Some(verdict(
        reason,
        corroborated(failed.is_some() && cause.is_some()),
        ev,
    ))
}
