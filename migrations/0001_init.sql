-- 0001: plans with versions, tests, runs (see DECISION.md, ADR-101).
CREATE TABLE plans (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    description TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    deleted     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE plan_versions (
    plan_id     INTEGER NOT NULL REFERENCES plans(id),
    version     INTEGER NOT NULL,
    yaml        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (plan_id, version)
);
CREATE TABLE tests (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    plan_id     INTEGER NOT NULL REFERENCES plans(id),
    overrides   TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    source       TEXT NOT NULL,
    name         TEXT NOT NULL,
    plan_id      INTEGER,
    plan_version INTEGER,
    test_id      INTEGER,
    plan_yaml    TEXT NOT NULL,
    request      TEXT NOT NULL,
    state        TEXT NOT NULL,
    outcome      TEXT,
    error        TEXT,
    created_ms   INTEGER NOT NULL,
    started_ms   INTEGER,
    ended_ms     INTEGER,
    snapshot     TEXT,
    result       TEXT
);
CREATE INDEX runs_by_time ON runs(created_ms DESC);
