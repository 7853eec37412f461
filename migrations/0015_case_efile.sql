-- The e-file of a workflow case is found by the case number: the engine's
-- actions (notices, closing the file) look up the case's transaction.
CREATE INDEX efile_transaction_case_ref ON efile_transaction (case_ref);
