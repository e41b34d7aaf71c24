-- 0001: the platform: identity, the event log, idempotent requests, notes.

-- Facts about this database's event history. stream_id changes only when
-- the database is replaced; clients that saved a sequence number from
-- another stream must start again from a snapshot.
CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO meta (key, value) VALUES
    ('stream_id', gen_random_uuid()::text),
    ('tenant', 'default');

-- Who may connect, and as what. Users are never deleted: a revoked user
-- keeps its row so that its name and key stay unusable and the record
-- of what it did keeps its meaning.
CREATE TABLE users (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE
                CHECK (name ~ '^[a-z][a-z0-9._-]{0,62}$'),
    role        text NOT NULL
                CHECK (role IN ('admin', 'manager', 'collector', 'sales', 'importer')),
    public_key  text NOT NULL UNIQUE CHECK (length(public_key) = 40),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CHECK (active = (revoked_at IS NULL))
);

-- Any change to users, from recoupd or by hand in psql, tells recoupd
-- to reload its key cache (and drop connections of revoked users).
CREATE FUNCTION recoup_users_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('recoup_users', '');
    RETURN NULL;
END $$;
CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION recoup_users_changed();

-- Refuses updates and deletes on append-only tables.
CREATE FUNCTION recoup_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is not allowed: the table keeps its history',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;

-- Every change, in the one global order. seq is assigned by recoupd, the
-- only writer, so it has no holes; body is the packed recoup.Event.
CREATE TABLE events (
    seq         bigint PRIMARY KEY CHECK (seq > 0),
    at          timestamptz NOT NULL,
    kind        text NOT NULL,
    actor       text NOT NULL DEFAULT '',
    request_id  text NOT NULL DEFAULT '',
    body        bytea NOT NULL
);
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();

-- The reply to every command that changed (or refused to change) state,
-- so that a retried request id is answered and not executed again.
-- request_hash (BLAKE2b of the request as sent) tells a retry from a
-- different request that reuses the id.
CREATE TABLE requests (
    user_name   text NOT NULL,
    request_id  text NOT NULL CHECK (length(request_id) BETWEEN 1 AND 64),
    at          timestamptz NOT NULL DEFAULT now(),
    request_hash bytea NOT NULL,
    reply       bytea NOT NULL,
    PRIMARY KEY (user_name, request_id)
);
-- BRIN: rows arrive in time order, and it costs next to nothing per insert.
CREATE INDEX requests_at ON requests USING brin (at);

-- Users are revoked, never deleted.
CREATE TRIGGER users_never_deleted BEFORE DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();

-- The team's shared notes. The author is always the authenticated caller
-- and users are never deleted, so there is no foreign key: on this, the
-- hottest small command, its row lock on users cost 10% of throughput.
-- A note's id is the sequence number of the event that announced it.
CREATE TABLE notes (
    id          bigint PRIMARY KEY,
    author      text NOT NULL,
    subject     text NOT NULL DEFAULT '' CHECK (length(subject) <= 200),
    text        text NOT NULL CHECK (length(text) BETWEEN 1 AND 4000),
    created_at  timestamptz NOT NULL DEFAULT now()
);
