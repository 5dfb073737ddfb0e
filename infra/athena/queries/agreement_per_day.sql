-- Agreement between the log's verdict and the contact record, per day.
-- rate: agreeing calls among those that could be compared.
SELECT day,
       count(*)                                   AS calls,
       count_if(agreement = 'agrees')             AS agrees,
       count_if(agreement = 'log_adds_cause')     AS log_adds_cause,
       count_if(agreement = 'differs')            AS differs,
       count_if(agreement = 'not_comparable')     AS not_comparable,
       count_if(agreement = 'unavailable')        AS unavailable,
       round(CAST(count_if(agreement = 'agrees') AS double)
             / nullif(count_if(agreement IN ('agrees', 'log_adds_cause', 'differs')), 0), 3)
                                                  AS agreement_rate
FROM ccp_disconnect.calls_with_records
GROUP BY day
ORDER BY day;
