-- Each call beside the contact record of the same contact id, with the
-- agreement worked out in SQL (Athena / Trino SQL). Use it when the results
-- were written without contact records; it mirrors the agreement table of
-- the README (crates/core/src/contact_records.rs, AGREEMENT_TABLE) for
-- records of the same contact id. Unlike the program it does not look for
-- related legs (InitialContactId, PreviousContactId, NextContactId naming the
-- call): a call whose contact id has no record is 'unavailable' here.
--
-- The stream delivers records at least once: the latest LastUpdateTimestamp
-- of a contact id wins (ISO-8601 text of one format sorts by time).
CREATE OR REPLACE VIEW ccp_disconnect.calls_with_records AS
WITH latest AS (
    SELECT *
    FROM (
        SELECT r.*,
               row_number() OVER (PARTITION BY contactid
                                  ORDER BY lastupdatetimestamp DESC NULLS LAST) AS n
        FROM ccp_disconnect.contact_records r
    ) ranked
    WHERE n = 1
),
joined AS (
    SELECT
        c.*,
        r.contactid IS NOT NULL                                  AS has_record,
        r.disconnectreason                                       AS service_reason,
        r.disconnectdetails.potentialdisconnectissue             AS service_potential_disconnect_issue,
        r.qualitymetrics.agent.audio.qualityscore                AS service_agent_audio_quality_score,
        r.queue.name                                             AS queue_name,
        r.nextcontactid                                          AS service_next_contact_id,
        -- The agent's user id is the last part of its ARN (.../agent/<id>).
        regexp_extract(r.agent.arn, '[^/]+$')                    AS service_agent_id
    FROM ccp_disconnect.calls c
    LEFT JOIN latest r ON r.contactid = c.contact_id
)
SELECT
    joined.*,
    CASE
        WHEN NOT has_record THEN 'unavailable'
        WHEN agent_resource_id IS NOT NULL AND service_agent_id IS NOT NULL
             AND agent_resource_id <> service_agent_id THEN 'not_comparable'
        WHEN service_next_contact_id IS NOT NULL THEN 'not_comparable'
        WHEN service_reason IS NULL THEN 'not_comparable'
        WHEN disconnected_by = 'agent' AND service_reason = 'AGENT_DISCONNECT' THEN 'agrees'
        WHEN disconnected_by = 'agent' AND service_reason IN
             ('CUSTOMER_DISCONNECT', 'CONTACT_FLOW_DISCONNECT', 'BARGED') THEN 'differs'
        WHEN disconnected_by = 'customer' AND service_reason IN
             ('CUSTOMER_DISCONNECT', 'THIRD_PARTY_DISCONNECT', 'CONTACT_FLOW_DISCONNECT') THEN 'agrees'
        WHEN disconnected_by = 'customer' AND service_reason = 'AGENT_DISCONNECT' THEN 'differs'
        WHEN disconnected_by = 'network' AND service_reason IN
             ('CUSTOMER_DISCONNECT', 'THIRD_PARTY_DISCONNECT', 'AGENT_DISCONNECT') THEN 'log_adds_cause'
        WHEN disconnected_by = 'network' AND service_reason = 'TELECOM_PROBLEM' THEN 'agrees'
        WHEN disconnected_by = 'network' AND service_reason = 'CONTACT_FLOW_DISCONNECT' THEN 'differs'
        ELSE 'not_comparable'
    END AS agreement
FROM joined;
