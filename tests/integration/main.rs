//! The one integration-test binary (ripgrep's layout): real servers on 127.0.0.1 port 0,
//! the built binary run as users run it, bounded request counts and durations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod compare;
mod core;
mod flows;
mod html;
mod http;
mod live;
mod load_models;
mod nginx;
mod precision;
mod remote_write;
mod thresholds;
mod tls_util;
