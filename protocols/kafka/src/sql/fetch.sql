WITH picked AS (
    SELECT base_offset, size,
        SUM(size) OVER (ORDER BY base_offset ROWS UNBOUNDED PRECEDING) - size AS before
    FROM batches
    WHERE base_offset >= COALESCE((SELECT MAX(base_offset) FROM batches WHERE base_offset <= ?1), ?1)
        AND base_offset < ?2
    ORDER BY base_offset
    LIMIT ?3
)
SELECT b.base_offset, b.data
FROM picked AS p JOIN batches AS b ON b.base_offset = p.base_offset
WHERE p.before = 0 OR p.before + p.size <= ?4
ORDER BY b.base_offset
