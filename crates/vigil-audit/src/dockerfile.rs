//! Dockerfile / Containerfile parsing and the build-time checks.
//!
//! The parser follows the Dockerfile reference closely enough for auditing: parser
//! directives (`# escape=`), comments, line continuations (with comment lines inside them),
//! heredocs (`RUN <<EOF`), case-insensitive instructions, JSON (exec) and shell forms. It
//! keeps the line each instruction starts on. It does not expand build arguments; image
//! references containing `$` are skipped by the image checks rather than guessed.
//! A full BuildKit frontend port was rejected: the checks need instructions and lines only.

use crate::checks::{check_image, Sink};
use crate::model::Loc;
use crate::secrets;

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Upper-cased keyword (`RUN`, `FROM`, ...).
    pub keyword: String,
    /// Everything after the keyword, continuations joined with a space.
    pub args: String,
    /// 1-based line where the instruction starts.
    pub line: u32,
}

/// Why a file is not a Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerfileError {
    #[error("line {line}: unknown instruction '{word}'")]
    UnknownInstruction { line: u32, word: String },
    #[error("no FROM instruction")]
    NoFrom,
    #[error("line {line}: heredoc '<<{tag}' is not terminated")]
    UnterminatedHeredoc { line: u32, tag: String },
}

const KEYWORDS: &[&str] = &[
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
];

/// True when the text looks like a Dockerfile (first instruction is FROM, ARG or a directive).
pub fn looks_like_dockerfile(text: &str) -> bool {
    for line in text.lines().take(50) {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let word = t
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        return word == "FROM" || word == "ARG";
    }
    false
}

/// Parses a Dockerfile into instructions.
pub fn parse(text: &str) -> Result<Vec<Instruction>, DockerfileError> {
    let mut escape = '\\';
    let lines: Vec<&str> = text.lines().collect();
    // Parser directives: only at the very top, before any other line.
    for l in &lines {
        let t = l.trim();
        let Some(d) = t.strip_prefix('#') else { break };
        let d = d.trim();
        match d.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("escape") => {
                escape = v.trim().chars().next().unwrap_or('\\');
            }
            Some((k, _))
                if k.trim().eq_ignore_ascii_case("syntax")
                    || k.trim().eq_ignore_ascii_case("check") => {}
            _ => break,
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let t = lines[i].trim();
        i += 1;
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let mut logical = String::new();
        let mut cur = t.to_string();
        loop {
            let trimmed = cur.trim_end();
            if let Some(body) = trimmed.strip_suffix(escape) {
                logical.push_str(body);
                logical.push(' ');
                // Next physical line, skipping comment lines inside the continuation.
                let mut next = None;
                while i < lines.len() {
                    let n = lines[i].trim();
                    i += 1;
                    if n.starts_with('#') {
                        continue;
                    }
                    next = Some(n.to_string());
                    break;
                }
                match next {
                    Some(n) => cur = n,
                    None => break,
                }
            } else {
                logical.push_str(trimmed);
                break;
            }
        }
        let (word, rest) = match logical.split_once(char::is_whitespace) {
            Some((w, r)) => (w.to_ascii_uppercase(), r.trim().to_string()),
            None => (logical.to_ascii_uppercase(), String::new()),
        };
        if !KEYWORDS.contains(&word.as_str()) {
            return Err(DockerfileError::UnknownInstruction {
                line: line_no(start),
                word: word.chars().take(40).collect(),
            });
        }
        let mut args = rest;
        // Heredocs: `<<EOF` / `<<-EOF` / `<<"EOF"`: the body follows until the tag line.
        for tag in heredoc_tags(&args) {
            let mut found = false;
            while i < lines.len() {
                let body = lines[i];
                i += 1;
                if body.trim() == tag {
                    found = true;
                    break;
                }
                args.push('\n');
                args.push_str(body);
            }
            if !found {
                return Err(DockerfileError::UnterminatedHeredoc {
                    line: line_no(start),
                    tag,
                });
            }
        }
        out.push(Instruction {
            keyword: word,
            args,
            line: line_no(start),
        });
    }
    if !out.iter().any(|i| i.keyword == "FROM") {
        return Err(DockerfileError::NoFrom);
    }
    Ok(out)
}

fn line_no(idx: usize) -> u32 {
    u32::try_from(idx + 1).unwrap_or(u32::MAX)
}

fn heredoc_tags(args: &str) -> Vec<String> {
    let mut tags = Vec::new();
    let mut rest = args;
    while let Some(p) = rest.find("<<") {
        let after = &rest[p + 2..];
        let after = after.strip_prefix('-').unwrap_or(after);
        let tag: String = after
            .trim_start_matches(['"', '\''])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !tag.is_empty()
            && tag
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        {
            tags.push(tag);
        }
        rest = &rest[p + 2..];
    }
    tags
}

/// Splits `FROM [--platform=..] image [AS name]`.
fn from_parts(args: &str) -> (String, Option<String>) {
    let words: Vec<&str> = args
        .split_whitespace()
        .filter(|w| !w.starts_with("--"))
        .collect();
    let image = words.first().copied().unwrap_or("").to_string();
    let alias = match words.as_slice() {
        [_, as_kw, name, ..] if as_kw.eq_ignore_ascii_case("as") => Some(name.to_ascii_lowercase()),
        _ => None,
    };
    (image, alias)
}

/// Splits `KEY=value KEY2="v 2"` or the legacy `KEY value` form.
fn assignments(args: &str) -> Vec<(String, String)> {
    let args = args.trim();
    let first = args.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        return match args.split_once(char::is_whitespace) {
            Some((k, v)) => vec![(k.to_string(), v.trim().to_string())],
            None => vec![(args.to_string(), String::new())],
        };
    }
    let mut out = Vec::new();
    let mut chars = args.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut val = String::new();
        let mut quote: Option<char> = None;
        while let Some(&c) = chars.peek() {
            match quote {
                Some(q) if c == q => {
                    quote = None;
                    chars.next();
                }
                Some(_) => {
                    val.push(c);
                    chars.next();
                }
                None if c == '"' || c == '\'' => {
                    quote = Some(c);
                    chars.next();
                }
                None if c.is_whitespace() => break,
                None => {
                    val.push(c);
                    chars.next();
                }
            }
        }
        out.push((key, val));
    }
    out
}

fn is_root_user(u: &str) -> bool {
    let user = u.trim().trim_matches('"').split(':').next().unwrap_or("");
    user == "root" || user == "0"
}

/// True when a shell command downloads something and pipes it into a shell.
fn pipes_to_shell(cmd: &str) -> bool {
    let fetch = |s: &str| s.contains("curl") || s.contains("wget");
    let segments: Vec<&str> = cmd.split('|').collect();
    for pair in segments.windows(2) {
        let next = pair[1].trim_start();
        let shell = [
            "sh",
            "bash",
            "zsh",
            "ash",
            "dash",
            "sudo sh",
            "sudo bash",
            "sudo -E bash",
            "python",
            "python3",
            "perl",
        ]
        .iter()
        .any(|s| {
            next == *s
                || next.starts_with(&format!("{s} "))
                || next.starts_with(&format!("/bin/{s}"))
        });
        if fetch(pair[0]) && shell {
            return true;
        }
    }
    // sh -c "$(curl ...)" and bash <(curl ...)
    (cmd.contains("$(curl")
        || cmd.contains("$(wget")
        || cmd.contains("<(curl")
        || cmd.contains("<(wget"))
        && ["sh ", "bash ", "sh -c", "bash -c"]
            .iter()
            .any(|s| cmd.contains(s))
}

fn uses_sudo(cmd: &str) -> bool {
    cmd.split([';', '&', '|', '(', '`', '\n'])
        .any(|seg| seg.split_whitespace().next() == Some("sudo"))
}

/// Whether a package-manager install in `cmd` puts `sudo` into the image. Installing it is
/// the first half of using it (Checkov's CKV2_DOCKER_1 flags both); hadolint's DL3004 only
/// flags use, which `uses_sudo` covers.
fn installs_sudo(cmd: &str) -> bool {
    cmd.split([';', '&', '|', '(', '`', '\n']).any(|seg| {
        let mut words = seg
            .split_whitespace()
            .skip_while(|w| w.contains('=') && !w.starts_with('-'));
        let Some(tool) = words.next() else {
            return false;
        };
        let tool = tool.rsplit('/').next().unwrap_or(tool);
        let verbs: &[&str] = match tool {
            "apt-get" | "apt" | "aptitude" | "yum" | "dnf" | "microdnf" | "tdnf" | "zypper" => {
                &["install", "in"]
            }
            "apk" => &["add"],
            _ => return false,
        };
        let rest: Vec<&str> = words.filter(|w| !w.starts_with('-')).collect();
        rest.first().is_some_and(|v| verbs.contains(v))
            && rest[1..].iter().any(|p| {
                let name = p.split(['=', ':']).next().unwrap_or(p);
                name == "sudo" || name.starts_with("sudo-") && name.len() > 5
            })
    })
}

/// The option of a shell command that turns off TLS or package-signature verification.
fn disables_verification(cmd: &str) -> Option<&'static str> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let has = |w: &str| {
        words
            .iter()
            .any(|x| *x == w || x.starts_with(&format!("{w}=")))
    };
    let curl = words.iter().any(|w| *w == "curl" || w.ends_with("/curl"));
    if curl
        && (has("-k")
            || has("--insecure")
            || words.iter().any(|w| {
                w.starts_with('-')
                    && !w.starts_with("--")
                    && w.len() > 2
                    && w.contains('k')
                    && w.chars().skip(1).all(|c| c.is_ascii_alphabetic())
            }))
    {
        return Some("curl --insecure");
    }
    for (opt, name) in [
        ("--no-check-certificate", "wget --no-check-certificate"),
        ("--trusted-host", "pip --trusted-host"),
        ("--allow-unauthenticated", "apt-get --allow-unauthenticated"),
        ("--allow-untrusted", "apk --allow-untrusted"),
        ("--nogpgcheck", "--nogpgcheck"),
        ("--nosignature", "rpm --nosignature"),
        ("--nodigest", "rpm --nodigest"),
        ("--force-yes", "apt-get --force-yes"),
    ] {
        if has(opt) {
            return Some(name);
        }
    }
    if cmd.contains("strict-ssl false") || cmd.contains("strict-ssl=false") {
        return Some("npm strict-ssl false");
    }
    if cmd.contains("sslverify=0") || cmd.contains("sslverify=false") {
        return Some("sslverify=0");
    }
    None
}

fn insecure_env(k: &str, v: &str) -> bool {
    match k {
        "NODE_TLS_REJECT_UNAUTHORIZED" => v.trim() == "0",
        "PYTHONHTTPSVERIFY" => v.trim() == "0",
        "GIT_SSL_NO_VERIFY" => true,
        "NPM_CONFIG_STRICT_SSL" => v.trim().eq_ignore_ascii_case("false"),
        "PIP_TRUSTED_HOST" => !v.trim().is_empty(),
        _ => false,
    }
}

/// Runs the Dockerfile checks.
pub fn check(instrs: &[Instruction], sink: &mut Sink<'_>) {
    // Stages: (index of FROM, alias, image).
    let mut stages: Vec<(usize, Option<String>, String)> = Vec::new();
    for (i, ins) in instrs.iter().enumerate() {
        if ins.keyword == "FROM" {
            let (image, alias) = from_parts(&ins.args);
            stages.push((i, alias, image));
        }
    }
    let aliases: Vec<String> = stages.iter().filter_map(|s| s.1.clone()).collect();
    for (i, _, image) in &stages {
        if !aliases.contains(&image.to_ascii_lowercase()) {
            let loc = Loc::new(instrs[*i].line, "FROM");
            check_image(image, &loc, None, sink);
        }
    }
    // Effective user of the final stage, following `FROM <earlier stage>` chains.
    let mut stage_idx = stages.len().saturating_sub(1);
    let mut last_user: Option<&Instruction> = None;
    let mut guard = 0;
    loop {
        let (start, _, image) = &stages[stage_idx];
        let end = stages.get(stage_idx + 1).map_or(instrs.len(), |s| s.0);
        if let Some(u) = instrs[*start..end]
            .iter()
            .rev()
            .find(|i| i.keyword == "USER")
        {
            last_user = Some(u);
            break;
        }
        let parent = stages
            .iter()
            .position(|s| s.1.as_deref() == Some(image.to_ascii_lowercase().as_str()));
        match parent {
            Some(p) if p < stage_idx && guard < 64 => {
                stage_idx = p;
                guard += 1;
            }
            _ => break,
        }
    }
    let final_from = stages.last().map_or(1, |s| instrs[s.0].line);
    match last_user {
        None => sink.emit(
            "VGL-A050",
            &Loc::new(final_from, "FROM"),
            None,
            "final stage has no USER instruction: runs as root".into(),
        ),
        Some(u) if is_root_user(&u.args) => {
            sink.emit(
                "VGL-A051",
                &Loc::new(u.line, "USER"),
                None,
                format!("last USER is '{}'", u.args.trim()),
            );
        }
        Some(_) => {}
    }
    for ins in instrs {
        let loc = Loc::new(ins.line, ins.keyword.clone());
        match ins.keyword.as_str() {
            "ADD" => {
                let words: Vec<&str> = ins
                    .args
                    .split_whitespace()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                let has_checksum = ins.args.contains("--checksum");
                let srcs = &words[..words.len().saturating_sub(1)];
                let remote = srcs.iter().any(|s| {
                    s.starts_with("http://") || s.starts_with("https://") || s.starts_with("git@")
                });
                let archive = srcs.iter().all(|s| {
                    [
                        ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz",
                        ".tar.zst",
                    ]
                    .iter()
                    .any(|e| s.ends_with(e))
                });
                if remote && !has_checksum {
                    sink.emit("VGL-A052", &loc, None, format!("ADD {}", ins.args.trim()));
                } else if !remote && !archive {
                    sink.emit(
                        "VGL-A053",
                        &loc,
                        None,
                        format!("ADD {} (COPY would do)", ins.args.trim()),
                    );
                }
            }
            "RUN" => {
                if pipes_to_shell(&ins.args) {
                    sink.emit(
                        "VGL-A054",
                        &loc,
                        None,
                        "downloads a script and pipes it into a shell".into(),
                    );
                }
                if uses_sudo(&ins.args) {
                    sink.emit("VGL-A055", &loc, None, "uses sudo".into());
                } else if installs_sudo(&ins.args) {
                    sink.emit("VGL-A055", &loc, None, "installs sudo".into());
                }
                for m in secrets::find_in_text(&ins.args) {
                    let s = ins.args.get(m.start..m.end).unwrap_or("");
                    sink.emit(
                        "VGL-A056",
                        &loc,
                        None,
                        format!("{} in RUN ({})", m.kind.description(), secrets::redact(s)),
                    );
                }
                if let Some(opt) = disables_verification(&ins.args) {
                    sink.emit(
                        "VGL-A057",
                        &loc,
                        None,
                        format!("RUN disables verification ({opt})"),
                    );
                }
            }
            "ENV" | "ARG" => {
                for (k, v) in assignments(&ins.args) {
                    if insecure_env(&k, &v) {
                        sink.emit(
                            "VGL-A057",
                            &loc,
                            None,
                            format!("{} {k}={v} disables verification", ins.keyword),
                        );
                    }
                    if let Some(m) = secrets::check_assignment(&k, &v) {
                        let s = v.get(m.start..m.end).unwrap_or(&v);
                        sink.emit(
                            "VGL-A056",
                            &loc,
                            None,
                            format!(
                                "{} {k}: {} ({})",
                                ins.keyword,
                                m.kind.description(),
                                secrets::redact(s)
                            ),
                        );
                    }
                }
            }
            "EXPOSE"
                if ins
                    .args
                    .split_whitespace()
                    .any(|p| p.split('/').next() == Some("22")) =>
            {
                sink.emit("VGL-A027", &loc, None, "EXPOSE 22 (ssh)".into());
            }
            "LABEL" | "COPY" | "CMD" | "ENTRYPOINT" | "HEALTHCHECK" | "ONBUILD" => {
                for m in secrets::find_in_text(&ins.args) {
                    let s = ins.args.get(m.start..m.end).unwrap_or("");
                    sink.emit(
                        "VGL-A056",
                        &loc,
                        None,
                        format!(
                            "{} in {} ({})",
                            m.kind.description(),
                            ins.keyword,
                            secrets::redact(s)
                        ),
                    );
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_continuations_heredocs_and_lines() {
        let text = "# syntax=docker/dockerfile:1\nFROM debian:12 AS base\nRUN apt-get update \\\n  # comment\n  && apt-get install -y curl\nRUN <<EOF\necho hi\nEOF\nuser app\n";
        let ins = parse(text).unwrap();
        let kw: Vec<(&str, u32)> = ins.iter().map(|i| (i.keyword.as_str(), i.line)).collect();
        assert_eq!(kw, vec![("FROM", 2), ("RUN", 3), ("RUN", 6), ("USER", 9)]);
        assert!(ins[1].args.contains("apt-get install"));
        assert!(ins[2].args.contains("echo hi"));
    }

    #[test]
    fn errors() {
        assert!(matches!(
            parse("FROM a\nFOO bar\n"),
            Err(DockerfileError::UnknownInstruction { line: 2, .. })
        ));
        assert!(matches!(parse("RUN x\n"), Err(DockerfileError::NoFrom)));
        assert!(matches!(
            parse("FROM a\nRUN <<EOF\nx\n"),
            Err(DockerfileError::UnterminatedHeredoc { .. })
        ));
    }

    #[test]
    fn env_forms() {
        assert_eq!(
            assignments("A=1 B=\"two words\""),
            vec![("A".into(), "1".into()), ("B".into(), "two words".into())]
        );
        assert_eq!(
            assignments("A value with spaces"),
            vec![("A".into(), "value with spaces".into())]
        );
    }

    #[test]
    fn shell_patterns() {
        assert!(pipes_to_shell("curl -fsSL https://x/install.sh | sh"));
        assert!(pipes_to_shell("wget -qO- https://x | bash -s --"));
        assert!(pipes_to_shell("sh -c \"$(curl -fsSL https://x)\""));
        assert!(!pipes_to_shell(
            "curl -o /tmp/x https://x && sha256sum -c sums"
        ));
        assert!(uses_sudo("apt-get update && sudo apt-get install x"));
        assert!(!uses_sudo("apt-get install -y sudo"));
    }
}
