//! Leaf helpers every stage uses: did-you-mean suggestions and histogram encoding.
//!
//! At the bottom of the layer order (`crate::architecture`): nothing here may use
//! another module of the crate, so any stage can call it without creating a circle.

pub mod hist;

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()),
                *c,
            )
        })
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let keys = ["base_url", "defaults", "scenarios"];
        assert_eq!(did_you_mean("scenarois", &keys), Some("scenarios"));
        assert_eq!(did_you_mean("defualts", &keys), Some("defaults"));
        assert_eq!(did_you_mean("baseurl", &keys), Some("base_url"));
        assert_eq!(did_you_mean("zzz", &keys), None);
    }
}
