-- 0005: the contact log and contact preferences.
--
-- contact_log is every call, email, letter, visit or meeting with a
-- customer. It is append-only and tamper-evident: `hash` is BLAKE2b-256
-- over the previous record's hash and this record's fields, computed by
-- recoupd (server/contacts.c documents the exact serialisation), so a
-- record changed or removed behind recoupd's back shows up in
-- `audit_verify`. `id` is the position in the log, gapless from 1: the
-- single writer assigns it, never a sequence (a rolled-back command must
-- not leave a hole that looks like a deletion).
CREATE TABLE contact_log (
    id              bigint PRIMARY KEY CHECK (id > 0),
    customer_id     bigint NOT NULL REFERENCES customers (id),
    channel         text NOT NULL CHECK (channel IN ('phone', 'email', 'letter',
                        'certified_letter', 'sms', 'visit', 'meeting')),
    direction       text NOT NULL CHECK (direction IN ('in', 'out')),
    outcome         text NOT NULL CHECK (outcome IN ('no_answer', 'left_message',
                        'spoke', 'promised', 'disputed', 'refused', 'wrong_number',
                        'sent', 'delivered', 'returned')),
    note            text NOT NULL DEFAULT '' CHECK (length(note) <= 4000),
    at              timestamptz NOT NULL,       -- when it happened
    logged_by       text NOT NULL,
    logged_at       timestamptz NOT NULL DEFAULT now(),
    -- A contact rule was broken on purpose: which rules (comma-separated
    -- fixed names, in the order they are checked) and why.
    override_reason text NOT NULL DEFAULT '' CHECK (length(override_reason) <= 500),
    rule_overridden text NOT NULL DEFAULT '' CHECK (rule_overridden ~
        '^((quiet_hours|attempt_gap|call_after_conversation|call_limit)(,(quiet_hours|attempt_gap|call_after_conversation|call_limit))*)?$'),
    prev_hash       bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash            bytea NOT NULL CHECK (length(hash) = 32),
    CHECK ((override_reason = '') = (rule_overridden = ''))
);
-- The rules look back over one customer's contacts by time.
CREATE INDEX contact_log_customer ON contact_log (customer_id, at);

CREATE TRIGGER contact_log_append_only BEFORE UPDATE OR DELETE ON contact_log
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();
CREATE TRIGGER contact_log_never_truncated BEFORE TRUNCATE ON contact_log
    FOR EACH STATEMENT EXECUTE FUNCTION recoup_append_only();

-- What a customer asked of us: stop all contact, or not by some channels.
-- These are absolute: recoupd refuses an outbound contact they forbid,
-- override or not. No row: no restriction.
CREATE TABLE contact_prefs (
    customer_id     bigint PRIMARY KEY REFERENCES customers (id),
    cease_contact   boolean NOT NULL DEFAULT false,
    opted_out       text[] NOT NULL DEFAULT '{}' CHECK (opted_out <@ ARRAY['phone',
                        'email', 'letter', 'certified_letter', 'sms', 'visit',
                        'meeting']::text[]),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
