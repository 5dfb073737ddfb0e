-- One row per call over the results table (Athena / Trino SQL).
-- Replace ccp_disconnect with your GlueDatabaseName.
-- The record_* columns are null unless the results were written with
-- contact records (classify --contact-records, or the Lambda with
-- CONNECT_INSTANCE_ID set).
CREATE OR REPLACE VIEW ccp_disconnect.calls AS
SELECT
    source.bucket                                   AS source_bucket,
    source.key                                      AS source_key,
    log.agent_resource_id                           AS agent_resource_id,
    c.contact_id                                    AS contact_id,
    c.disconnected_by                               AS disconnected_by,
    c.reason                                        AS reason,
    c.confidence                                    AS confidence,
    c.contact_type                                  AS contact_type,
    c.initiation_method                             AS initiation_method,
    c.started_before_log                            AS started_before_log,
    c.first_seen                                    AS first_seen,
    c.connected_at                                  AS connected_at,
    c.ended_at                                      AS ended_at,
    c.talk_ms                                       AS talk_ms,
    -- Times are ISO-8601 UTC text, so the day is its first ten characters.
    substr(c.first_seen, 1, 10)                     AS day,
    c.contact_record.agreement                      AS record_agreement,
    c.contact_record.disconnect_reason              AS record_disconnect_reason,
    c.contact_record.potential_disconnect_issue     AS record_potential_disconnect_issue,
    c.contact_record.agent_audio_quality_score      AS record_agent_audio_quality_score
FROM ccp_disconnect.results
CROSS JOIN UNNEST(calls) AS t(c)
WHERE status = 'ok';
