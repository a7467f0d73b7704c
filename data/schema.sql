-- SPDX-License-Identifier: MIT
-- wsmon history database (DESIGN section 8), compiled into the program as store_schema_sql.
--
-- Migrations: the file is a list of sections, each opened by a line "-- version N" (N = 1, 2,
-- ... in order). store_migrate() runs every section whose N is above the file's
-- PRAGMA user_version, each in its own transaction together with "PRAGMA user_version = N", so
-- a file is always at one version or the next, never in between. Sections are never edited
-- once released: a change is a new section (ALTER TABLE, CREATE INDEX, data rewrites).
--
-- Times are UTC microseconds since the epoch (INTEGER); durations are microseconds; NULL is
-- "does not apply / not reached / not known". Text that came from the network is stored as it
-- came (capped) and escaped on output; secrets are masked before they are stored.

-- version 1

-- One row per recorder session (wsmon watch, record, probe --db). A run's coverage, from
-- started_us to ended_us (or last_us after a crash: the writer refreshes it every few
-- seconds), is the time its endpoints were watched; outside it nothing is known.
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    started_us INTEGER NOT NULL,
    ended_us INTEGER,
    last_us INTEGER NOT NULL,
    pid INTEGER,
    version TEXT
);
CREATE INDEX runs_time ON runs(started_us);

-- Endpoints by name (the config section, else host[:port]/path); url with secrets masked.
CREATE TABLE endpoints (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    url TEXT,
    grp TEXT,
    via TEXT,
    first_us INTEGER,
    last_us INTEGER
);

-- Connection attempts: DESIGN section 4, one row each, rewritten as phases complete (at the
-- start, each handshake phase, open, while open once a tick when something changed, and at
-- the end), so a crash keeps what was known.
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL,
    endpoint_id INTEGER NOT NULL,
    conn INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    started_us INTEGER NOT NULL,
    opened_us INTEGER,
    ended_us INTEGER,
    is_tls INTEGER NOT NULL,
    reached TEXT NOT NULL,
    ready_state INTEGER NOT NULL,
    -- phase durations (DESIGN 3.1 timings)
    dns_us INTEGER,
    tcp_us INTEGER,
    tls_us INTEGER,
    upgrade_us INTEGER,
    open_us INTEGER,
    first_message_us INTEGER,
    total_us INTEGER,
    dns_addr TEXT,
    remote TEXT,
    local TEXT,
    -- TLS, NULL without a handshake
    have_tls INTEGER NOT NULL,
    tls_version TEXT,
    tls_cipher TEXT,
    tls_alpn TEXT,
    tls_subject TEXT,
    tls_issuer TEXT,
    tls_sans TEXT,
    tls_not_after_s INTEGER,
    tls_verify TEXT,
    tls_verify_code INTEGER,
    tls_insecure INTEGER,
    -- the upgrade response, NULL without one
    have_http INTEGER NOT NULL,
    http_status INTEGER,
    http_server TEXT,
    http_upgrade TEXT,
    http_connection TEXT,
    http_accept_ok INTEGER,
    http_location TEXT,
    http_backend TEXT,
    http_sticky TEXT,
    http_cookies TEXT, -- Set-Cookie names, ';' separated (never values)
    -- the end, NULL until it came
    close_code INTEGER,
    close_reason TEXT,
    close_by TEXT,
    close_frame INTEGER,
    close_transport TEXT,
    open_for_us INTEGER,
    sys_errno INTEGER,
    detail TEXT,
    -- while open
    pings INTEGER NOT NULL DEFAULT 0,
    pongs INTEGER NOT NULL DEFAULT 0,
    rtt_samples INTEGER NOT NULL DEFAULT 0,
    rtt_min_us INTEGER,
    rtt_median_us INTEGER,
    rtt_max_us INTEGER,
    msgs_in INTEGER NOT NULL DEFAULT 0,
    msgs_out INTEGER NOT NULL DEFAULT 0,
    bytes_in INTEGER NOT NULL DEFAULT 0,
    bytes_out INTEGER NOT NULL DEFAULT 0,
    first_msg BLOB, -- the first bytes (capped), NULL before the first message
    first_binary INTEGER,
    expect_seen INTEGER,
    -- the diagnosis (DESIGN section 5) of what was known at the last update
    class TEXT NOT NULL,
    cause TEXT,
    failed_in TEXT,
    ok INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    hint TEXT
);
-- the writer's upsert key; also "did endpoint E run in run R"
CREATE UNIQUE INDEX attempts_key ON attempts(run_id, endpoint_id, conn, seq);
-- history: attempts of an endpoint in a window, of all endpoints in a window
CREATE INDEX attempts_ep_time ON attempts(endpoint_id, started_us);
CREATE INDEX attempts_time ON attempts(started_us);
-- history: the last open before a window and the first open after it (outage edges)
CREATE INDEX attempts_ep_openend ON attempts(endpoint_id, ended_us) WHERE opened_us IS NOT NULL;
CREATE INDEX attempts_ep_open ON attempts(endpoint_id, opened_us) WHERE opened_us IS NOT NULL;

-- Ping round trips: the bulk of the file. Without rowid: the key is the only b-tree.
CREATE TABLE rtt (
    endpoint_id INTEGER NOT NULL,
    t_us INTEGER NOT NULL,
    conn INTEGER NOT NULL,
    rtt_us INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, t_us, conn)
) WITHOUT ROWID;

-- State changes and verdicts: open, closed (text = the verdict), health changes, markers.
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    t_us INTEGER NOT NULL,
    endpoint_id INTEGER,
    conn INTEGER,
    kind TEXT NOT NULL,
    class TEXT,
    code INTEGER,
    text TEXT NOT NULL
);
CREATE INDEX events_time ON events(t_us);
CREATE INDEX events_ep_time ON events(endpoint_id, t_us);

-- Operator notes: the dashboard's m key and `wsmon mark TEXT`. endpoint_id NULL = global.
CREATE TABLE markers (
    id INTEGER PRIMARY KEY,
    t_us INTEGER NOT NULL,
    endpoint_id INTEGER,
    text TEXT NOT NULL,
    source TEXT
);
CREATE INDEX markers_time ON markers(t_us);

-- version 2

-- RTT histograms per endpoint and minute, written by the store in the same transaction as the
-- rtt rows they count: for each sample, n of (endpoint_id, minute_us = t_us rounded down to
-- the minute, bucket = the log-linear bucket of rtt_us, src/rtt_hist.h) goes up by one. A
-- summary over a long window reads the full minutes from here instead of every sample.
CREATE TABLE rtt_hist (
    endpoint_id INTEGER NOT NULL,
    minute_us INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, minute_us, bucket)
) WITHOUT ROWID;
-- 1: this run's writer kept rtt_hist (version 2 and later). Runs recorded before the upgrade,
-- or by an older wsmon still writing to the file, are 0: their minutes are read from rtt.
ALTER TABLE runs ADD COLUMN rtt_hist INTEGER NOT NULL DEFAULT 0;
-- history: the timeline of an endpoint (what hist.c's tl_read reads) from the index alone
CREATE INDEX attempts_ep_tl ON attempts(endpoint_id, started_us, run_id, opened_us, ended_us,
    ok, class, cause, http_status, close_code, close_by, open_for_us, msgs_in, msgs_out, pings,
    is_tls, reached);
-- history: the attempts open across a time T (ended at or after T, started before it) without
-- reading every attempt that ended after T
CREATE INDEX attempts_ep_openend_tl ON attempts(endpoint_id, ended_us, started_us)
    WHERE opened_us IS NOT NULL;
