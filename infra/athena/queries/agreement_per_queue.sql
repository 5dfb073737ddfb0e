-- Agreement per queue (the contact record's Queue.Name; calls with no
-- record have no queue).
SELECT queue_name,
       count(*)                                   AS calls,
       count_if(agreement = 'agrees')             AS agrees,
       count_if(agreement = 'log_adds_cause')     AS log_adds_cause,
       count_if(agreement = 'differs')            AS differs,
       round(CAST(count_if(agreement = 'agrees') AS double)
             / nullif(count_if(agreement IN ('agrees', 'log_adds_cause', 'differs')), 0), 3)
                                                  AS agreement_rate
FROM ccp_disconnect.calls_with_records
WHERE has_record
GROUP BY queue_name
ORDER BY calls DESC, queue_name;
