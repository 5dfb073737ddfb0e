//! Deciding who disconnected, from a finished contact record.
//!
//! The facts every rule looks at are computed once ([`Facts`]); the rules
//! are tried in the order of [`LADDER`], and the first that decides wins.
//! The order is the evidence ladder of the format notes (spec §3.6): the
//! call never connecting, the agent's own request, connectivity loss, the
//! first softphone transition out of `TalkingState` (the Knowledge Center
//! rule), snapshots and contact events, and finally "undecided". Each rule
//! names the README rule it implements and the fixtures that exercise it.

use crate::Reason;
use crate::calls::{Contact, Ev, Exit};
use crate::document::{Confidence, DisconnectedBy};
use crate::recognize::Trouble;
use crate::time::Millis;

/// Connectivity loss this close before the end is taken as its cause.
const MEDIA_LOSS_WINDOW_MS: Millis = 20_000;
/// Log layers merge about 1 s apart (spec §2.6): allow for it when comparing
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
    /// API request lines exist, so a missing `destroyConnection` is telling.
    pub api_lines: bool,
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
    /// The agent's `destroyConnection` on its own leg, early enough to have
    /// caused the end: before the server's `bye` when one came first (§1.6),
    /// else up to the end (allowing for layer skew).
    own_destroy: Option<&'a Ev>,
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
        let own_destroy = c
            .api
            .destroys
            .iter()
            .filter(|(conn, _)| is_own_leg(c, conn.as_deref()))
            .map(|(_, e)| e)
            .find(|e| latest_ok.is_none_or(|t| e.time <= t));
        Facts {
            c,
            log,
            exit,
            end,
            conversation: c.snap.connected.as_ref().or(c.events.connected.as_ref()),
            own_destroy,
        }
    }

    fn exit_ev(&self) -> Option<&'a Ev> {
        self.exit.map(|(_, e, _)| e)
    }
}

type Rule = fn(&Facts<'_>) -> Option<Verdict>;

/// The rules in the order they are tried; the README's "How it decides"
/// lists them in the same order.
const LADDER: [(&str, Rule); 8] = [
    ("never_connected", never_connected),
    ("outbound_not_answered", outbound_not_answered),
    ("setup_failed", setup_failed),
    ("agents_end_call", agents_end_call),
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
    v.ended_at = facts.end.map(|e| e.time);
    v
}

/// When the conversation began: the first snapshot or contact event showing
/// the contact `connected`, else the softphone entering `TalkingState`.
fn connected_at(f: &Facts<'_>) -> Option<Millis> {
    let c = f.c;
    [c.snap.connected.as_ref(), c.events.connected.as_ref()]
        .into_iter()
        .flatten()
        .map(|e| e.time)
        .min()
        .or_else(|| c.talking_ev().map(|e| e.time))
}

/// README rule 1, "Never connected": no snapshot or event shows the contact
/// `connected`, and the contact's own states say it was missed, rejected or
/// failed (§3.5). The softphone session starts while the call rings, so a
/// talking RTC session does not prove a conversation.
/// Fixtures: `missed_call_talking`, `rejected_call`, `call_not_found_404`.
fn never_connected(f: &Facts<'_>) -> Option<Verdict> {
    if f.conversation.is_some() {
        return None;
    }
    let c = f.c;
    let missed_state = c.snap.missed.as_ref();
    let agent_error = c.snap.agent_error_state.as_ref();
    let agent_missed = agent_error
        .filter(|(n, _)| n.starts_with("MissedCall"))
        .map(|(_, e)| e);
    let customer_side = agent_error
        .filter(|(n, _)| {
            matches!(
                n.as_str(),
                "BadAddressCustomer" | "LineEngagedCustomer" | "FailedConnectCustomer"
            )
        })
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

/// README rule 1, outbound part: an outbound call whose customer leg was
/// still `connecting` when it ended (§3.5 "Outbound").
/// Fixture: `outbound_not_answered`.
fn outbound_not_answered(f: &Facts<'_>) -> Option<Verdict> {
    let c = f.c;
    let outbound = c.api.outbound || c.initiation.as_deref() == Some("OUTBOUND");
    if !(outbound && c.snap.customer_connected.is_none() && f.end.is_some()) {
        return None;
    }
    let connecting = c.snap.customer_connecting.as_ref()?;
    let mut ev = vec![connecting];
    ev.extend(f.own_destroy);
    ev.extend(f.end);
    Some(verdict(
        Reason::OutboundNotAnswered,
        corroborated(f.own_destroy.is_some() || c.snap.ended.is_some()),
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

/// README rule 2, "The agent's own End call": `destroyConnection` on the
/// agent's own leg (§3.3, §3.6.1); another party staying connected makes it
/// leaving a conference (§3.5 "Transfers / conference").
/// Fixtures: `agent_end_call_api`, `conference_agent_left`.
fn agents_end_call(f: &Facts<'_>) -> Option<Verdict> {
    let d = f.own_destroy?;
    let mut ev = vec![d];
    if let Some(stay) = &f.c.snap.others_stayed {
        ev.push(stay);
        return Some(verdict(Reason::AgentLeftConference, Confidence::High, ev));
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
        None => f.c.snap.ended.is_some() || f.c.events.ended.is_some(),
    };
    Some(verdict(Reason::AgentHangupApi, corroborated(agrees), ev))
}

/// README rule 3, "Network": signaling lost and not recovered, a failure
/// while talking, or media lost shortly before the end (§1.4, §1.6, §3.4).
/// Fixtures: `signaling_lost`, `ice_lost_network`,
/// `reconnect_recovered_then_customer`.
fn network(f: &Facts<'_>) -> Option<Verdict> {
    let c = f.c;
    if let Some(lost) = [&c.signaling, &c.call_session]
        .iter()
        .find_map(|t| t.reconnect_failed.as_ref())
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
    let losses: Vec<&Ev> = c
        .media
        .troubles
        .iter()
        .filter(|(t, _, e)| {
            // At or before the end: ICE also drops during a normal
            // tear-down, right after the hang-up.
            t.is_connectivity_loss()
                && e.time >= talk_start
                && e.time <= end.time
                && e.index != end.index
                && end.time - e.time <= MEDIA_LOSS_WINDOW_MS
        })
        .map(|t| &t.2)
        .collect();
    let first = losses.first()?;
    let recovered = c
        .media
        .ice_recovered
        .iter()
        .any(|&t| t > first.time && t < end.time);
    if recovered {
        return None;
    }
    let mut ev = losses.clone();
    ev.push(end);
    Some(verdict(
        Reason::MediaLost,
        corroborated(losses.len() > 1),
        ev,
    ))
}

/// README rule 4, "The Knowledge Center rule": `PendingRemoteHangupState`
/// is the CCP's own `bye`, `PendingLocalHangupState` the server's (§1.4,
/// §1.5), except for the snapshot/bye race (§1.6).
/// Fixtures: `kc_agent`, `kc_customer`, `snapshot_race_no_api`,
/// `snapshot_race_api_era`, `snapshot_race_contact_ended`.
fn knowledge_center(f: &Facts<'_>) -> Option<Verdict> {
    let c = f.c;
    match f.exit {
        Some((Exit::RemoteHangup, e, done)) => {
            // The snapshot/bye race (§1.6): the CCP tore the call down
            // because a snapshot showed the far end gone, not because the
            // agent pressed End call.
            if let Some(gone) = c
                .snap
                .far_end_gone_first
                .as_ref()
                .filter(|g| g.time <= e.time + LAYER_SKEW_MS)
            {
                let confidence = if f.log.api_lines {
                    Confidence::Medium
                } else {
                    Confidence::Low
                };
                return Some(verdict(
                    Reason::RemoteHangupSnapshotRace,
                    confidence,
                    vec![gone, e],
                ));
            }
            let mut ev: Vec<&Ev> = vec![e];
            ev.extend(done);
            let second_kind = c.media.agent_disconnected_line.is_some()
                || c.snap
                    .agent_error_state
                    .as_ref()
                    .is_some_and(|(n, _)| n == "AgentHungUp");
            ev.extend(c.media.agent_disconnected_line.as_ref());
            Some(verdict(Reason::AgentHangup, corroborated(second_kind), ev))
        }
        Some((Exit::LocalHangup, e, done)) => {
            let mut ev: Vec<&Ev> = vec![e];
            ev.extend(done);
            let snapshot_agrees = c.snap.far_end_gone_first.is_some()
                || (f.log.api_lines && (c.snap.ended.is_some() || c.events.ended.is_some()));
            ev.extend(c.snap.far_end_gone_first.as_ref());
            Some(verdict(
                Reason::RemoteHangup,
                corroborated(snapshot_agrees),
                ev,
            ))
        }
        _ => None,
    }
}

/// README rule 5, "No softphone verdict": persistent connection
/// (`TalkingState => IdleState`), the V2 path, or a deskphone (§1.5, §1.6,
/// §3.5): the agent state `AgentHungUp`, or snapshots showing the far end
/// gone first, or the contact ending with no agent request.
/// Fixtures: `deskphone_agent`, `persistent_customer`, `v2_callsession`.
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
    if let Some(gone) = &c.snap.far_end_gone_first {
        let mut ev = vec![gone];
        ev.extend(f.exit_ev());
        return Some(verdict(
            Reason::RemoteHangupSnapshot,
            corroborated(f.log.api_lines),
            ev,
        ));
    }
    let ended = c.snap.ended.as_ref().or(c.events.ended.as_ref())?;
    if f.log.api_lines && (f.conversation.is_some() || f.exit.is_some()) {
        let mut ev = vec![ended];
        ev.extend(f.exit_ev());
        return Some(verdict(Reason::RemoteHangupSnapshot, Confidence::Low, ev));
    }
    None
}

/// README rule 6: nothing decides. A persistent-connection end with nothing
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
    let ended = c.snap.ended.as_ref().or(c.events.ended.as_ref());
    ev.extend(ended.or(f.end));
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
