//! Core: plan runs, server-side counts, validation messages, exit codes, JSON schema, Ctrl-C.
