-- Payments: receivables (Forderungen) with Kassenzeichen, bookings,
-- imported bank statements and their entries, provider payments.
-- Money is BIGINT cents everywhere.

CREATE TABLE payments_counter (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

CREATE TABLE payments_receivable (
    id KR_ID,
    kz TEXT NOT NULL UNIQUE,
    debtor_name TEXT NOT NULL,
    debtor_account_id BIGINT,
    debtor_key TEXT NOT NULL,
    purpose TEXT NOT NULL,
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    fee_cents BIGINT NOT NULL DEFAULT 0 CHECK (fee_cents >= 0),
    paid_cents BIGINT NOT NULL DEFAULT 0,
    currency TEXT NOT NULL DEFAULT 'EUR' CHECK (currency = 'EUR'),
    due_at BIGINT NOT NULL,
    case_ref TEXT,
    status TEXT NOT NULL CHECK (status IN ('open', 'partly_paid', 'paid', 'overpaid',
                                           'cancelled', 'written_off')),
    reason TEXT,
    reminders BIGINT NOT NULL DEFAULT 0,
    reminded_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX payments_receivable_status ON payments_receivable (status, due_at);
CREATE INDEX payments_receivable_case ON payments_receivable (case_ref);
CREATE INDEX payments_receivable_debtor ON payments_receivable (debtor_account_id);
CREATE INDEX payments_receivable_match ON payments_receivable (debtor_key, status);

CREATE TABLE payments_statement (
    id KR_ID,
    format TEXT NOT NULL,
    account TEXT NOT NULL,
    stmt_id TEXT NOT NULL,
    entries BIGINT NOT NULL DEFAULT 0,
    matched BIGINT NOT NULL DEFAULT 0,
    unmatched BIGINT NOT NULL DEFAULT 0,
    actor TEXT NOT NULL,
    imported_at BIGINT NOT NULL,
    UNIQUE (account, stmt_id)
);

CREATE TABLE payments_entry (
    id KR_ID,
    statement_id BIGINT NOT NULL REFERENCES payments_statement (id),
    entry_key TEXT NOT NULL UNIQUE,
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    credit INTEGER NOT NULL,
    booked_at BIGINT NOT NULL,
    ref TEXT NOT NULL,
    debtor_name TEXT NOT NULL,
    remittance TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('matched', 'unmatched', 'assigned', 'ignored')),
    match TEXT NOT NULL,
    receivable_id BIGINT REFERENCES payments_receivable (id)
);
CREATE INDEX payments_entry_statement ON payments_entry (statement_id, id);
CREATE INDEX payments_entry_status ON payments_entry (status, id);

CREATE TABLE payments_booking (
    id KR_ID,
    receivable_id BIGINT NOT NULL REFERENCES payments_receivable (id),
    amount_cents BIGINT NOT NULL CHECK (amount_cents <> 0),
    source TEXT NOT NULL CHECK (source IN ('statement', 'manual', 'provider', 'reversal')),
    entry_id BIGINT REFERENCES payments_entry (id),
    note TEXT,
    actor TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX payments_booking_receivable ON payments_booking (receivable_id, id);
CREATE INDEX payments_booking_created ON payments_booking (created_at, id);

CREATE TABLE payments_payment (
    id KR_ID,
    receivable_id BIGINT NOT NULL REFERENCES payments_receivable (id),
    provider TEXT NOT NULL,
    provider_ref TEXT NOT NULL,
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    status TEXT NOT NULL CHECK (status IN ('created', 'pending', 'paid', 'failed',
                                           'refunded')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (provider, provider_ref)
);

CREATE TABLE payments_callback (
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (provider, event_id)
);
