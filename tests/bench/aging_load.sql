-- A large ledger for tests/bench/bench_aging.sh, loaded straight with
-- SQL, every trigger and check of the schema in force.
--
--   psql -v customers=2000 -v invoices=1000000 -v as_of=2026-10-31 -f aging_load.sql
--
-- Customers: 90% USD, 8% EUR, 2% JPY. Invoices: issued evenly over the
-- 730 days before as_of and 10 days after it (those are not counted),
-- due 0, 30 or 60 days after issue. Entries for 70% of the invoices:
--   50% paid in full, 10% paid 60%, by one payment each, received 5 to
--   64 days after issue (some after as_of);
--   10% credited a quarter ten days after issue;
--   1 in 100 of the payments' allocations reversed a week later.
\set ON_ERROR_STOP 1

BEGIN;
INSERT INTO customers (ref, name, currency)
SELECT 'bench-' || lpad(g::text, 6, '0'), 'Bench customer ' || g,
       CASE WHEN g % 50 = 0 THEN 'JPY' WHEN g % 10 = 0 THEN 'EUR' ELSE 'USD' END
FROM generate_series(1, :customers) g;

CREATE TEMP TABLE bench_customers AS
SELECT row_number() OVER (ORDER BY id) - 1 AS k, id, currency
FROM customers WHERE ref LIKE 'bench-%';

INSERT INTO invoices (number, customer_id, issued, due, amount_minor, currency)
SELECT 'BI' || lpad(g::text, 8, '0'), c.id, d.issued, d.issued + (g % 3) * 30,
       1000 + (g::bigint * 7919) % 500000, c.currency
FROM generate_series(1, :invoices) g
CROSS JOIN LATERAL (SELECT :'as_of'::date - 730
                           + (g::bigint * 740 / :invoices)::int AS issued) d
JOIN bench_customers c ON c.k = g % :customers;
COMMIT;

BEGIN;
INSERT INTO payments (customer_id, reference, received, method, amount_minor, currency)
SELECT i.customer_id, 'BP' || substr(i.number, 3), i.issued + 5 + (i.id % 60)::int,
       'bank transfer',
       CASE WHEN i.id % 10 = 5 THEN i.amount_minor * 6 / 10 ELSE i.amount_minor END,
       i.currency
FROM invoices i WHERE i.number LIKE 'BI%' AND i.id % 10 < 6;

INSERT INTO entries (invoice_id, customer_id, kind, on_date, amount_minor, currency,
                     payment_id, actor)
SELECT i.id, i.customer_id, 'allocation', p.received, -p.amount_minor, i.currency,
       p.id, 'bench'
FROM payments p JOIN invoices i ON i.number = 'BI' || substr(p.reference, 3)
WHERE p.reference LIKE 'BP%';

INSERT INTO entries (invoice_id, customer_id, kind, on_date, amount_minor, currency,
                     memo, actor)
SELECT i.id, i.customer_id, 'credit_note', i.issued + 10, -(i.amount_minor / 4),
       i.currency, 'bench', 'bench'
FROM invoices i WHERE i.number LIKE 'BI%' AND i.id % 10 = 6;

INSERT INTO entries (invoice_id, customer_id, kind, on_date, amount_minor, currency,
                     payment_id, reverses, memo, actor)
SELECT e.invoice_id, e.customer_id, 'reversal', e.on_date + 7, -e.amount_minor,
       e.currency, e.payment_id, e.id, 'bench', 'bench'
FROM entries e WHERE e.kind = 'allocation' AND e.actor = 'bench'
  AND e.invoice_id % 100 = 3;
COMMIT;

-- What autovacuum does after a bulk load, now rather than in a minute:
-- fresh statistics, and the visibility map that index-only scans need.
VACUUM ANALYZE customers, invoices, payments, entries;
