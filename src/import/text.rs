//! Recorded text as plan text: a value copied from a command line or a document must mean
//! itself in the plan, where `${VAR}` is interpolated and `{{ … }}` is a template.

/// `text` as a literal plan string: `${` becomes `$${` (the plan's escape). `Err` when it
/// holds `{{`, which the template language has no escape for.
pub fn literal(text: &str) -> Result<String, String> {
    if text.contains("{{") {
        return Err(format!(
            "`{}` contains `{{{{`, which a plan would read as a template",
            shorten(text)
        ));
    }
    Ok(text.replace("${", "$${"))
}

/// The first 60 characters of `text`, for messages.
pub(crate) fn shorten(text: &str) -> String {
    let mut s: String = text.chars().take(60).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_env_and_refuses_templates() {
        assert_eq!(literal("a${B}c").unwrap(), "a$${B}c");
        assert!(literal("{{ x }}").unwrap_err().contains("template"));
    }
}
