-- 0012_appointments: online appointment booking (src/appointments).
--
-- A location (an office with an address) has resources (counters, rooms,
-- staff) that serve catalogue services (service ids of src/catalogue, kept
-- as text: modules do not join each other's tables).  Opening hours are per
-- weekday (several intervals a day for a lunch break), exceptions per day
-- (closed, or special hours), local holidays besides the computed public
-- holidays of the location's state.
--
-- Capacity is enforced by appointment_claim: a booking claims every step of
-- its time (duration plus buffer) on its resource, and the primary key
-- (resource_id, starts_at) makes a second claim of the same step fail on
-- both backends, whatever the concurrency.
CREATE TABLE appointment_location (
    id KR_ID,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_en TEXT NOT NULL,
    unit_id BIGINT REFERENCES account_org_unit (id),
    address TEXT NOT NULL,
    directions TEXT NOT NULL DEFAULT '',
    accessibility TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    step_minutes INTEGER NOT NULL DEFAULT 15 CHECK (step_minutes BETWEEN 5 AND 60),
    buffer_minutes INTEGER NOT NULL DEFAULT 0 CHECK (buffer_minutes BETWEEN 0 AND 120)
);

CREATE TABLE appointment_resource (
    id KR_ID,
    location_id BIGINT NOT NULL REFERENCES appointment_location (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX appointment_resource_location ON appointment_resource (location_id);

CREATE TABLE appointment_resource_service (
    resource_id BIGINT NOT NULL REFERENCES appointment_resource (id) ON DELETE CASCADE,
    service_id TEXT NOT NULL,
    PRIMARY KEY (resource_id, service_id)
);

CREATE TABLE appointment_duration (
    location_id BIGINT NOT NULL REFERENCES appointment_location (id) ON DELETE CASCADE,
    service_id TEXT NOT NULL,
    minutes INTEGER NOT NULL CHECK (minutes BETWEEN 5 AND 480),
    PRIMARY KEY (location_id, service_id)
);

-- weekday 1 = Monday ... 7 = Sunday; minutes after local midnight.
CREATE TABLE appointment_hours (
    location_id BIGINT NOT NULL REFERENCES appointment_location (id) ON DELETE CASCADE,
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    opens INTEGER NOT NULL CHECK (opens BETWEEN 0 AND 1440),
    closes INTEGER NOT NULL CHECK (closes BETWEEN 0 AND 1440),
    PRIMARY KEY (location_id, weekday, opens),
    CHECK (opens < closes)
);

-- A day with its own hours: rows with opens NULL close the whole day,
-- others replace the weekday's hours.  day is 'YYYY-MM-DD' local.
CREATE TABLE appointment_exception (
    id KR_ID,
    location_id BIGINT NOT NULL REFERENCES appointment_location (id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    opens INTEGER CHECK (opens BETWEEN 0 AND 1440),
    closes INTEGER CHECK (closes BETWEEN 0 AND 1440),
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX appointment_exception_day ON appointment_exception (location_id, day);

-- Local holidays (a town's fair, the county's own day); location_id NULL
-- means every location.
CREATE TABLE appointment_holiday (
    id KR_ID,
    location_id BIGINT REFERENCES appointment_location (id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    name TEXT NOT NULL
);
CREATE INDEX appointment_holiday_day ON appointment_holiday (day);

-- status: pending (waits for the e-mail confirmation until confirm_by),
-- confirmed, checked_in, no_show, cancelled, released (never confirmed),
-- blocked (staff blocked the time; no person).
CREATE TABLE appointment_booking (
    id KR_ID,
    code TEXT NOT NULL UNIQUE,
    location_id BIGINT NOT NULL REFERENCES appointment_location (id),
    resource_id BIGINT NOT NULL REFERENCES appointment_resource (id),
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'checked_in', 'no_show',
                                           'cancelled', 'released', 'blocked')),
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    account_id BIGINT REFERENCES account_user (id) ON DELETE SET NULL,
    booked_by TEXT NOT NULL,
    ip_hash TEXT,
    confirm_hash TEXT,
    confirm_by BIGINT,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    cancelled_at BIGINT,
    checked_in_at BIGINT,
    reminded_at BIGINT,
    sequence INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX appointment_booking_start ON appointment_booking (location_id, starts_at);
CREATE INDEX appointment_booking_email ON appointment_booking (email, starts_at);
CREATE INDEX appointment_booking_ip ON appointment_booking (ip_hash, created_at);
CREATE INDEX appointment_booking_status ON appointment_booking (status, confirm_by);
CREATE INDEX appointment_booking_account ON appointment_booking (account_id, starts_at);

CREATE TABLE appointment_booking_service (
    booking_id BIGINT NOT NULL REFERENCES appointment_booking (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    service_id TEXT NOT NULL,
    PRIMARY KEY (booking_id, position)
);
CREATE INDEX appointment_booking_service_id ON appointment_booking_service (service_id);

CREATE TABLE appointment_claim (
    resource_id BIGINT NOT NULL REFERENCES appointment_resource (id),
    starts_at BIGINT NOT NULL,
    booking_id BIGINT NOT NULL REFERENCES appointment_booking (id) ON DELETE CASCADE,
    PRIMARY KEY (resource_id, starts_at)
);
CREATE INDEX appointment_claim_booking ON appointment_claim (booking_id);

-- The key of the signed personal links (cancel/move, iCal feed), made on
-- first use so that every process sharing the database signs alike.
CREATE TABLE appointment_secret (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    secret TEXT NOT NULL
);
