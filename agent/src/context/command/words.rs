//! Reading a command line as words: splitting a shell script into simple
//! commands, normalising a program name (`/usr/bin/python3.11` → `python`),
//! and stepping over `NAME=value` assignments, options and operands.
//!
//! It knows no program: it must never decide a category.

/// Drops leading `NAME=value` words.
pub(super) fn skip_assignments<'a, 'b>(words: &'a [&'b str]) -> &'a [&'b str] {
    let count = words.iter().take_while(|w| is_assignment(w)).count();
    &words[count..]
}

pub(super) fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// `./node_modules/.bin/jest` → `jest`; `python3.12` → `python`;
/// `clang-17` → `clang`; `manage.py` stays.
pub(super) fn program_name(word: &str) -> String {
    let base = word.rsplit(['/', '\\']).next().unwrap_or(word);
    let mut name = base.to_ascii_lowercase();
    for ext in [".exe", ".cmd", ".bat"] {
        if let Some(stripped) = name.strip_suffix(ext) {
            name = stripped.to_string();
        }
    }
    for family in ["python", "pypy", "pip"] {
        if name.starts_with(family)
            && name[family.len()..]
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.')
        {
            return family.to_string();
        }
    }
    if let Some((stem, version)) = name.rsplit_once('-')
        && !version.is_empty()
        && version.chars().all(|c| c.is_ascii_digit() || c == '.')
    {
        return stem.to_string();
    }
    name
}

/// Skips options (words starting with `-`, and the value of each option
/// listed in `with_value`) up to the first operand; `--` ends options.
pub(super) fn skip_options<'a, 'b>(words: &'a [&'b str], with_value: &[&str]) -> &'a [&'b str] {
    let mut i = 0;
    while let Some(word) = words.get(i) {
        if *word == "--" {
            return &words[i + 1..];
        }
        if !word.starts_with('-') || *word == "-" {
            break;
        }
        i += if with_value.contains(word) { 2 } else { 1 };
    }
    &words[i.min(words.len())..]
}

/// Skips `n` operands (e.g. the duration of `timeout 5m cmd`).
pub(super) fn skip_operands<'a, 'b>(words: &'a [&'b str], n: usize) -> &'a [&'b str] {
    &words[n.min(words.len())..]
}

/// The first word that is not an option (`cargo +nightly --locked test` → `test`).
pub(super) fn first_operand<'b>(words: &[&'b str]) -> Option<&'b str> {
    words
        .iter()
        .copied()
        .find(|w| !w.starts_with('-') && !w.starts_with('+'))
}

/// The words after the first operand.
pub(super) fn after_operand<'a, 'b>(words: &'a [&'b str]) -> &'a [&'b str] {
    match words
        .iter()
        .position(|w| !w.starts_with('-') && !w.starts_with('+'))
    {
        Some(i) => &words[i + 1..],
        None => &[],
    }
}

/// `make` and task runner targets: operands that are not `VAR=value` and
/// not the value of `-C dir`, `-f file`, `-j N`.
pub(super) fn make_targets<'b>(words: &[&'b str]) -> Vec<&'b str> {
    let mut targets = Vec::new();
    let mut skip_next = false;
    for word in words {
        if skip_next {
            skip_next = false;
        } else if matches!(
            *word,
            "-C" | "-f" | "-j" | "-l" | "-o" | "-W" | "-I" | "--file" | "--directory"
        ) {
            skip_next = true;
        } else if !word.starts_with('-') && !is_assignment(word) {
            targets.push(*word);
        }
    }
    targets
}

/// Splits a shell script into simple commands of words: quotes and
/// backslashes are honoured; `;`, `&`, `|`, newlines and parentheses
/// separate commands. Not a full shell parser, enough to find programs.
pub fn split_shell(script: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let end_word = |word: &mut String, words: &mut Vec<String>, in_word: &mut bool| {
        if *in_word {
            words.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(escaped) = chars.next() {
                                word.push(escaped);
                            }
                        }
                        _ => word.push(q),
                    }
                }
            }
            '\\' => {
                if let Some(escaped) = chars.next() {
                    in_word = true;
                    if escaped != '\n' {
                        word.push(escaped);
                    }
                }
            }
            ';' | '&' | '|' | '\n' | '(' | ')' => {
                end_word(&mut word, &mut words, &mut in_word);
                if !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            '#' if !in_word => {
                // A comment runs to the end of the line.
                for q in chars.by_ref() {
                    if q == '\n' {
                        break;
                    }
                }
                end_word(&mut word, &mut words, &mut in_word);
                if !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            c if c.is_whitespace() => end_word(&mut word, &mut words, &mut in_word),
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    end_word(&mut word, &mut words, &mut in_word);
    if !words.is_empty() {
        commands.push(words);
    }
    commands
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_names_are_normalised() {
        assert_eq!(program_name("/usr/bin/python3.11"), "python");
        assert_eq!(program_name("pip3"), "pip");
        assert_eq!(program_name("clang-17"), "clang");
        assert_eq!(program_name("C:\\tools\\npm.cmd"), "npm");
        assert_eq!(program_name("golangci-lint"), "golangci-lint");
    }

    #[test]
    fn shell_splitting_honours_quotes_and_separators() {
        assert_eq!(
            split_shell("cd 'a b' && FOO=\"x y\" make test | tee out; echo \\; # done"),
            vec![
                vec!["cd", "a b"],
                vec!["FOO=x y", "make", "test"],
                vec!["tee", "out"],
                vec!["echo", ";"],
            ]
        );
    }
}
