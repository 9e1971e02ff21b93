DELETE FROM batches
WHERE ?1 >= 0 AND base_offset < (
    SELECT COALESCE(MIN(base_offset), (SELECT next_offset FROM log))
    FROM (
        SELECT base_offset,
            SUM(size) OVER (ORDER BY base_offset DESC ROWS UNBOUNDED PRECEDING) AS kept
        FROM batches
    )
    WHERE kept <= ?1
)
