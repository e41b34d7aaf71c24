-- 0010: delivering the outbox. The outbox rows (0008) never change: they
-- are the copy of what was sent. Each attempt to deliver one is a row
-- here, appended by outbox_mark: sent (with the transport's Message-ID
-- and the contact log record it made) or failed (with the error). A
-- message's status is derived: sent when it has a sent row, failed when
-- its latest row failed, queued when it has none.

CREATE TABLE outbox_deliveries (
    id              bigserial PRIMARY KEY,
    outbox_id       bigint NOT NULL REFERENCES outbox (id),
    status          text NOT NULL CHECK (status IN ('sent', 'failed')),
    at              timestamptz NOT NULL,   -- when it was sent or failed
    message_id      text NOT NULL DEFAULT '' CHECK (length(message_id) <= 998),
    error           text NOT NULL DEFAULT '' CHECK (length(error) <= 2000),
    contact_id      bigint REFERENCES contact_log (id),
    actor           text NOT NULL,          -- who recorded it
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (status = 'sent' OR (error <> '' AND message_id = '')),
    CHECK ((status = 'sent') = (contact_id IS NOT NULL))
);

-- A message is sent at most once; this also finds "not sent yet" (an
-- anti-join on it) without reading the failures.
CREATE UNIQUE INDEX outbox_deliveries_sent ON outbox_deliveries (outbox_id)
    WHERE status = 'sent';

-- The latest attempt of a message, and its count.
CREATE INDEX outbox_deliveries_latest ON outbox_deliveries (outbox_id, id DESC);

-- The emails a sender may deliver: the recent ones (older ones are stale).
CREATE INDEX outbox_email ON outbox (business_date, id) WHERE channel = 'email';

CREATE TRIGGER outbox_deliveries_append_only BEFORE UPDATE OR DELETE
    ON outbox_deliveries FOR EACH ROW EXECUTE FUNCTION recoup_append_only();
