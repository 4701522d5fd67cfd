//! The one integration-test binary (ripgrep's layout): real servers on 127.0.0.1 port 0,
//! the built binary run as users run it, bounded request counts and durations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod codec;
mod common;
mod compare;
mod core;
mod csv_stats;
mod distributed;
mod faults;
mod flows;
mod hardening;
mod hostile;
mod html;
mod html_long;
mod http;
mod influxdb;
mod k8s;
mod library;
mod live;
mod load_models;
mod nginx;
mod otlp;
mod plan_doc;
mod plan_fuzz;
mod remote_write;
mod segments;
mod shell;
mod terminal;
mod thresholds;
mod tls_util;
