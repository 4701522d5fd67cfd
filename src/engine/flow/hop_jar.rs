//! A user's cookie jar as the redirect follower sees it (`http::redirect::HopCookies`).
//!
//! The jar keys cookies by a host number; the plan's own hosts have theirs
//! (`Program::hosts`), and a host first met in a redirect chain gets the next free number
//! for this user (`extra`), so a cookie set by a hop to another host goes back only there.
//! Without this, only the last response of a followed chain reached the jar, and a login
//! answered with `302` + `Set-Cookie` lost its session cookie (ADR-133).

use std::time::Instant;

use super::cookies::Jar;
use crate::http::conn::Origin;
use crate::http::redirect::HopCookies;
use crate::plan::Scheme;

/// Most hosts met in redirect chains that one user remembers cookies for.
const MAX_EXTRA_HOSTS: usize = 64;

/// The jar of one user, with the host numbering it needs.
pub struct HopJar<'a> {
    /// The user's jar.
    pub jar: &'a mut Jar,
    /// The plan's hosts (index = host number).
    pub hosts: &'a [String],
    /// Hosts first met in redirects by this user (number = `hosts.len()` + index).
    pub extra: &'a mut Vec<String>,
}

impl HopJar<'_> {
    fn host_id(&mut self, host: &str) -> Option<u16> {
        if let Some(i) = self.hosts.iter().position(|h| h == host) {
            return u16::try_from(i).ok();
        }
        let i = match self.extra.iter().position(|h| h == host) {
            Some(i) => i,
            None if self.extra.len() < MAX_EXTRA_HOSTS => {
                self.extra.push(host.to_string());
                self.extra.len() - 1
            }
            None => return None,
        };
        u16::try_from(self.hosts.len().saturating_add(i)).ok()
    }
}

impl HopCookies for HopJar<'_> {
    fn store(&mut self, origin: &Origin, path: &str, headers: &[(String, String)]) {
        let Some(id) = self.host_id(&origin.host) else {
            return;
        };
        let now = Instant::now();
        for (name, value) in headers {
            if name == "set-cookie" {
                self.jar.store(id, path.as_bytes(), value, now);
            }
        }
    }

    fn header(&mut self, origin: &Origin, path: &str) -> Option<String> {
        let id = self.host_id(&origin.host)?;
        let mut line = Vec::new();
        let https = origin.scheme == Scheme::Https;
        self.jar
            .write_header(id, path.as_bytes(), https, Instant::now(), &mut line);
        let value = line.strip_prefix(b"Cookie: ")?.strip_suffix(b"\r\n")?;
        Some(String::from_utf8_lossy(value).into_owned())
    }
}
