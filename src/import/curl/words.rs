//! Splitting curl command lines into words as a POSIX shell would: single and double
//! quotes, `$'…'` (what browser devtools write for bodies with special characters),
//! backslash escapes and `\`-newline continuations. An unquoted newline (or `;`) ends a
//! command, so pasted text with several commands splits into one word list each.

/// Split `text` into commands, each a list of words. Errors name the line and column of an
/// unclosed quote.
pub fn split(text: &str) -> Result<Vec<Vec<String>>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0usize;
    let pos = |i: usize| {
        let before = &chars[..i.min(chars.len())];
        let line = before.iter().filter(|c| **c == '\n').count() + 1;
        let col = before.iter().rev().take_while(|c| **c != '\n').count() + 1;
        format!("{line}:{col}")
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                match chars.get(i + 1) {
                    Some('\n') => {}
                    Some('\r') if chars.get(i + 2) == Some(&'\n') => i += 1,
                    Some(n) => {
                        word.push(*n);
                        in_word = true;
                    }
                    None => {}
                }
                i += 2;
                continue;
            }
            '\'' => {
                let start = i;
                i += 1;
                loop {
                    match chars.get(i) {
                        Some('\'') => break,
                        Some(ch) => word.push(*ch),
                        None => return Err(format!("{}: unclosed `'`", pos(start))),
                    }
                    i += 1;
                }
                in_word = true;
            }
            '$' if chars.get(i + 1) == Some(&'\'') => {
                let start = i;
                i += 2;
                loop {
                    match chars.get(i) {
                        Some('\'') => break,
                        Some('\\') => {
                            i += 1;
                            let Some(e) = chars.get(i) else {
                                return Err(format!("{}: unclosed `$'`", pos(start)));
                            };
                            match e {
                                'n' => word.push('\n'),
                                't' => word.push('\t'),
                                'r' => word.push('\r'),
                                '0' => word.push('\0'),
                                'x' | 'u' | 'U' => {
                                    let max = match e {
                                        'x' => 2,
                                        'u' => 4,
                                        _ => 8,
                                    };
                                    let hex: String = chars[i + 1..]
                                        .iter()
                                        .take(max)
                                        .take_while(|h| h.is_ascii_hexdigit())
                                        .collect();
                                    let ch = u32::from_str_radix(&hex, 16)
                                        .ok()
                                        .and_then(char::from_u32)
                                        .ok_or_else(|| {
                                            format!("{}: bad `\\{e}` escape in `$'…'`", pos(i))
                                        })?;
                                    word.push(ch);
                                    i += hex.len();
                                }
                                other => word.push(*other),
                            }
                        }
                        Some(ch) => word.push(*ch),
                        None => return Err(format!("{}: unclosed `$'`", pos(start))),
                    }
                    i += 1;
                }
                in_word = true;
            }
            '"' => {
                let start = i;
                i += 1;
                loop {
                    match chars.get(i) {
                        Some('"') => break,
                        Some('\\') if matches!(chars.get(i + 1), Some('"' | '\\' | '$' | '`')) => {
                            i += 1;
                            word.push(chars[i]);
                        }
                        Some('\\') if chars.get(i + 1) == Some(&'\n') => i += 1,
                        Some(ch) => word.push(*ch),
                        None => return Err(format!("{}: unclosed `\"`", pos(start))),
                    }
                    i += 1;
                }
                in_word = true;
            }
            ' ' | '\t' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\n' | ';' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                if !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            '#' if !in_word => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            other => {
                word.push(other);
                in_word = true;
            }
        }
        i += 1;
    }
    if in_word {
        words.push(word);
    }
    if !words.is_empty() {
        commands.push(words);
    }
    Ok(commands)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn quotes_continuations_and_commands() {
        let text = "curl 'http://a/x' \\\n  -H \"X-A: \\\"q\\\"\" --data-raw $'{\"a\":\"\\u00e9\\n\"}'\ncurl b\\ c";
        let c = split(text).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(
            c[0],
            vec![
                "curl",
                "http://a/x",
                "-H",
                "X-A: \"q\"",
                "--data-raw",
                "{\"a\":\"é\n\"}"
            ]
        );
        assert_eq!(c[1], vec!["curl", "b c"]);
    }

    #[test]
    fn unclosed_quote_names_line_and_column() {
        assert_eq!(split("curl \\\n -d 'abc").unwrap_err(), "2:5: unclosed `'`");
    }
}
