-- Calls the service recorded as CUSTOMER_DISCONNECT where the agent's log
-- shows a connection failure first: the customer most likely gave up on a
-- call with no audio (the case the contact record cannot tell apart).
SELECT source_key,
       contact_id,
       reason,
       ended_at,
       service_potential_disconnect_issue,
       service_agent_audio_quality_score,
       queue_name
FROM ccp_disconnect.calls_with_records
WHERE service_reason = 'CUSTOMER_DISCONNECT'
  AND disconnected_by = 'network'
ORDER BY ended_at, contact_id;
