//! Typed values for form fields: what a careful human would type so the server's
//! validation (HTML5 constraints: type, required, pattern, min/max, min/maxlength) accepts
//! the submission.
//!
//! Hidden fields are not filled: the flow builder captures them from the page at replay
//! time (CSRF tokens change per session), see `flows`.

use super::extract::{Field, FieldKind};

/// The value to send for `field`, or `None` when a browser would not send it (an
/// unchecked optional checkbox, a hidden field — captured instead).
pub fn value(field: &Field) -> Option<String> {
    let name = field.name.to_ascii_lowercase();
    let v = match &field.kind {
        FieldKind::Hidden => return None,
        FieldKind::Checkbox => {
            if !(field.required || field.checked) {
                return None;
            }
            field.value.clone().unwrap_or_else(|| "on".into())
        }
        FieldKind::Radio | FieldKind::Select => field
            .value
            .clone()
            .filter(|v| !v.is_empty())
            .or_else(|| field.options.first().cloned())
            .unwrap_or_default(),
        FieldKind::Submit => field.value.clone().unwrap_or_default(),
        FieldKind::Email => "user@example.com".into(),
        FieldKind::Password => "Passw0rd!".into(),
        FieldKind::Number => number(field),
        FieldKind::Date(kind) => field.min.clone().unwrap_or_else(|| {
            match kind.as_str() {
                "datetime-local" => "2024-01-15T12:00",
                "month" => "2024-01",
                "week" => "2024-W03",
                "time" => "12:00",
                _ => "2024-01-15",
            }
            .into()
        }),
        FieldKind::Text | FieldKind::Textarea => {
            if let Some(v) = field.value.clone().filter(|v| !v.is_empty()) {
                v
            } else {
                text(field, &name)
            }
        }
    };
    Some(v)
}

fn number(field: &Field) -> String {
    let min = field
        .min
        .as_deref()
        .and_then(|m| m.trim().parse::<f64>().ok());
    let max = field
        .max
        .as_deref()
        .and_then(|m| m.trim().parse::<f64>().ok());
    let v = match (min, max) {
        (Some(a), _) => a.ceil(),
        (None, Some(b)) => b.floor().min(1.0),
        (None, None) => 1.0,
    };
    format!("{v}")
}

fn text(field: &Field, name: &str) -> String {
    let guess = if name.contains("mail") {
        "user@example.com"
    } else if name.contains("user") || name.contains("login") {
        "user"
    } else if name.contains("phone") || name.contains("tel") {
        "5550100"
    } else if name.contains("zip") || name.contains("postal") {
        "12345"
    } else if name.contains("url") || name.contains("website") {
        "https://example.com"
    } else {
        "test"
    };
    let mut candidates = vec![
        guess.to_string(),
        "test".into(),
        "12345".into(),
        "abc123".into(),
        "Test1234".into(),
        "a".into(),
    ];
    if let Some(p) = &field.pattern {
        if let Ok(re) = regex::Regex::new(&format!("^(?:{p})$")) {
            if let Some(c) = candidates.iter().find(|c| re.is_match(c)) {
                candidates = vec![c.clone()];
            }
        }
    }
    let mut v = candidates.swap_remove(0);
    if let Some(min) = field.minlength {
        while v.chars().count() < min.min(1024) {
            v.push('x');
        }
    }
    if let Some(max) = field.maxlength {
        v = v.chars().take(max).collect();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(kind: FieldKind) -> Field {
        Field {
            name: "x".into(),
            kind,
            value: None,
            required: false,
            pattern: None,
            min: None,
            max: None,
            minlength: None,
            maxlength: None,
            options: Vec::new(),
            checked: false,
        }
    }

    #[test]
    fn typed_values_respect_constraints() {
        assert_eq!(
            value(&f(FieldKind::Email)).as_deref(),
            Some("user@example.com")
        );
        assert_eq!(value(&f(FieldKind::Hidden)), None);
        assert_eq!(value(&f(FieldKind::Checkbox)), None);
        let mut c = f(FieldKind::Checkbox);
        c.required = true;
        assert_eq!(value(&c).as_deref(), Some("on"));
        let mut n = f(FieldKind::Number);
        n.min = Some("18".into());
        assert_eq!(value(&n).as_deref(), Some("18"));
        let mut t = f(FieldKind::Text);
        t.pattern = Some("[0-9]{5}".into());
        assert_eq!(value(&t).as_deref(), Some("12345"));
        let mut t = f(FieldKind::Text);
        t.maxlength = Some(2);
        assert_eq!(value(&t).as_deref(), Some("te"));
        t.maxlength = None;
        t.minlength = Some(6);
        assert_eq!(value(&t).as_deref(), Some("testxx"));
        let mut s = f(FieldKind::Select);
        s.options = vec!["a".into(), "b".into()];
        assert_eq!(value(&s).as_deref(), Some("a"));
        assert_eq!(
            value(&f(FieldKind::Date("date".into()))).as_deref(),
            Some("2024-01-15")
        );
    }
}
