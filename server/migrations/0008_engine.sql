-- 0008: the daily collections engine: which business dates it has run,
-- the actions it recorded (once per invoice and policy step, due or
-- skipped with why), and the outbox of rendered messages.
--
-- What the engine decides is derived each date from the ledger, the
-- contact log, the account state and the policy; what is stored is what
-- it did, so a second run for a date finds the actions recorded and adds
-- nothing, and a late run catches up the dates in engine_runs' gap.

CREATE TABLE engine_runs (
    business_date   date PRIMARY KEY,
    ran_by          text NOT NULL,
    ran_at          timestamptz NOT NULL DEFAULT now(),
    as_of           date NOT NULL,      -- the date the run was asked for
    due             int NOT NULL DEFAULT 0 CHECK (due >= 0),
    skipped         int NOT NULL DEFAULT 0 CHECK (skipped >= 0),
    queued          int NOT NULL DEFAULT 0 CHECK (queued >= 0),
    CHECK (business_date <= as_of)
);

CREATE TABLE engine_actions (
    id              bigserial PRIMARY KEY,
    invoice_id      bigint NOT NULL REFERENCES invoices (id),
    customer_id     bigint NOT NULL REFERENCES customers (id),
    step            text NOT NULL CHECK (step ~ '^[a-z][a-z0-9_]*$'),
    channel         text NOT NULL CHECK (channel IN ('email', 'phone', 'letter',
                        'certified_letter', 'sales_flag', 'credit_hold', 'review')),
    tone            text NOT NULL DEFAULT '' CHECK (tone IN ('', 'friendly', 'firm',
                        'direct', 'final')),
    assignee        text NOT NULL DEFAULT '',
    status          text NOT NULL CHECK (status IN ('due', 'skipped')),
    why             text NOT NULL DEFAULT '' CHECK (length(why) <= 1000),
    due             date NOT NULL,      -- the date the step fell on
    recorded_on     date NOT NULL,      -- the business date of the run
    business_date   date NOT NULL REFERENCES engine_runs (business_date),
                                        -- the date processed
    policy_version  int NOT NULL,
    action          text NOT NULL DEFAULT '',
    outbox_id       bigint,
    UNIQUE (invoice_id, step),
    CHECK (due <= business_date AND business_date <= recorded_on),
    CHECK (status = 'due' OR why <> '')
);
CREATE INDEX engine_actions_recorded ON engine_actions (recorded_on, customer_id);

CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    customer_id     bigint NOT NULL REFERENCES customers (id),
    step            text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('email', 'letter',
                        'certified_letter')),
    tone            text NOT NULL DEFAULT '',
    invoices        text[] NOT NULL CHECK (cardinality(invoices) > 0),
    recipient       text NOT NULL DEFAULT '',
    subject         text NOT NULL,
    body            text NOT NULL,
    business_date   date NOT NULL,
    policy_version  int NOT NULL,
    queued_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_customer ON outbox (customer_id, id);
CREATE TRIGGER outbox_append_only BEFORE UPDATE OR DELETE ON outbox
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();
