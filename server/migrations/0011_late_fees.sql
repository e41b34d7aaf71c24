-- Late fees: whether a customer's terms allow the policy's late fee, and
-- the fees the engine charged, at most one per invoice and policy step.

ALTER TABLE customers ADD COLUMN late_fees boolean NOT NULL DEFAULT false;

-- One row per fee charged: the fee itself is an entry of kind 'fee' on
-- the invoice (positive amount), so balances, aging and statements see
-- it like any other entry. The primary key is the "at most once per
-- invoice and step" rule; a reversed fee stays here and is not charged
-- again.
CREATE TABLE late_fees (
    invoice_id      bigint NOT NULL REFERENCES invoices (id),
    step            text NOT NULL,
    entry_id        bigint NOT NULL UNIQUE REFERENCES entries (id),
    policy_version  int NOT NULL,
    PRIMARY KEY (invoice_id, step)
);
CREATE TRIGGER late_fees_append_only BEFORE UPDATE OR DELETE ON late_fees
    FOR EACH ROW EXECUTE FUNCTION recoup_append_only();
