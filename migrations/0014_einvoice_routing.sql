-- 0014: who checks an e-invoice's facts.  The buyer reference (BT-10) of a
-- German public invoice is the Leitweg-ID of the ordering office; this
-- table maps Leitweg-IDs to the organisation unit whose members confirm
-- the factual correctness (sachlich richtig).  The unit is looked up when
-- the invoice arrives and kept on it (a later change of the mapping does
-- not move invoices already received).
CREATE TABLE einvoice_leitweg (
    leitweg_id TEXT PRIMARY KEY,
    org_unit_id BIGINT NOT NULL REFERENCES account_org_unit (id),
    changed_at BIGINT NOT NULL
);
ALTER TABLE einvoice_invoice ADD COLUMN org_unit_id BIGINT REFERENCES account_org_unit (id);
ALTER TABLE einvoice_invoice ADD COLUMN exported_at BIGINT;
