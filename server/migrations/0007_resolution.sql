-- 0007: how the collection of an account ends, and the credit records
-- that should have prevented it: settlement offers, agency referrals
-- (with recoveries gross and net of the agency's fee), write-offs and
-- later recoveries; credit checks and trade and bank references.
--
-- The ledger effects (settlement, write_off and recovery entries) are
-- ordinary entries, so the statement trigger of 0002 keeps every
-- invoice's balance at zero or above whatever these functions do.

-- ---------------------------------------------------------------- settlements

-- An offer to settle `balance_minor` (the invoices' balance at the
-- offer) for `amount_minor`. Payments received from the offer to
-- `expires` and allocated to its invoices count towards it; when they
-- cover the amount, the rest is written off (recoup_settlements_evaluate).
CREATE TABLE settlements (
    id              bigserial PRIMARY KEY,
    customer_id     bigint NOT NULL REFERENCES customers (id),
    currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    balance_minor   bigint NOT NULL CHECK (balance_minor > 0),
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0 AND amount_minor < balance_minor),
    offered_on      date NOT NULL,
    expires         date NOT NULL CHECK (expires >= offered_on),
    floor_percent   int NOT NULL CHECK (floor_percent BETWEEN 0 AND 100),
    policy_version  int NOT NULL DEFAULT 0,     -- 0: no policy loaded
    status          text NOT NULL CHECK (status IN ('pending_approval', 'approved',
                        'completed', 'expired')),
    note            text NOT NULL DEFAULT '' CHECK (length(note) <= 1000),
    offered_by      text NOT NULL,
    approved_by     text NOT NULL DEFAULT '',
    approved_on     date,
    completed_on    date,           -- the day payments covered the amount
    written_off_minor bigint NOT NULL DEFAULT 0 CHECK (written_off_minor >= 0),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'completed') = (completed_on IS NOT NULL))
);
CREATE INDEX settlements_open ON settlements (status)
    WHERE status IN ('pending_approval', 'approved');

CREATE TABLE settlement_invoices (
    settlement_id   bigint NOT NULL REFERENCES settlements (id),
    invoice_id      bigint NOT NULL REFERENCES invoices (id),
    PRIMARY KEY (settlement_id, invoice_id)
);
CREATE INDEX settlement_invoices_invoice ON settlement_invoices (invoice_id);

-- What payments received from the offer up to `upto` (and not after it
-- expired) paid on the settlement's invoices: their allocations, less
-- the reversals of them.
CREATE FUNCTION recoup_settlement_paid(sid bigint, upto date)
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(-e.amount_minor), 0)::bigint
    FROM settlements s
    JOIN settlement_invoices si ON si.settlement_id = s.id
    JOIN entries e ON e.invoice_id = si.invoice_id AND e.payment_id IS NOT NULL
    JOIN payments p ON p.id = e.payment_id
    WHERE s.id = sid AND p.received >= s.offered_on
      AND p.received <= least(s.expires, upto)
$$;

-- How much invoice `inv` may still go down by on `day`: the least of its
-- balance now, on that day and on the day of every later entry, so that
-- an entry dated in the past never takes it below zero on any day.
CREATE FUNCTION recoup_invoice_available(inv bigint, day date)
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT greatest(0, least(recoup_invoice_balance(inv),
                             recoup_invoice_balance(inv, day),
                             (SELECT min(recoup_invoice_balance(inv, e.on_date))
                              FROM entries e WHERE e.invoice_id = inv
                              AND e.on_date > day)))
$$;

-- Completes every approved settlement whose payments covered its amount
-- by `as_of` (and by its expiry): what is left of each of its invoices
-- is written off as a `settlement` entry dated the day the amount was
-- covered. Marks settlements expired when `as_of` is past their expiry
-- without that. A settlement is completed once: only approved ones are
-- looked at, and completing one changes its status in the same
-- transaction. Returns what changed.
CREATE FUNCTION recoup_settlements_evaluate(as_of date, who text)
RETURNS TABLE (settlement_id bigint, change text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    s settlements%ROWTYPE;
    pay record;
    item record;
    paid bigint;
    covered date;
    rest bigint;
    total bigint;
BEGIN
    FOR s IN SELECT * FROM settlements x
             WHERE x.status IN ('pending_approval', 'approved') AND x.offered_on <= as_of
             ORDER BY x.id FOR UPDATE
    LOOP
        covered := NULL;
        IF s.status = 'approved' THEN
            paid := 0;
            FOR pay IN
                SELECT max(e.on_date) AS on_date, sum(-e.amount_minor) AS amount
                FROM settlement_invoices si
                JOIN entries e ON e.invoice_id = si.invoice_id AND e.payment_id IS NOT NULL
                JOIN payments p ON p.id = e.payment_id
                WHERE si.settlement_id = s.id AND p.received >= s.offered_on
                  AND p.received <= least(s.expires, as_of)
                GROUP BY p.id, p.received ORDER BY p.received, p.id
            LOOP
                paid := paid + pay.amount;
                IF paid >= s.amount_minor THEN
                    covered := pay.on_date;
                    EXIT;
                END IF;
            END LOOP;
        END IF;
        IF covered IS NOT NULL THEN
            total := 0;
            FOR item IN SELECT i.id, i.customer_id, i.currency FROM settlement_invoices si
                        JOIN invoices i ON i.id = si.invoice_id
                        WHERE si.settlement_id = s.id ORDER BY i.id
            LOOP
                rest := recoup_invoice_available(item.id, covered);
                IF rest > 0 THEN
                    INSERT INTO entries (invoice_id, customer_id, kind, on_date,
                                         amount_minor, currency, memo, actor)
                    VALUES (item.id, item.customer_id, 'settlement', covered, -rest,
                            item.currency, format('settlement %s: the rest after %s was paid',
                            s.id, recoup_money_text(s.amount_minor, s.currency)), who);
                    total := total + rest;
                END IF;
            END LOOP;
            UPDATE settlements SET status = 'completed', completed_on = covered,
                written_off_minor = total WHERE id = s.id;
            settlement_id := s.id;
            change := 'completed';
            RETURN NEXT;
        ELSIF as_of > s.expires THEN
            UPDATE settlements SET status = 'expired' WHERE id = s.id;
            settlement_id := s.id;
            change := 'expired';
            RETURN NEXT;
        END IF;
    END LOOP;
END $$;

-- ---------------------------------------------------------------- agency

CREATE TABLE agency_referrals (
    id              bigserial PRIMARY KEY,
    customer_id     bigint NOT NULL REFERENCES customers (id),
    agency          text NOT NULL CHECK (length(agency) BETWEEN 1 AND 200),
    fee_bp          int NOT NULL CHECK (fee_bp BETWEEN 0 AND 10000),
    note            text NOT NULL DEFAULT '' CHECK (length(note) <= 1000),
    referred_on     date NOT NULL,
    referred_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER agency_referrals_append_only BEFORE UPDATE OR DELETE ON agency_referrals
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();

-- The invoices at an agency: our own dunning skips them (the daily
-- engine reads this table). An invoice goes to an agency once.
CREATE TABLE agency_invoices (
    invoice_id      bigint PRIMARY KEY REFERENCES invoices (id),
    referral_id     bigint NOT NULL REFERENCES agency_referrals (id)
);
CREATE INDEX agency_invoices_referral ON agency_invoices (referral_id);

-- What each payment received since the referral paid on the referred
-- invoices (allocations less their reversals), with the agency's fee
-- (rounded half up to the minor unit) and what is left to us. Always
-- current: reports read it directly.
CREATE VIEW agency_recoveries AS
    SELECT r.id AS referral_id, p.id AS payment_id, p.reference, p.received,
           p.currency, x.gross AS gross_minor,
           round(x.gross * r.fee_bp / 10000.0)::bigint AS fee_minor,
           x.gross - round(x.gross * r.fee_bp / 10000.0)::bigint AS net_minor
    FROM agency_referrals r
    JOIN LATERAL (SELECT e.payment_id, sum(-e.amount_minor)::bigint AS gross
                  FROM agency_invoices ai
                  JOIN entries e ON e.invoice_id = ai.invoice_id
                                AND e.payment_id IS NOT NULL
                  WHERE ai.referral_id = r.id
                  GROUP BY e.payment_id) x ON true
    JOIN payments p ON p.id = x.payment_id
    WHERE p.received >= r.referred_on AND x.gross > 0;

-- The recoveries an agency.recovered event has been emitted for.
CREATE TABLE agency_recoveries_announced (
    referral_id     bigint NOT NULL REFERENCES agency_referrals (id),
    payment_id      bigint NOT NULL REFERENCES payments (id),
    gross_minor     bigint NOT NULL,
    PRIMARY KEY (referral_id, payment_id)
);

-- Records the recoveries not announced yet; returns them.
CREATE FUNCTION recoup_agency_evaluate(as_of date)
RETURNS TABLE (referral_id bigint, payment_id bigint)
LANGUAGE sql AS $$
    INSERT INTO agency_recoveries_announced (referral_id, payment_id, gross_minor)
    SELECT v.referral_id, v.payment_id, v.gross_minor FROM agency_recoveries v
    WHERE v.received <= as_of
    ORDER BY v.referral_id, v.received, v.payment_id
    ON CONFLICT DO NOTHING
    RETURNING referral_id, payment_id
$$;

-- ---------------------------------------------------------------- write-offs

CREATE TABLE writeoffs (
    id              bigserial PRIMARY KEY,
    invoice_id      bigint NOT NULL REFERENCES invoices (id),
    customer_id     bigint NOT NULL REFERENCES customers (id),
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    status          text NOT NULL CHECK (status IN ('requested', 'approved')),
    requested_by    text NOT NULL,
    requested_on    date NOT NULL,
    approved_by     text NOT NULL DEFAULT '',
    approved_on     date,
    amount_minor    bigint NOT NULL DEFAULT 0 CHECK (amount_minor >= 0),
    entry_id        bigint REFERENCES entries (id),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'approved') = (approved_on IS NOT NULL AND entry_id IS NOT NULL))
);
-- One open request per invoice.
CREATE UNIQUE INDEX writeoffs_requested ON writeoffs (invoice_id) WHERE status = 'requested';

-- Money received on a written-off invoice: a `recovery` entry (positive,
-- reinstating that much of the debt) and the payment's allocation
-- against it, so the history shows both.
CREATE TABLE writeoff_recoveries (
    id              bigserial PRIMARY KEY,
    writeoff_id     bigint NOT NULL REFERENCES writeoffs (id),
    payment_id      bigint NOT NULL REFERENCES payments (id),
    entry_id        bigint NOT NULL UNIQUE REFERENCES entries (id),
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0)
);
CREATE TRIGGER writeoff_recoveries_append_only BEFORE UPDATE OR DELETE ON writeoff_recoveries
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();

-- Cash the customer paid on or after a write-off's approval (and by
-- `as_of`) that is left unapplied, in the invoice's currency, is a
-- recovery on that write-off (oldest write-off first, up to what was
-- written off and not recovered yet): a payment_post naming the
-- written-off invoice allocates nothing to it (its balance is zero), so
-- the money waits as unapplied cash until this reinstates the debt and
-- allocates the payment to it. Returns the recoveries made.
CREATE FUNCTION recoup_writeoffs_recover(as_of date, who text)
RETURNS TABLE (writeoff_id bigint, payment_id bigint, amount_minor bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    w record;
    p record;
    remaining bigint;
    amount bigint;
    entry bigint;
BEGIN
    FOR w IN SELECT x.id, x.invoice_id, x.customer_id, x.approved_on, x.amount_minor,
                    i.currency
             FROM writeoffs x JOIN invoices i ON i.id = x.invoice_id
             WHERE x.status = 'approved' AND x.approved_on <= as_of
               AND x.amount_minor > (SELECT coalesce(sum(r.amount_minor), 0)
                                     FROM writeoff_recoveries r WHERE r.writeoff_id = x.id)
             ORDER BY x.approved_on, x.id
    LOOP
        remaining := w.amount_minor - (SELECT coalesce(sum(r.amount_minor), 0)
                                       FROM writeoff_recoveries r WHERE r.writeoff_id = w.id);
        FOR p IN SELECT y.id, y.received, y.reference FROM payments y
                 WHERE y.customer_id = w.customer_id AND y.currency = w.currency
                   AND y.received >= w.approved_on AND y.received <= as_of
                   AND recoup_payment_unapplied(y.id) > 0
                 ORDER BY y.received, y.id
        LOOP
            EXIT WHEN remaining <= 0;
            amount := least(remaining, recoup_payment_unapplied(p.id));
            INSERT INTO entries (invoice_id, customer_id, kind, on_date, amount_minor,
                                 currency, memo, actor)
            VALUES (w.invoice_id, w.customer_id, 'recovery', p.received, amount,
                    w.currency, format('recovery of write-off %s: payment %s',
                                       w.id, p.reference), who)
            RETURNING id INTO entry;
            IF recoup_allocate(p.id, w.invoice_id, amount, who) <> amount THEN
                RAISE EXCEPTION 'recovery of write-off %: payment % could not be allocated',
                    w.id, p.reference;
            END IF;
            INSERT INTO writeoff_recoveries (writeoff_id, payment_id, entry_id, amount_minor)
            VALUES (w.id, p.id, entry, amount);
            remaining := remaining - amount;
            writeoff_id := w.id;
            payment_id := p.id;
            amount_minor := amount;
            RETURN NEXT;
        END LOOP;
    END LOOP;
END $$;

-- ---------------------------------------------------------------- credit records

CREATE TABLE credit_checks (
    id              bigserial PRIMARY KEY,
    customer_id     bigint NOT NULL REFERENCES customers (id),
    bureau          text NOT NULL CHECK (length(bureau) BETWEEN 1 AND 200),
    score           int NOT NULL CHECK (score BETWEEN 0 AND 9999),
    cost_minor      bigint NOT NULL CHECK (cost_minor >= 0),
    currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    on_date         date NOT NULL,
    note            text NOT NULL DEFAULT '' CHECK (length(note) <= 1000),
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_checks_customer ON credit_checks (customer_id, on_date);
CREATE TRIGGER credit_checks_append_only BEFORE UPDATE OR DELETE ON credit_checks
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();

CREATE TABLE credit_references (
    id              bigserial PRIMARY KEY,
    customer_id     bigint NOT NULL REFERENCES customers (id),
    kind            text NOT NULL CHECK (kind IN ('trade', 'bank')),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    result          text NOT NULL CHECK (length(result) BETWEEN 1 AND 1000),
    on_date         date NOT NULL,
    note            text NOT NULL DEFAULT '' CHECK (length(note) <= 1000),
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_references_customer ON credit_references (customer_id, on_date);
CREATE TRIGGER credit_references_append_only BEFORE UPDATE OR DELETE ON credit_references
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();

-- A customer's credit limit and what it owes in the account currency as
-- of `as_of`, when the limit is set (above zero) and the open total is
-- above it; no row otherwise.
CREATE FUNCTION recoup_credit_over_limit(cust bigint, as_of date)
RETURNS TABLE (limit_minor bigint, open_minor bigint, currency char(3))
LANGUAGE sql STABLE AS $$
    SELECT c.credit_limit_minor, o.total, c.currency
    FROM customers c
    CROSS JOIN LATERAL (SELECT coalesce(sum(x.balance_minor), 0)::bigint AS total
                        FROM recoup_open_items(as_of, c.id) x
                        WHERE x.currency = c.currency) o
    WHERE c.id = cust AND c.credit_limit_minor > 0 AND o.total > c.credit_limit_minor
$$;
