-- 0006: received e-invoices and their approval workflow (src/einvoice/).
-- An invoice is stored as received (the XML or the ZUGFeRD PDF) with its
-- validation report.  Duplicates: the same seller (VAT id, else seller id,
-- else name) and invoice number.  Workflow: formally_valid ->
-- factually_correct (sachlich richtig) -> arithmetically_correct
-- (rechnerisch richtig) -> released (Anordnung, by another person than the
-- factual check) -> exported; or rejected with a reason.  Invoices that
-- fail validation are stored as rejected.
CREATE TABLE einvoice_invoice (
    id KR_ID,
    received_at BIGINT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('api', 'upload', 'directory', 'mail', 'cli')),
    container TEXT NOT NULL CHECK (container IN ('xml', 'pdf')),
    syntax TEXT NOT NULL,
    scenario TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('accept', 'reject')),
    seller_key TEXT,
    seller_name TEXT,
    seller_email TEXT,
    invoice_number TEXT,
    buyer_reference TEXT,
    issue_date TEXT,
    currency TEXT,
    amount_due TEXT,
    due_date TEXT,
    status TEXT NOT NULL CHECK (status IN ('formally_valid', 'factually_correct',
        'arithmetically_correct', 'released', 'exported', 'rejected')),
    factual_by BIGINT,
    arithmetic_by BIGINT,
    released_by BIGINT,
    reject_reason TEXT,
    changed_at BIGINT NOT NULL,
    document KR_BLOB NOT NULL,
    report TEXT NOT NULL,
    UNIQUE (seller_key, invoice_number)
);
CREATE INDEX einvoice_invoice_status ON einvoice_invoice (status, received_at);
