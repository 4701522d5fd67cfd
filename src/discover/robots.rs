//! `robots.txt` (RFC 9309): which paths the crawler may fetch.
//!
//! Why our own parser: the rules the crawler needs are small (groups by user-agent,
//! `Allow`/`Disallow` with `*` and `$`, longest match wins, `Allow` on a tie) and a crate
//! for them would add a dependency for fifty lines; the tests below pin the RFC's cases.
//! The crawler identifies as [`AGENT`]; a group naming it is used, else the `*` group.

/// The product token the crawler matches in `User-agent` lines.
pub const AGENT: &str = "loadtester";

/// A group: its user-agents and its (allow, pattern) rules.
type Group = (Vec<String>, Vec<(bool, String)>);

/// The rules that apply to this crawler.
#[derive(Debug, Default, Clone)]
pub struct Robots {
    /// (allow, pattern) pairs of the chosen group.
    rules: Vec<(bool, String)>,
}

impl Robots {
    /// Everything allowed (no robots.txt, or a 4xx for it, as RFC 9309 says).
    pub fn allow_all() -> Robots {
        Robots::default()
    }

    /// Parse robots.txt text.
    pub fn parse(text: &str) -> Robots {
        // Groups: consecutive User-agent lines, then rules.
        let mut groups: Vec<Group> = Vec::new();
        let mut in_agents = false;
        for raw in text.lines() {
            let line = raw.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim().to_string();
            match key.as_str() {
                "user-agent" => {
                    if !in_agents {
                        groups.push((Vec::new(), Vec::new()));
                        in_agents = true;
                    }
                    if let Some(g) = groups.last_mut() {
                        g.0.push(value.to_ascii_lowercase());
                    }
                }
                "allow" | "disallow" => {
                    in_agents = false;
                    if let Some(g) = groups.last_mut() {
                        // `Disallow:` with no path allows everything: no rule.
                        if !value.is_empty() {
                            g.1.push((key == "allow", value));
                        }
                    }
                }
                _ => {}
            }
        }
        let mine: Vec<(bool, String)> = groups
            .iter()
            .filter(|(agents, _)| agents.iter().any(|a| a == AGENT))
            .flat_map(|(_, r)| r.clone())
            .collect();
        let rules = if mine.is_empty()
            && !groups
                .iter()
                .any(|(agents, _)| agents.iter().any(|a| a == AGENT))
        {
            groups
                .iter()
                .filter(|(agents, _)| agents.iter().any(|a| a == "*"))
                .flat_map(|(_, r)| r.clone())
                .collect()
        } else {
            mine
        };
        Robots { rules }
    }

    /// May `path` (path and query, starting with `/`) be fetched? The longest matching
    /// rule decides; `Allow` wins a tie; no match allows.
    pub fn allows(&self, path: &str) -> bool {
        let mut best: Option<(usize, bool)> = None;
        for (allow, pat) in &self.rules {
            if matches(pat, path) {
                let len = pat.len();
                best = match best {
                    Some((l, a)) if l > len || (l == len && a) => Some((l, a)),
                    _ => Some((len, *allow)),
                };
            }
        }
        best.is_none_or(|(_, a)| a)
    }
}

/// A robots pattern: a prefix match where `*` is any run and a final `$` anchors the end.
fn matches(pattern: &str, path: &str) -> bool {
    let (pat, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let glob = if anchored {
        pat.to_string()
    } else {
        format!("{pat}*")
    };
    super::urlnorm::wildcard(&glob, path, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_group_and_longest_match() {
        let r = Robots::parse(
            "# comment\nUser-agent: *\nDisallow: /private/\nAllow: /private/open\n\nUser-agent: other\nDisallow: /\n",
        );
        assert!(r.allows("/"));
        assert!(r.allows("/public/page"));
        assert!(!r.allows("/private/"));
        assert!(!r.allows("/private/x.html"));
        assert!(r.allows("/private/open/x"));
    }

    #[test]
    fn own_group_replaces_star() {
        let r =
            Robots::parse("User-agent: *\nDisallow: /\n\nUser-agent: LoadTester\nDisallow: /tmp\n");
        assert!(r.allows("/a"));
        assert!(!r.allows("/tmp/x"));
    }

    #[test]
    fn wildcards_and_anchor() {
        let r = Robots::parse("User-agent: *\nDisallow: /*.pdf$\nDisallow: /search*q=\n");
        assert!(!r.allows("/docs/a.pdf"));
        assert!(r.allows("/docs/a.pdf.html"));
        assert!(!r.allows("/search?q=x"));
        assert!(r.allows("/search"));
    }

    #[test]
    fn empty_disallow_and_tie() {
        assert!(Robots::parse("User-agent: *\nDisallow:\n").allows("/x"));
        let r = Robots::parse("User-agent: *\nDisallow: /a\nAllow: /a\n");
        assert!(r.allows("/a"));
        assert!(Robots::allow_all().allows("/anything"));
    }
}
