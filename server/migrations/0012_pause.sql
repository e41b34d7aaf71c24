-- Why dunning is paused on an invoice on a date, in one place: the daily
-- engine records a step as skipped with it, and the outbox does not send
-- a reminder queued before the pause began. '' when it is not paused.
-- In order: referred to a collection agency, a settlement pending, a
-- dispute open on the invoice, a payment plan running without a missed
-- instalment, a promise to pay pending, or the account's reason is a
-- dispute or a complaint.
CREATE FUNCTION recoup_invoice_pause(inv bigint, cust bigint, on_date date)
    RETURNS text LANGUAGE sql STABLE AS $$
SELECT CASE
    WHEN EXISTS (SELECT 1 FROM agency_invoices ai
                 JOIN agency_referrals r ON r.id = ai.referral_id
                 WHERE ai.invoice_id = inv AND r.referred_on <= on_date)
        THEN 'referred to a collection agency'
    WHEN EXISTS (SELECT 1 FROM settlement_invoices si
                 JOIN settlements s ON s.id = si.settlement_id
                 WHERE si.invoice_id = inv AND s.offered_on <= on_date
                 AND (s.completed_on IS NULL OR s.completed_on > on_date)
                 AND (s.status <> 'expired' OR s.expires >= on_date))
        THEN 'settlement pending'
    WHEN EXISTS (SELECT 1 FROM recoup_disputed (on_date, cust) d
                 WHERE d.invoice_id = inv)
        THEN 'dispute open'
    WHEN EXISTS (SELECT 1 FROM plans pl WHERE pl.customer_id = cust
                 AND pl.started <= on_date
                 AND NOT EXISTS (SELECT 1 FROM recoup_plan_instalments (pl.id, on_date,
                     recoup_grace_days ()) x WHERE x.status = 'missed')
                 AND EXISTS (SELECT 1 FROM recoup_plan_instalments (pl.id, on_date,
                     recoup_grace_days ()) x WHERE x.status = 'pending'))
        THEN 'payment plan active'
    WHEN EXISTS (SELECT 1 FROM promises p WHERE p.customer_id = cust
                 AND p.made_on <= on_date AND (recoup_promise_status (p.id, on_date,
                 recoup_grace_days ())).status = 'pending')
        THEN 'promise to pay pending'
    WHEN (SELECT s.reason FROM account_state s WHERE s.customer_id = cust)
         IN ('dispute', 'complaint')
        THEN 'reason ' || (SELECT s.reason FROM account_state s
                           WHERE s.customer_id = cust) || ': dunning paused, routed to sales'
    ELSE '' END
$$;

-- The customers whose invoices may be paused on a date: a superset
-- (recoup_invoice_pause decides), cheap to compute for all at once, so
-- that the daily engine asks recoup_invoice_pause only about theirs.
CREATE FUNCTION recoup_pause_candidates(on_date date)
    RETURNS TABLE (customer_id bigint) LANGUAGE sql STABLE AS $$
    SELECT customer_id FROM agency_referrals WHERE referred_on <= on_date
    UNION SELECT customer_id FROM settlements WHERE offered_on <= on_date
    UNION SELECT customer_id FROM disputes WHERE opened <= on_date
    UNION SELECT customer_id FROM plans WHERE started <= on_date
    UNION SELECT customer_id FROM promises WHERE made_on <= on_date
    UNION SELECT customer_id FROM account_state WHERE reason IN ('dispute', 'complaint')
$$;
