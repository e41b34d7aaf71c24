-- An invoice issued over the credit limit, or to an account on credit
-- hold or cash only, raises a sales flag of kind 'credit' (its subject
-- the invoice number) for the rep and the collections lead.
ALTER TABLE flags DROP CONSTRAINT flags_kind_check;
ALTER TABLE flags ADD CONSTRAINT flags_kind_check CHECK (kind IN ('late', 'dispute',
    'broken_promise', 'broken_plan', 'hold', 'credit', 'other'));
