-- 0003: what the reports need (server/reports.c): aging, DSO, best
-- possible DSO, average days delinquent and CEI as of any date, computed
-- from ledger rows dated on or before it.
--
-- The aging of a large ledger is one pass over the invoices and one over
-- their entries (see recoup_aging_slice). These objects keep that pass
-- cheap: bigint sums without numeric, and entries read from an index
-- alone.

-- sum() of bigint returns numeric, whose arithmetic costs several times
-- that of bigint on every row. int8pl is exact too: it raises an error
-- on overflow instead of wrapping, so a total is right or the report
-- fails. NULL for no rows, like sum().
CREATE AGGREGATE recoup_sum8 (bigint) (
    SFUNC = int8pl,
    STYPE = bigint,
    COMBINEFUNC = int8pl,
    PARALLEL = SAFE
);

-- The same key as 0002's entries_invoice, with the amount beside it: the
-- balance of every invoice as of a date is then an index-only scan in
-- invoice order (its visibility map kept by autovacuum), which a merge
-- join meets with the invoices in id order.
DROP INDEX IF EXISTS entries_invoice;
CREATE INDEX entries_invoice ON entries (invoice_id, on_date) INCLUDE (amount_minor);

-- The aging inputs of the invoices with lo <= id < hi (of customer
-- `cust`, or all when NULL), as of `as_of`:
--   bucket -1 (not open as of as_of), 0 current (not past due), 1 1-30,
--   2 31-60, 3 61-90, 4 91-120, 5 over 120 days past due (as_of - due);
--   items, balance_minor: the invoices open as of as_of in the bucket
--     (issued <= as_of, balance from entries dated <= as_of above zero)
--     and their balances;
--   open_start_minor: the balances above zero as of the day before
--     month_start (for CEI: what was open when the month began);
--   invoiced_window_minor: amounts issued after window_start (DSO:
--     window_start = as_of - 90);
--   invoiced_month_minor: amounts issued from month_start (CEI).
-- One row per customer (NULL unless per_customer), currency and bucket.
-- Only invoices issued on or before as_of count at all.
--
-- A plain SQL function, not STRICT, so that the planner inlines it: the
-- caller runs one call per slice of invoice ids under UNION ALL, which
-- PostgreSQL spreads over parallel workers (Parallel Append), and the
-- constant arguments fold (cust NULL drops the customer tests).
CREATE FUNCTION recoup_aging_slice(as_of date, month_start date, window_start date,
                                   lo bigint, hi bigint, cust bigint,
                                   per_customer boolean)
RETURNS TABLE (customer_id bigint, currency char(3), bucket int, items bigint,
               balance_minor bigint, open_start_minor bigint,
               invoiced_window_minor bigint, invoiced_month_minor bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN per_customer THEN b.customer_id END, b.currency,
           CASE WHEN b.bal_end <= 0 THEN -1
                WHEN as_of - b.due <= 0 THEN 0
                WHEN as_of - b.due <= 30 THEN 1
                WHEN as_of - b.due <= 60 THEN 2
                WHEN as_of - b.due <= 90 THEN 3
                WHEN as_of - b.due <= 120 THEN 4
                ELSE 5 END,
           count(*),
           recoup_sum8(b.bal_end),
           recoup_sum8(b.bal_start) FILTER (WHERE b.bal_start > 0),
           recoup_sum8(b.amount_minor) FILTER (WHERE b.issued > window_start),
           recoup_sum8(b.amount_minor) FILTER (WHERE b.issued >= month_start)
    FROM (SELECT i.customer_id, i.currency, i.issued, i.due, i.amount_minor,
                 i.amount_minor + coalesce(e.at_end, 0) AS bal_end,
                 CASE WHEN i.issued < month_start
                      THEN i.amount_minor + coalesce(e.at_start, 0)
                      ELSE 0 END AS bal_start
          FROM invoices i
          LEFT JOIN (SELECT x.invoice_id,
                            recoup_sum8(x.amount_minor) AS at_end,
                            recoup_sum8(x.amount_minor)
                                FILTER (WHERE x.on_date < month_start) AS at_start
                     FROM entries x
                     WHERE x.invoice_id >= lo AND x.invoice_id < hi
                       AND x.on_date <= as_of
                       AND (cust IS NULL OR x.customer_id = cust)
                     GROUP BY x.invoice_id) e ON e.invoice_id = i.id
          WHERE i.id >= lo AND i.id < hi AND i.issued <= as_of
            AND (cust IS NULL OR i.customer_id = cust)) b
    -- Invoices closed at both dates and issued before the window add
    -- nothing: leave them out before grouping.
    WHERE b.bal_end > 0 OR b.bal_start > 0 OR b.issued > window_start
    GROUP BY 1, 2, 3
$$;
