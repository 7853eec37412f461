-- 0016_webhook: one outbox for every outgoing webhook (src/webhook/webhook.h,
-- docs/webhooks.md), used by form routing and by the workflow action
-- "webhook".  It replaces forms_webhook (0009), whose rows move over with
-- their state, so that queued deliveries are not lost by the upgrade.
CREATE TABLE webhook_outbox (
    id KR_ID,
    source TEXT NOT NULL,  -- the module: forms, workflow
    ref TEXT NOT NULL,     -- submission or case number
    event TEXT NOT NULL,   -- form.submitted, case.state
    url TEXT NOT NULL,
    body TEXT NOT NULL,    -- JSON; emptied webhook_purge_after after the end
    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,        -- when it was sent or given up
    CHECK ((state = 'queued') = (sent_at IS NULL))
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (state, next_at);
CREATE INDEX webhook_outbox_ref ON webhook_outbox (source, ref);

INSERT INTO webhook_outbox (source, ref, event, url, body, state, attempts, next_at,
                            last_error, created_at, sent_at)
SELECT 'forms', s.number, 'form.submitted', w.url, w.body, w.state, w.attempts, w.next_at,
       w.last_error, w.created_at,
       CASE WHEN w.state = 'queued' THEN NULL ELSE COALESCE(w.sent_at, w.next_at) END
FROM forms_webhook w JOIN forms_submission s ON s.id = w.submission_id
ORDER BY w.id;

DROP TABLE forms_webhook;
