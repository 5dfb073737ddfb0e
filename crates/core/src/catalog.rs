//! The softphone error catalog: a name and a one-line hint for each kind of
//! trouble (ccp-log-format.md §3.4 and the CCP Log Parser's cause table, §5).

use crate::recognize::Trouble;

/// The catalog name and hint for a trouble line. `detail` is the type named
/// in a `Softphone error occurred` line.
pub fn describe(trouble: Trouble, detail: Option<&str>) -> (String, &'static str) {
    let name = match trouble {
        Trouble::SoftphoneError => detail.unwrap_or("other"),
        Trouble::LostIce => "lost_ice_connection",
        Trouble::IceFailed => "ice_connection_failed",
        Trouble::IceRestartFailed => "ice_restart_failed",
        Trouble::IceCollectionTimeout => "ice_collection_timeout",
        Trouble::NoIceCandidate => "no_ice_candidate",
        Trouble::HandshakeFailed => "signalling_handshake_failure",
        Trouble::SignalingConnectFailed => "signalling_connection_failure",
        Trouble::UserBusy => "user_busy_error",
        Trouble::CallNotFound => "call_not_found",
        Trouble::MediaInitFailed => "microphone_not_shared",
        Trouble::SignalingWebSocketClosed => "signaling_websocket_closed",
        Trouble::TalkingSignalingFailed => "signaling_failed_while_talking",
        Trouble::PeerConnectionFailure => "peer_connection_failure",
        Trouble::NetworkOffline => "network_offline",
        Trouble::HeartbeatMissed => "heartbeat_missed",
    };
    (name.to_string(), hint(name))
}

pub fn hint(name: &str) -> &'static str {
    match name {
        "unsupported_browser" => "The browser is not supported by the CCP softphone.",
        "microphone_not_shared" => "The browser has no microphone permission for the CCP.",
        "signalling_handshake_failure" | "signalling_connection_failure" => {
            "The softphone signaling endpoint (TCP 443) could not be reached: network or firewall."
        }
        "ice_collection_timeout" | "no_ice_candidate" => {
            "The media endpoint (UDP 3478) could not be reached: firewall or network."
        }
        "user_busy_error" => "The CCP is open in two browsers or windows.",
        "webrtc_error" => "WebRTC failed: unsupported browser or a blocked port or protocol.",
        "realtime_communication_error" => "Internal real-time communication error.",
        "vdi_strategy_not_supported" | "vdi_redir_not_supported" => {
            "The VDI softphone set-up is not supported."
        }
        "lost_ice_connection" | "ice_connection_failed" => "Media connectivity was lost (network).",
        "ice_restart_failed" => "Media connectivity was lost and could not be restored (network).",
        "call_not_found" => {
            "The call was gone before media connected: the other party probably hung up."
        }
        "signaling_websocket_closed" => "The softphone signaling websocket closed.",
        "signaling_failed_while_talking" => {
            "Signaling failed during the call; media may have continued."
        }
        "peer_connection_failure" => "The peer connection manager saw the session fail.",
        "network_offline" => "The browser went offline.",
        "heartbeat_missed" => "A websocket heartbeat got no answer: API connectivity problem.",
        _ => "Unclassified softphone error.",
    }
}
