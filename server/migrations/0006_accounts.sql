-- 0006: the collection state of accounts beside the ledger: promises to
-- pay, payment plans, disputes on invoices, and per customer the reason
-- it does not pay, credit hold and cash-only.
--
-- Whether a promise was kept or an instalment met is derived from the
-- payments as of a date (the functions below), never stored as what an
-- earlier run thought. What is stored is what recoupd did about it:
-- promise_outcomes and plan_outcomes record, once per promise or plan,
-- that its outcome was seen and acted on (events emitted, hold placed).

CREATE TABLE promises (
    id              bigserial PRIMARY KEY,
    customer_id     bigint NOT NULL REFERENCES customers (id),
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    made_on         date NOT NULL,
    due_by          date NOT NULL,
    note            text NOT NULL DEFAULT '' CHECK (length(note) <= 1000),
    made_by         text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (due_by >= made_on)
);
CREATE INDEX promises_customer ON promises (customer_id, made_on);
CREATE TRIGGER promises_append_only BEFORE UPDATE OR DELETE ON promises
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();

CREATE TABLE promise_outcomes (
    promise_id      bigint PRIMARY KEY REFERENCES promises (id),
    outcome         text NOT NULL CHECK (outcome IN ('kept', 'broken')),
    as_of           date NOT NULL,      -- the date it was evaluated as of
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER promise_outcomes_append_only BEFORE UPDATE OR DELETE ON promise_outcomes
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();

CREATE TABLE plans (
    id              bigserial PRIMARY KEY,
    customer_id     bigint NOT NULL REFERENCES customers (id),
    currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    started         date NOT NULL,
    note            text NOT NULL DEFAULT '' CHECK (length(note) <= 1000),
    made_by         text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX plans_customer ON plans (customer_id, started);
CREATE TRIGGER plans_append_only BEFORE UPDATE OR DELETE ON plans
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();

CREATE TABLE plan_instalments (
    plan_id         bigint NOT NULL REFERENCES plans (id),
    due             date NOT NULL,
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    PRIMARY KEY (plan_id, due)
);
CREATE TRIGGER plan_instalments_append_only BEFORE UPDATE OR DELETE ON plan_instalments
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();

CREATE TABLE plan_outcomes (
    plan_id         bigint PRIMARY KEY REFERENCES plans (id),
    outcome         text NOT NULL CHECK (outcome IN ('broken')),
    missed          date NOT NULL,      -- due date of the instalment missed
    as_of           date NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER plan_outcomes_append_only BEFORE UPDATE OR DELETE ON plan_outcomes
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();

-- A dispute is opened, then resolved once (the resolution columns are
-- filled by one UPDATE; the trigger refuses any other change).
CREATE TABLE disputes (
    id              bigserial PRIMARY KEY,
    invoice_id      bigint NOT NULL REFERENCES invoices (id),
    customer_id     bigint NOT NULL REFERENCES customers (id),
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    opened          date NOT NULL,
    opened_by       text NOT NULL,
    sales_rep       text,               -- routed to, when the customer has one
    resolved        date,
    outcome         text CHECK (outcome IN ('credit_note', 'corrected_invoice',
                                            'customer_wrong')),
    amount_minor    bigint CHECK (amount_minor > 0),
    entry_id        bigint REFERENCES entries (id),
    note            text NOT NULL DEFAULT '' CHECK (length(note) <= 1000),
    resolved_by     text,
    CHECK ((resolved IS NULL) = (outcome IS NULL)),
    CHECK ((resolved IS NULL) = (resolved_by IS NULL)),
    CHECK (resolved IS NULL OR resolved >= opened),
    CHECK ((outcome = 'credit_note') = (entry_id IS NOT NULL AND amount_minor IS NOT NULL))
);
-- At most one open dispute per invoice.
CREATE UNIQUE INDEX disputes_open ON disputes (invoice_id) WHERE resolved IS NULL;
CREATE INDEX disputes_customer ON disputes (customer_id);

CREATE FUNCTION recoup_disputes_resolve_once() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.resolved IS NOT NULL
       OR NEW.id <> OLD.id OR NEW.invoice_id <> OLD.invoice_id
       OR NEW.customer_id <> OLD.customer_id OR NEW.reason <> OLD.reason
       OR NEW.opened <> OLD.opened OR NEW.opened_by <> OLD.opened_by
       OR NEW.sales_rep IS DISTINCT FROM OLD.sales_rep THEN
        RAISE EXCEPTION 'a dispute is resolved once and never changed otherwise'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER disputes_resolve_once BEFORE UPDATE OR DELETE ON disputes
    FOR EACH ROW EXECUTE FUNCTION recoup_disputes_resolve_once();

-- Per customer: why it does not pay, credit hold and cash-only. No row:
-- reason unknown, no hold. The history is the account.state_changed
-- events.
CREATE TABLE account_state (
    customer_id     bigint PRIMARY KEY REFERENCES customers (id),
    reason          text NOT NULL DEFAULT '' CHECK (reason IN ('', 'forgot',
                        'cannot_pay', 'slow', 'avoiding', 'dispute', 'complaint')),
    reason_note     text NOT NULL DEFAULT '' CHECK (length(reason_note) <= 1000),
    on_hold         boolean NOT NULL DEFAULT false,
    hold_reason     text NOT NULL DEFAULT '' CHECK (length(hold_reason) <= 1000),
    cash_only       boolean NOT NULL DEFAULT false,
    updated_by      text NOT NULL DEFAULT '',
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Grace days of promises and instalments: the newest policy version's
-- promises.grace_days, else 3.
CREATE FUNCTION recoup_grace_days() RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT coalesce ((SELECT (params -> 'promises' ->> 'grace_days')::int
                      FROM policy_versions ORDER BY version DESC LIMIT 1), 3)
$$;

-- What payments received from `since` through `until` (and not after
-- as_of) in `currency` add up to for a customer.
CREATE FUNCTION recoup_paid_between(cust bigint, cur text, since date, until date)
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT coalesce (sum (amount_minor), 0)::bigint FROM payments
    WHERE customer_id = cust AND currency = cur AND received BETWEEN since AND until
$$;

-- A promise's status as of a date: kept, broken or pending, and what
-- counted toward it.
CREATE FUNCTION recoup_promise_status(prom bigint, as_of date, grace int,
                                      OUT status text, OUT paid bigint)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN x.paid >= p.amount_minor THEN 'kept'
                WHEN as_of > p.due_by + grace THEN 'broken'
                ELSE 'pending' END, x.paid
    FROM promises p CROSS JOIN LATERAL (SELECT recoup_paid_between (p.customer_id,
        p.currency, p.made_on, least (as_of, p.due_by + grace)) AS paid) x
    WHERE p.id = prom
$$;

-- A plan's instalments as of a date, by due date: each with what is due
-- by then (cumulative), what was paid from the start through its due
-- date + grace (not after as_of), and met, missed or pending.
CREATE FUNCTION recoup_plan_instalments(plan bigint, as_of date, grace int)
RETURNS TABLE (due date, amount_minor bigint, cumulative bigint, paid bigint,
               status text)
LANGUAGE sql STABLE AS $$
    SELECT i.due, i.amount_minor, i.cumulative, x.paid,
           CASE WHEN x.paid >= i.cumulative THEN 'met'
                WHEN as_of > i.due + grace THEN 'missed'
                ELSE 'pending' END
    FROM (SELECT pi.due, pi.amount_minor, sum (pi.amount_minor) OVER
              (ORDER BY pi.due)::bigint AS cumulative
          FROM plan_instalments pi WHERE pi.plan_id = plan) i
    CROSS JOIN plans p
    CROSS JOIN LATERAL (SELECT recoup_paid_between (p.customer_id, p.currency,
        p.started, least (as_of, i.due + grace)) AS paid) x
    WHERE p.id = plan
    ORDER BY i.due
$$;

-- Open disputes on invoices as of a date.
CREATE FUNCTION recoup_disputed(as_of date, cust bigint)
RETURNS TABLE (invoice_id bigint) LANGUAGE sql STABLE AS $$
    SELECT d.invoice_id FROM disputes d
    WHERE d.customer_id = cust AND d.opened <= as_of
      AND (d.resolved IS NULL OR d.resolved > as_of)
$$;
