-- 0009: sales flags. The customer's sales rep is told when an account is
-- late (the policy's sales_flag step), disputes an invoice, breaks a
-- promise or a plan, or is put on credit hold; the rep acknowledges the
-- flag and people add notes; the collections lead sees what nobody has
-- acknowledged.
--
-- A flag is raised once per (customer, kind, subject): raising it again
-- changes nothing, so the daily engine may ask every day. It is addressed
-- to the customer's sales rep at the time it is raised; NULL (no rep)
-- sends it to the collections lead, i.e. the managers.

CREATE TABLE flags (
    id              bigserial PRIMARY KEY,
    customer_id     bigint NOT NULL REFERENCES customers (id),
    kind            text NOT NULL CHECK (kind IN ('late', 'dispute', 'broken_promise',
                        'broken_plan', 'hold', 'other')),
    subject         text NOT NULL DEFAULT '' CHECK (length(subject) <= 64),
    text            text NOT NULL DEFAULT '' CHECK (length(text) <= 1000),
    rep             text REFERENCES users (name),
    raised_at       timestamptz NOT NULL DEFAULT now(),
    raised_on       date NOT NULL,
    acknowledged_by text REFERENCES users (name),
    acknowledged_at timestamptz,
    acknowledged_on date,           -- business date of the acknowledgement
    UNIQUE (customer_id, kind, subject),
    CHECK ((acknowledged_by IS NULL) = (acknowledged_at IS NULL)),
    CHECK ((acknowledged_on IS NULL) = (acknowledged_at IS NULL))
);
CREATE INDEX flags_open ON flags (raised_on, id) WHERE acknowledged_at IS NULL;
CREATE INDEX flags_rep ON flags (rep, raised_on);

-- Flags are never deleted; once acknowledged they stay acknowledged.
CREATE FUNCTION recoup_flags_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.acknowledged_at IS NOT NULL
       OR NEW.id <> OLD.id OR NEW.customer_id <> OLD.customer_id
       OR NEW.kind <> OLD.kind OR NEW.subject <> OLD.subject
       OR NEW.text <> OLD.text OR NEW.rep IS DISTINCT FROM OLD.rep
       OR NEW.raised_at <> OLD.raised_at OR NEW.raised_on <> OLD.raised_on THEN
        RAISE EXCEPTION 'flag %: only acknowledging an open flag is allowed', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER flags_update BEFORE UPDATE ON flags
    FOR EACH ROW EXECUTE FUNCTION recoup_flags_update();
CREATE TRIGGER flags_never_deleted BEFORE DELETE ON flags
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();
CREATE TRIGGER flags_never_truncated BEFORE TRUNCATE ON flags
    FOR EACH STATEMENT EXECUTE FUNCTION recoup_append_only();

-- Context people add to a flag: append-only.
CREATE TABLE flag_notes (
    id              bigserial PRIMARY KEY,
    flag_id         bigint NOT NULL REFERENCES flags (id),
    author          text NOT NULL,
    text            text NOT NULL CHECK (length(text) BETWEEN 1 AND 1000),
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX flag_notes_flag ON flag_notes (flag_id, id);
CREATE TRIGGER flag_notes_append_only BEFORE UPDATE OR DELETE ON flag_notes
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();
CREATE TRIGGER flag_notes_never_truncated BEFORE TRUNCATE ON flag_notes
    FOR EACH STATEMENT EXECUTE FUNCTION recoup_append_only();
