-- 0017: payment and cash discount (Skonto) deadlines of e-invoices and
-- their escalation (src/einvoice/einvoice_worker.c).  The worker computes
-- an invoice's deadlines once, while it waits for release: the due date
-- (BT-9, else the issue date plus einvoice_payment_days) and every Skonto
-- deadline of its payment terms, as days (YYYY-MM-DD, compared as text).
-- escalated_at is set when the ordering unit was mailed about the
-- deadline, so that it is mailed once; the list of invoices marks them.
CREATE TABLE einvoice_deadline (
    invoice_id BIGINT NOT NULL REFERENCES einvoice_invoice (id),
    kind TEXT NOT NULL CHECK (kind IN ('due', 'skonto')),
    due_day TEXT NOT NULL,
    detail TEXT,
    escalated_at BIGINT,
    PRIMARY KEY (invoice_id, kind, due_day)
);
CREATE INDEX einvoice_deadline_waiting ON einvoice_deadline (due_day) WHERE escalated_at IS NULL;
-- When the deadlines of the invoice were computed; NULL: not yet.
ALTER TABLE einvoice_invoice ADD COLUMN deadlines_at BIGINT;
