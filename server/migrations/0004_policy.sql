-- 0004: the written collection policy, versioned. Every load of a policy
-- file makes a new version; every action the engine takes records the
-- version it followed. `params` is what the file says, as JSON (see
-- proto/PROTOCOL.md, "policy"); the contact rules read their limits from
-- the newest version's params->'contact'.
CREATE TABLE policy_versions (
    version     int PRIMARY KEY CHECK (version > 0),
    text        text NOT NULL,
    params      jsonb NOT NULL,
    loaded_by   text NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER policy_versions_append_only BEFORE UPDATE OR DELETE ON policy_versions
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();
