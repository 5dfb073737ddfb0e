-- Agreement per agent (the log's agentResourceId; logs from before mid-2021
-- have none and fall under NULL).
SELECT agent_resource_id,
       count(*)                                   AS calls,
       count_if(agreement = 'agrees')             AS agrees,
       count_if(agreement = 'log_adds_cause')     AS log_adds_cause,
       count_if(agreement = 'differs')            AS differs,
       round(CAST(count_if(agreement = 'agrees') AS double)
             / nullif(count_if(agreement IN ('agrees', 'log_adds_cause', 'differs')), 0), 3)
                                                  AS agreement_rate
FROM ccp_disconnect.calls_with_records
GROUP BY agent_resource_id
ORDER BY calls DESC, agent_resource_id;
