-- 0005_catalogue: the service catalogue (Leistungskatalog).
--
-- A service is kept as its whole record (canonical JSON, the import format
-- of docs/catalogue.md) plus the columns that listing, filtering and the
-- CSV export need.  The search index is built in memory from these rows
-- (src/catalogue/search.h); catalogue_state.generation changes with every
-- import, so that every server process knows when to rebuild it.
CREATE TABLE catalogue_service (
    id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 3 AND 64),
    leika TEXT CHECK (leika IS NULL OR length(leika) = 14),
    title TEXT NOT NULL,
    title_en TEXT NOT NULL,
    summary TEXT NOT NULL,
    summary_en TEXT NOT NULL,
    org_unit TEXT NOT NULL,
    life_situations TEXT NOT NULL,  -- space-separated names, e.g. 'car moving'
    online_form TEXT,
    appointment INTEGER NOT NULL DEFAULT 0 CHECK (appointment IN (0, 1)),
    last_reviewed TEXT NOT NULL,
    plain_language INTEGER NOT NULL CHECK (plain_language IN (0, 1)),
    record TEXT NOT NULL,           -- canonical JSON of the whole record
    record_hash TEXT NOT NULL,      -- SHA-256 of record: idempotency and ETag
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX catalogue_service_org_unit ON catalogue_service (org_unit);

-- Global synonym groups for the search (kreisel-synonyms/1).
CREATE TABLE catalogue_synonym (
    group_no INTEGER NOT NULL,
    position INTEGER NOT NULL,
    word TEXT NOT NULL,
    PRIMARY KEY (group_no, position)
);

-- One row: generation is bumped by every import that changes something;
-- synonyms_hash is the SHA-256 of the stored groups (canonical JSON), so
-- that importing the same synonyms again changes nothing.
CREATE TABLE catalogue_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL,
    synonyms_hash TEXT NOT NULL
);
INSERT INTO catalogue_state (id, generation, synonyms_hash) VALUES (1, 1, '');
