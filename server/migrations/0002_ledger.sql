-- 0002: the receivables ledger: customers, invoices, payments, the
-- append-only ledger of dated entries, and file imports.
--
-- Money is bigint minor units beside a char(3) ISO 4217 code; amounts of
-- different currencies are never summed together. Dates are calendar
-- dates: every ledger row carries the business date it takes effect, and
-- every report is computed from the rows dated on or before its as-of
-- date, never from a "current status" column.

-- The currency of amounts that come without one (import files, the CLI).
INSERT INTO meta (key, value) VALUES ('base_currency', 'USD');

CREATE TABLE customers (
    id              bigserial PRIMARY KEY,
    ref             text NOT NULL UNIQUE CHECK (length(ref) BETWEEN 1 AND 64),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email           text NOT NULL DEFAULT '' CHECK (length(email) <= 254),
    phone           text NOT NULL DEFAULT '' CHECK (length(phone) <= 64),
    address         text NOT NULL DEFAULT '' CHECK (length(address) <= 1000),
    timezone        text NOT NULL DEFAULT 'UTC',
    language        text NOT NULL DEFAULT 'en' CHECK (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
    currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- Payment terms, as written ("2/10 net 30") and taken apart.
    terms           text NOT NULL DEFAULT 'net 30',
    terms_days      int NOT NULL DEFAULT 30 CHECK (terms_days BETWEEN 0 AND 3650),
    discount_bp     int NOT NULL DEFAULT 0 CHECK (discount_bp BETWEEN 0 AND 10000),
    discount_days   int NOT NULL DEFAULT 0 CHECK (discount_days >= 0),
    credit_limit_minor bigint NOT NULL DEFAULT 0 CHECK (credit_limit_minor >= 0),
    sales_rep       text REFERENCES users (name),
    collector       text REFERENCES users (name),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Customers are never deleted: their invoices and history keep meaning.
CREATE TRIGGER customers_never_deleted BEFORE DELETE ON customers
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();
CREATE TRIGGER customers_never_truncated BEFORE TRUNCATE ON customers
    FOR EACH STATEMENT EXECUTE FUNCTION recoup_append_only();

-- An invoice row is its own "issue" entry: dated `issued`, for
-- `amount_minor`. Invoices are never changed or deleted; a mistake is
-- corrected with a credit note (and, if needed, a new invoice).
-- customer_id is checked once per statement (invoices_customer below)
-- rather than by a foreign key: a row-by-row foreign key check cost 40%
-- of a million-invoice import, and customers are never deleted.
CREATE TABLE invoices (
    id              bigserial PRIMARY KEY,
    number          text NOT NULL UNIQUE CHECK (length(number) BETWEEN 1 AND 64),
    customer_id     bigint NOT NULL,
    issued          date NOT NULL,
    due             date NOT NULL,
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    terms           text NOT NULL DEFAULT '',
    discount_bp     int NOT NULL DEFAULT 0 CHECK (discount_bp BETWEEN 0 AND 10000),
    discount_until  date,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (due >= issued),
    CHECK (discount_until IS NULL OR discount_until >= issued)
);
CREATE INDEX invoices_customer ON invoices (customer_id, due);

-- Every invoice of a statement names a customer that exists.
CREATE FUNCTION recoup_invoices_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.number, n.customer_id INTO bad FROM new_invoices n
    WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = n.customer_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'invoice % names customer id %, which does not exist',
            bad.number, bad.customer_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER invoices_customer AFTER INSERT ON invoices
    REFERENCING NEW TABLE AS new_invoices
    FOR EACH STATEMENT EXECUTE FUNCTION recoup_invoices_check();
CREATE TRIGGER invoices_append_only BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();

CREATE TABLE payments (
    id              bigserial PRIMARY KEY,
    customer_id     bigint NOT NULL REFERENCES customers (id),
    reference       text NOT NULL CHECK (length(reference) BETWEEN 1 AND 64),
    received        date NOT NULL,
    method          text NOT NULL DEFAULT '' CHECK (length(method) <= 64),
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (customer_id, reference)
);
CREATE TRIGGER payments_append_only BEFORE UPDATE OR DELETE ON payments
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();

-- The ledger: every dated change of an invoice's balance after its issue.
-- Signed amounts (see recoup.proto, Entry). Append-only: a correction is
-- a reversal entry, never an update.
CREATE TABLE entries (
    id              bigserial PRIMARY KEY,
    invoice_id      bigint NOT NULL REFERENCES invoices (id),
    customer_id     bigint NOT NULL REFERENCES customers (id),
    kind            text NOT NULL CHECK (kind IN ('allocation', 'credit_note',
                        'discount', 'fee', 'write_off', 'settlement',
                        'recovery', 'reversal')),
    on_date         date NOT NULL,
    amount_minor    bigint NOT NULL CHECK (amount_minor <> 0),
    currency        char(3) NOT NULL,
    payment_id      bigint REFERENCES payments (id),
    reverses        bigint UNIQUE REFERENCES entries (id),
    memo            text NOT NULL DEFAULT '' CHECK (length(memo) <= 1000),
    actor           text NOT NULL DEFAULT '',
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'reversal') = (reverses IS NOT NULL)),
    CHECK (kind <> 'allocation' OR (payment_id IS NOT NULL AND amount_minor < 0)),
    CHECK (kind NOT IN ('credit_note', 'discount', 'write_off', 'settlement')
           OR amount_minor < 0),
    CHECK (kind <> 'fee' OR amount_minor > 0)
);
CREATE INDEX entries_invoice ON entries (invoice_id, on_date);
CREATE INDEX entries_customer ON entries (customer_id, on_date);
CREATE INDEX entries_payment ON entries (payment_id) WHERE payment_id IS NOT NULL;
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();

-- What the database itself guarantees about every batch of entries: the
-- entry matches its invoice (customer, currency, not dated before the
-- issue), no invoice's balance goes below zero, and no payment is
-- allocated beyond its amount.
CREATE FUNCTION recoup_entries_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT i.number, n.on_date, i.issued INTO bad
    FROM new_entries n JOIN invoices i ON i.id = n.invoice_id
    WHERE n.customer_id <> i.customer_id OR n.currency <> i.currency
       OR n.on_date < i.issued
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entry on invoice % does not match it (customer, currency, or dated % before its issue on %)',
            bad.number, bad.on_date, bad.issued USING ERRCODE = 'check_violation';
    END IF;
    SELECT i.number, i.amount_minor + s.total AS balance INTO bad
    FROM (SELECT DISTINCT invoice_id FROM new_entries) t
    JOIN invoices i ON i.id = t.invoice_id
    CROSS JOIN LATERAL (SELECT sum(e.amount_minor) AS total FROM entries e
                        WHERE e.invoice_id = t.invoice_id) s
    WHERE i.amount_minor + s.total < 0
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'the balance of invoice % would be negative (%)',
            bad.number, bad.balance USING ERRCODE = 'check_violation';
    END IF;
    SELECT p.reference, p.amount_minor + s.total AS left_over INTO bad
    FROM (SELECT DISTINCT payment_id FROM new_entries
          WHERE payment_id IS NOT NULL) t
    JOIN payments p ON p.id = t.payment_id
    CROSS JOIN LATERAL (SELECT sum(e.amount_minor) AS total FROM entries e
                        WHERE e.payment_id = t.payment_id) s
    WHERE p.amount_minor + s.total < 0
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'payment % would be allocated beyond its amount (%)',
            bad.reference, bad.left_over USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER entries_check AFTER INSERT ON entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION recoup_entries_check();

-- Balance of one invoice from its entries dated on or before as_of
-- (NULL as_of: all of them).
CREATE FUNCTION recoup_invoice_balance(inv bigint, as_of date DEFAULT NULL)
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT i.amount_minor + coalesce((SELECT sum(e.amount_minor) FROM entries e
        WHERE e.invoice_id = inv AND (as_of IS NULL OR e.on_date <= as_of)), 0)
    FROM invoices i WHERE i.id = inv
$$;

-- What is left of a payment after its allocations: unapplied cash.
CREATE FUNCTION recoup_payment_unapplied(pay bigint)
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT p.amount_minor + coalesce((SELECT sum(e.amount_minor) FROM entries e
        WHERE e.payment_id = pay), 0)
    FROM payments p WHERE p.id = pay
$$;

-- Open items as of a date: invoices issued on or before it whose balance
-- from entries dated on or before it is above zero. cust NULL: all.
CREATE FUNCTION recoup_open_items(as_of date, cust bigint DEFAULT NULL)
RETURNS TABLE (invoice_id bigint, customer_id bigint, currency char(3),
               issued date, due date, balance_minor bigint)
LANGUAGE sql STABLE AS $$
    SELECT i.id, i.customer_id, i.currency, i.issued, i.due,
           i.amount_minor + coalesce(e.total, 0)
    FROM invoices i
    LEFT JOIN (SELECT x.invoice_id, sum(x.amount_minor) AS total FROM entries x
               WHERE x.on_date <= as_of AND (cust IS NULL OR x.customer_id = cust)
               GROUP BY x.invoice_id) e ON e.invoice_id = i.id
    WHERE i.issued <= as_of AND (cust IS NULL OR i.customer_id = cust)
      AND i.amount_minor + coalesce(e.total, 0) > 0
$$;

-- The aging bucket of an item `days` past due.
CREATE FUNCTION recoup_bucket(days int) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN days <= 0 THEN 'current'
                WHEN days <= 30 THEN '1-30'
                WHEN days <= 60 THEN '31-60'
                WHEN days <= 90 THEN '61-90'
                WHEN days <= 120 THEN '91-120'
                ELSE 'over-120' END
$$;

-- An early payment inside an invoice's discount window ("2/10 net 30")
-- settles it: when what is left of invoice `inv` is exactly its discount
-- (the rate times the amount, rounded half up) and the payment that
-- brought it there was received on or before discount_until, the rest is
-- booked as a `discount` entry, dated like that payment's allocation.
-- Returns the discount booked, or 0. (A discount taken after the window
-- is not granted: the remainder stays open.)
CREATE FUNCTION recoup_early_discount(inv bigint, received date, who text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    i invoices%ROWTYPE;
    discount bigint;
BEGIN
    SELECT * INTO i FROM invoices WHERE id = inv;
    IF i.discount_bp = 0 OR i.discount_until IS NULL OR received > i.discount_until THEN
        RETURN 0;
    END IF;
    discount := round (i.amount_minor * i.discount_bp / 10000.0)::bigint;
    IF discount <= 0 OR recoup_invoice_balance (inv) <> discount THEN
        RETURN 0;
    END IF;
    INSERT INTO entries (invoice_id, customer_id, kind, on_date, amount_minor,
                         currency, memo, actor)
    VALUES (inv, i.customer_id, 'discount', greatest (received, i.issued), -discount,
            i.currency, format ('early-payment discount of %s%%, paid by %s',
                                trim_scale (i.discount_bp / 100.0), i.discount_until), who);
    RETURN discount;
END $$;

-- Allocates up to `want` (NULL: as much as possible) of what is left of
-- payment `pay` to invoice `inv`, dated the later of the payment's
-- receipt and the invoice's issue, and books the early-payment discount
-- when that settles the invoice. Returns the amount allocated (0 when
-- the invoice is paid or nothing is left).
CREATE FUNCTION recoup_allocate(pay bigint, inv bigint, want bigint, who text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    p payments%ROWTYPE;
    i invoices%ROWTYPE;
    amount bigint;
BEGIN
    SELECT * INTO p FROM payments WHERE id = pay;
    SELECT * INTO i FROM invoices WHERE id = inv;
    amount := least(recoup_payment_unapplied(pay), recoup_invoice_balance(inv));
    IF want IS NOT NULL THEN
        amount := least(amount, want);
    END IF;
    IF amount <= 0 THEN
        RETURN 0;
    END IF;
    INSERT INTO entries (invoice_id, customer_id, kind, on_date, amount_minor,
                         currency, payment_id, actor)
    VALUES (inv, i.customer_id, 'allocation', greatest(p.received, i.issued),
            -amount, i.currency, pay, who);
    PERFORM recoup_early_discount (inv, p.received, who);
    RETURN amount;
END $$;

-- Allocates what is left of payment `pay` to its customer's open
-- invoices in its currency issued on or before its receipt, oldest due
-- first. Returns the amount allocated.
CREATE FUNCTION recoup_allocate_oldest(pay bigint, who text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    p payments%ROWTYPE;
    item record;
    done bigint := 0;
    got bigint;
BEGIN
    SELECT * INTO p FROM payments WHERE id = pay;
    FOR item IN
        SELECT i.id FROM invoices i
        WHERE i.customer_id = p.customer_id AND i.currency = p.currency
          AND i.issued <= p.received
          AND recoup_invoice_balance(i.id) > 0
        ORDER BY i.due, i.issued, i.number
    LOOP
        got := recoup_allocate(pay, item.id, NULL, who);
        done := done + got;
        EXIT WHEN recoup_payment_unapplied(pay) = 0;
    END LOOP;
    RETURN done;
END $$;

-- File imports (see recoup.proto, ImportBeginRequest). Staged rows and
-- problems live in unlogged tables: they are scratch space, rebuilt by
-- running the import again; `imports` keeps the record of each import.
CREATE TABLE imports (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind            text NOT NULL CHECK (kind IN ('customers', 'invoices', 'payments')),
    file_name       text NOT NULL DEFAULT '',
    actor           text NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    staged          int NOT NULL DEFAULT 0,
    columns         text[] NOT NULL DEFAULT '{}',  -- columns the file has
    closed_at       timestamptz,    -- committed (applied or refused)
    summary         bytea           -- packed recoup.ImportSummary
);

CREATE UNLOGGED TABLE import_rows (
    import_id       uuid NOT NULL,
    line            int NOT NULL,
    customer        text NOT NULL DEFAULT '',
    name            text NOT NULL DEFAULT '',
    number          text NOT NULL DEFAULT '',
    date1           date,
    date2           date,
    amount_minor    bigint,
    currency        text NOT NULL DEFAULT '',
    terms           text NOT NULL DEFAULT '',
    terms_days      int,
    discount_bp     int,
    discount_days   int,
    invoice         text NOT NULL DEFAULT '',
    method          text NOT NULL DEFAULT '',
    email           text NOT NULL DEFAULT '',
    phone           text NOT NULL DEFAULT '',
    timezone        text NOT NULL DEFAULT '',
    language        text NOT NULL DEFAULT '',
    sales_rep       text NOT NULL DEFAULT '',
    collector       text NOT NULL DEFAULT ''
);
CREATE INDEX import_rows_import ON import_rows USING brin (import_id);

CREATE UNLOGGED TABLE import_problems (
    import_id       uuid NOT NULL,
    line            int NOT NULL,
    field           text NOT NULL,
    message         text NOT NULL
);
CREATE INDEX import_problems_line ON import_problems (import_id, line);

-- An amount as people read it, for messages: 1234 USD -> '12.34 USD'.
-- The exponents mirror common/money.c (ISO 4217 minor units).
CREATE FUNCTION recoup_money_text(minor bigint, currency text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE e WHEN 0 THEN minor::text
           ELSE to_char(minor::numeric / 10 ^ e, 'FM' || repeat('9', 18 - e) || '0.' || repeat('0', e))
           END || ' ' || currency
    FROM (SELECT CASE
        WHEN currency IN ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW',
                          'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF') THEN 0
        WHEN currency IN ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND') THEN 3
        WHEN currency IN ('CLF', 'UYW') THEN 4
        ELSE 2 END AS e) x
$$;
