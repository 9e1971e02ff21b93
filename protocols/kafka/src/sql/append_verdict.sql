UPDATE log SET (verdict_code, verdict_dup) = (
    SELECT
        CASE
            WHEN ?1 < 0 THEN 0
            WHEN d.base_offset IS NOT NULL THEN 1
            WHEN p.producer_epoch IS NULL THEN 0
            WHEN ?2 < p.producer_epoch THEN 47
            WHEN ?2 > p.producer_epoch THEN CASE WHEN ?3 = 0 THEN 0 ELSE 45 END
            WHEN ?3 = CASE WHEN p.last_sequence = 2147483647 THEN 0 ELSE p.last_sequence + 1 END THEN 0
            ELSE 45
        END,
        d.base_offset
    FROM (SELECT 1) AS one
    LEFT JOIN producers AS p ON p.producer_id = ?1
    LEFT JOIN batches AS d
        ON ?1 >= 0 AND d.producer_id = ?1 AND d.producer_epoch = ?2
        AND d.base_sequence = ?3 AND d.last_sequence = ?4
)
