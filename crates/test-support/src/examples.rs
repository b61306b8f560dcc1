//! The command examples users copy: the README's `sh` blocks and the commands quoted in
//! `--help` texts, as argument lists, so tests can run them and an example never goes stale.

/// The commands of `markdown`'s `sh` code blocks that start with `prefix` (e.g.
/// `cargo run --release -p train-cli --`), as the arguments after it, in order. Lines ending
/// in `\` continue; `#` starts a comment; shell quoting is undone. An optional group
/// `[--flag VALUE]` is kept, and of alternatives written `a|b|c` the first is taken.
pub fn markdown_commands(markdown: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in markdown.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_sh = !in_sh && trimmed == "```sh";
            pending.clear();
            continue;
        }
        if !in_sh {
            continue;
        }
        let code = strip_comment(line);
        match code.trim_end().strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head);
                pending.push(' ');
            }
            None => {
                pending.push_str(code);
                let command = std::mem::take(&mut pending);
                commands.extend(after_prefix(&command, prefix));
            }
        }
    }
    commands
}

/// The commands quoted in backticks in `text` (a `--help` output) that start with
/// `program ` (e.g. `train-cli `), as the arguments after the program name.
pub fn quoted_commands(text: &str, program: &str) -> Vec<Vec<String>> {
    // Help texts wrap long lines: join them so a quoted command is one span.
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    joined
        .split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|span| span.strip_prefix(program)?.strip_prefix(' ').map(words))
        .collect()
}

fn after_prefix(command: &str, prefix: &str) -> Option<Vec<String>> {
    let command = command.trim();
    // `cargo xtask setup && cargo run …`: each part of a chain is a command.
    command
        .split("&&")
        .map(str::trim)
        .find_map(|part| part.strip_prefix(prefix))
        .filter(|rest| rest.is_empty() || rest.starts_with(' '))
        .map(words)
}

fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '#') if i == 0 || line[..i].ends_with(' ') => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Shell words with quotes undone, then optional groups opened and alternatives resolved.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote = None;
    for c in text.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => word.push(c),
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    open_groups(out)
}

fn open_groups(words: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_group = false;
    for word in words {
        let mut w = word.as_str();
        if !in_group && w.starts_with('[') {
            in_group = true;
            w = &w[1..];
        }
        let closes = in_group && w.ends_with(']');
        if closes {
            w = &w[..w.len() - 1];
        }
        if in_group {
            w = w.split('|').next().unwrap_or(w);
        }
        out.push(w.to_string());
        if closes {
            in_group = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sh_blocks_continuations_quotes_comments_and_groups() {
        let md = "text `cargo run -p x -- no`\n```sh\n# comment\ncargo b && cargo run -p x -- --epochs 1\n\
            cargo run -p x -- a --set 'k={ t = \"v\" }' \\\n    --set b=c # trailing\n\
            cargo run -p x -- enc [--batch-size 32] [--normalize] [--device cpu|cuda]\n\
            cargo run -p xy -- other\n```\n```toml\ncargo run -p x -- toml\n```\n\
            ```sh\ncargo run -p x -- fetch [glue/mnli glue/stsb]\n```\n";
        let got = markdown_commands(md, "cargo run -p x --");
        let want: Vec<Vec<&str>> = vec![
            vec!["--epochs", "1"],
            vec!["a", "--set", "k={ t = \"v\" }", "--set", "b=c"],
            vec![
                "enc",
                "--batch-size",
                "32",
                "--normalize",
                "--device",
                "cpu",
            ],
            vec!["fetch", "glue/mnli", "glue/stsb"],
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn reads_quoted_commands_across_wrapped_help_lines() {
        let help = "Override, e.g. `train-cli --set a=b\n          --set c=d` or `--set x`;\n\
            `train-cli --epochs 1` runs it. `train-clix no`";
        assert_eq!(
            quoted_commands(help, "train-cli"),
            vec![vec!["--set", "a=b", "--set", "c=d"], vec!["--epochs", "1"]]
        );
    }
}
