//! Deciding who disconnected, from a finished contact record.
//!
//! The evidence ladder (spec §3.6): the agent's own API request, then the
//! first softphone transition out of `TalkingState` (the Knowledge Center
//! rule), then snapshots and contact events, then failure lines. Each rule
//! below names the spec section it rests on.

use crate::Reason;
use crate::calls::{Contact, Ev, Exit};
use crate::document::Confidence;
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
}

/// Facts about the whole log that change how much a silence means.
pub struct LogFacts {
    /// API request lines exist, so a missing `destroyConnection` is telling.
    pub api_lines: bool,
}

fn v(reason: Reason, confidence: Confidence, evidence: Vec<&Ev>) -> Verdict {
    let mut evidence: Vec<Ev> = evidence.into_iter().cloned().collect();
    evidence.sort_by_key(|e| e.index);
    evidence.dedup_by_key(|e| e.index);
    Verdict {
        reason,
        confidence,
        evidence,
    }
}

fn sure(two_kinds: bool) -> Confidence {
    if two_kinds {
        Confidence::High
    } else {
        Confidence::Medium
    }
}

/// The RTC machine that speaks for the call: SIGNALING when it talked, else
/// the V2 CallSession, else SESSION.
fn rtc_exit(c: &Contact) -> Option<(Exit, &Ev, Option<&Ev>)> {
    [&c.signaling, &c.call_session, &c.session]
        .into_iter()
        .find_map(|t| t.exit.as_ref().map(|(x, e)| (*x, e, t.exit_done.as_ref())))
}

pub fn decide(c: &Contact, facts: &LogFacts) -> Verdict {
    let exit = rtc_exit(c);
    let end = c.end();
    let end_time = end.map(|e| e.time);
    let conversation = c.snap_connected.as_ref().or(c.ev_connected.as_ref());

    // §3.5 missed / rejected / error: the softphone session starts while the
    // call rings, so a talking RTC session does not prove a conversation.
    if conversation.is_none()
        && let Some(v) = not_connected(c)
    {
        return v;
    }

    // The agent's End call: destroyConnection on its own leg (§3.3, §3.6.1).
    // With a server `bye` first, a later request does not count (§1.6).
    let latest_ok = match exit {
        Some((Exit::LocalHangup, e, _)) => Some(e.time),
        _ => end_time.map(|t| t + LAYER_SKEW_MS),
    };
    let own_destroy = c
        .destroys
        .iter()
        .filter(|(conn, _)| is_own_leg(c, conn.as_deref()))
        .map(|(_, e)| e)
        .find(|e| latest_ok.is_none_or(|t| e.time <= t));

    let outbound = c.outbound_request || c.initiation.as_deref() == Some("OUTBOUND");
    if outbound
        && c.customer_connected.is_none()
        && c.customer_connecting.is_some()
        && end.is_some()
    {
        let connecting = c.customer_connecting.as_ref();
        let mut ev: Vec<&Ev> = connecting.into_iter().collect();
        ev.extend(own_destroy);
        ev.extend(end);
        return v(
            Reason::OutboundNotAnswered,
            sure(own_destroy.is_some() || c.snap_ended.is_some()),
            ev,
        );
    }

    // A session that failed before talking, with no conversation (§1.4, §3.4).
    if conversation.is_none()
        && c.talk_start().is_none()
        && let Some(v) = setup_failure(c)
    {
        return v;
    }

    if let Some(d) = own_destroy {
        let mut ev = vec![d];
        if let Some(stay) = &c.others_stayed {
            ev.push(stay);
            return v(Reason::AgentLeftConference, Confidence::High, ev);
        }
        let agrees = match exit {
            Some((Exit::RemoteHangup | Exit::Idle | Exit::Disconnected, e, _)) => {
                ev.push(e);
                true
            }
            Some((_, e, _)) => {
                ev.push(e);
                false
            }
            None => c.snap_ended.is_some() || c.ev_ended.is_some(),
        };
        return v(Reason::AgentHangupApi, sure(agrees), ev);
    }

    // Network: signaling lost and not recovered, a failure while talking, or
    // media lost shortly before the end (§1.4, §1.6, §3.4).
    if let Some(lost) = [&c.signaling, &c.call_session]
        .iter()
        .find_map(|t| t.reconnect_failed.as_ref())
    {
        let mut ev = vec![lost];
        ev.extend(
            c.troubles
                .iter()
                .filter(|t| t.2.time <= lost.time)
                .map(|t| &t.2)
                .next_back(),
        );
        return v(
            Reason::SignalingLost,
            sure(ev.len() > 1 || end.is_some_and(|e| e.index != lost.index)),
            ev,
        );
    }
    if let Some((Exit::Failed, e, _)) = exit {
        return v(Reason::FailedWhileTalking, Confidence::Medium, vec![e]);
    }
    if let (Some(end), Some(talk_start)) = (end, c.talk_start()) {
        let losses: Vec<&Ev> = c
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
        if let Some(first) = losses.first() {
            let recovered = c
                .ice_recovered
                .iter()
                .any(|&t| t > first.time && t < end.time);
            if !recovered {
                let mut ev = losses.clone();
                ev.push(end);
                return v(Reason::MediaLost, sure(losses.len() > 1), ev);
            }
        }
    }

    match exit {
        Some((Exit::RemoteHangup, e, done)) => {
            // The snapshot/bye race (§1.6): the CCP tore the call down
            // because a snapshot showed the far end gone, not because the
            // agent pressed End call.
            if let Some(gone) = c
                .far_end_gone_first
                .as_ref()
                .filter(|g| g.time <= e.time + LAYER_SKEW_MS)
            {
                let conf = if facts.api_lines {
                    Confidence::Medium
                } else {
                    Confidence::Low
                };
                return v(Reason::RemoteHangupSnapshotRace, conf, vec![gone, e]);
            }
            let mut ev: Vec<&Ev> = vec![e];
            ev.extend(done);
            let corroborated = c.agent_disconnected_line.is_some()
                || c.agent_error_state
                    .as_ref()
                    .is_some_and(|(n, _)| n == "AgentHungUp");
            ev.extend(c.agent_disconnected_line.as_ref());
            return v(Reason::AgentHangup, sure(corroborated), ev);
        }
        Some((Exit::LocalHangup, e, done)) => {
            let mut ev: Vec<&Ev> = vec![e];
            ev.extend(done);
            let snapshot_agrees = c.far_end_gone_first.is_some()
                || (facts.api_lines && (c.snap_ended.is_some() || c.ev_ended.is_some()));
            ev.extend(c.far_end_gone_first.as_ref());
            return v(Reason::RemoteHangup, sure(snapshot_agrees), ev);
        }
        _ => {}
    }

    // No softphone verdict: persistent connection (`TalkingState =>
    // IdleState`), the V2 path, or a deskphone (§1.5, §1.6, §3.5).
    if let Some((name, e)) = &c.agent_error_state
        && name == "AgentHungUp"
    {
        return v(Reason::AgentHungUpState, Confidence::Medium, vec![e]);
    }
    let idle = matches!(exit, Some((Exit::Idle, _, _)));
    let exit_ev = exit.map(|(_, e, _)| e);
    if let Some(gone) = &c.far_end_gone_first {
        let mut ev = vec![gone];
        ev.extend(exit_ev);
        return v(Reason::RemoteHangupSnapshot, sure(facts.api_lines), ev);
    }
    let ended = c.snap_ended.as_ref().or(c.ev_ended.as_ref());
    if facts.api_lines
        && let Some(ended) = ended
        && (conversation.is_some() || exit.is_some())
    {
        let mut ev = vec![ended];
        ev.extend(exit_ev);
        return v(Reason::RemoteHangupSnapshot, Confidence::Low, ev);
    }
    let mut ev: Vec<&Ev> = exit_ev.into_iter().collect();
    if idle {
        return v(Reason::PersistentAmbiguous, Confidence::Low, ev);
    }
    if end.is_none() && exit.is_none() {
        ev.extend(c.talking_ev().or(conversation));
        return v(Reason::LogEndsMidCall, Confidence::Low, ev);
    }
    ev.extend(ended.or(end));
    v(Reason::NoEndEvidence, Confidence::Low, ev)
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

fn not_connected(c: &Contact) -> Option<Verdict> {
    let missed_state = c.snap_missed.as_ref();
    let agent_error = c.agent_error_state.as_ref();
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

    if let Some(r) = c.snap_rejected.as_ref().or(c.reject_request.as_ref()) {
        let both = c.snap_rejected.is_some() && c.reject_request.is_some();
        let mut ev = vec![r];
        ev.extend(c.reject_request.as_ref());
        return Some(v(Reason::Rejected, sure(both || c.ev_missed.is_some()), ev));
    }
    if let Some(e) = customer_side {
        return Some(v(Reason::OutboundNotAnswered, Confidence::High, vec![e]));
    }
    let failed_early = c.snap_error.is_some()
        || c.ev_error.is_some()
        || missed_state.is_some()
        || c.ev_missed.is_some()
        || agent_error.is_some();
    // An RTC failure names the cause more precisely than the contact state.
    if failed_early && let Some(v) = setup_failure(c) {
        return Some(v);
    }
    if let Some(err) = c.snap_error.as_ref().or(c.ev_error.as_ref()) {
        let kinds = [
            c.snap_error.is_some(),
            c.ev_error.is_some(),
            agent_error.is_some(),
        ];
        let mut ev = vec![err];
        ev.extend(agent_error.map(|(_, e)| e));
        return Some(v(
            Reason::ContactError,
            sure(kinds.iter().filter(|k| **k).count() > 1),
            ev,
        ));
    }
    if let Some(m) = missed_state.or(c.ev_missed.as_ref()).or(agent_missed) {
        let kinds = [
            missed_state.is_some(),
            c.ev_missed.is_some(),
            agent_missed.is_some(),
        ];
        let mut ev = vec![m];
        ev.extend(c.ev_missed.as_ref());
        ev.extend(agent_missed);
        return Some(v(
            Reason::Missed,
            sure(kinds.iter().filter(|k| **k).count() > 1),
            ev,
        ));
    }
    if let Some((_, e)) = agent_error
        && c.talk_start().is_none()
    {
        return Some(v(Reason::ContactError, Confidence::Medium, vec![e]));
    }
    None
}

fn setup_failure(c: &Contact) -> Option<Verdict> {
    let failed = [&c.signaling, &c.session, &c.call_session]
        .into_iter()
        .find_map(|t| t.failed_before_talking.as_ref());
    let not_found = c
        .troubles
        .iter()
        .find(|t| t.0 == Trouble::CallNotFound)
        .map(|t| &t.2);
    let setup = c
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
    Some(v(reason, sure(failed.is_some() && cause.is_some()), ev))
}
