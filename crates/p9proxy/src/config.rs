//! The config file of `p9proxy serve --config` and `p9proxy check-config`: TOML with
//! several exports (`[[export]]`), each inheriting the keys of an optional `[defaults]`
//! table. Parsing keeps the span of every value (`toml::Spanned`), so each error, of
//! syntax or of meaning (a missing directory, an unknown user, a listen address used
//! twice), is reported as `FILE:LINE:COL: message`.
//!
//! A validated export becomes the flags of an ordinary `p9proxy serve` child (see
//! `supervisor`): every key maps to the serve flag of the same name, and keys that are
//! not set are not passed (the child's defaults apply).

use std::collections::HashMap;
use std::fmt;
use std::net::ToSocketAddrs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use p9_server::backend::idmap::parse_id_pair;
use p9_server::listen::{ListenAddr, SocketPerms};
use p9_server::{IdRange, RangeMap, SecurityModel};
use serde::Deserialize;
use toml::Spanned;

use crate::cli::BackendKind;

/// The values `security_model` takes (`serve --security-model`).
pub const SECURITY_MODELS: &[&str] = &["passthrough", "mapped-xattr", "mapped-file", "none"];

/// The whole file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    defaults: Option<Spanned<RawOptions>>,
    #[serde(default)]
    export: Vec<Spanned<RawOptions>>,
}

/// A size: a number of bytes or a string with a K or M suffix.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawSize {
    Bytes(u64),
    Text(String),
}

type S<T> = Option<Spanned<T>>;

/// The keys of an `[[export]]` (and of `[defaults]`, which may not hold `path` or `name`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOptions {
    path: S<String>,
    name: S<String>,
    listen: S<Vec<Spanned<String>>>,
    readonly: S<bool>,
    backend: S<String>,
    user: S<String>,
    helpers: S<u64>,
    poll_us: S<u64>,
    sandbox: S<String>,
    seccomp: S<String>,
    max_connections: S<u64>,
    max_fids: S<u64>,
    msize_max: S<RawSize>,
    security_model: S<String>,
    squash: S<String>,
    uid_map: S<Vec<Spanned<String>>>,
    gid_map: S<Vec<Spanned<String>>>,
    control: S<String>,
    allow_users: S<Vec<Spanned<String>>>,
    trust_network: S<bool>,
    socket_mode: S<String>,
    socket_group: S<String>,
}

impl RawOptions {
    /// These options, each key not set taken from `d`.
    fn or(self, d: &RawOptions) -> RawOptions {
        macro_rules! merge {
            ($($f:ident),*) => {
                RawOptions { $($f: self.$f.or_else(|| d.$f.clone()),)* }
            };
        }
        merge!(
            path,
            name,
            listen,
            readonly,
            backend,
            user,
            helpers,
            poll_us,
            sandbox,
            seccomp,
            max_connections,
            max_fids,
            msize_max,
            security_model,
            squash,
            uid_map,
            gid_map,
            control,
            allow_users,
            trust_network,
            socket_mode,
            socket_group
        )
    }
}

/// One error, at a place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line (0: the file as a whole, e.g. it cannot be read).
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}:{}: {}", self.line, self.col, self.message)
        }
    }
}

/// The errors of one file, printable as `FILE:LINE:COL: message` lines.
#[derive(Debug, Clone)]
pub struct Errors {
    /// The file.
    pub file: PathBuf,
    /// Its errors, in file order.
    pub list: Vec<Diagnostic>,
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.list.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{d}", self.file.display())?;
        }
        Ok(())
    }
}

/// One validated export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// `name`, or the path.
    pub name: String,
    /// The directory (absolute).
    pub path: PathBuf,
    /// Where its clients connect (at least one; no address is shared with another export).
    pub listen: Vec<ListenAddr>,
    /// The backend (for the summary).
    pub backend: BackendKind,
    /// Read-only (for the summary).
    pub readonly: bool,
    /// The largest msize granted, if set (for the mount hints).
    pub msize_max: Option<u32>,
    /// The flags of its `p9proxy serve` child, before the directory.
    pub flags: Vec<String>,
    /// Who may connect to its Unix listeners (the supervisor binds them).
    pub socket_perms: SocketPerms,
}

impl Export {
    /// What identifies the child serving this export: two exports with the same key are
    /// served the same way (a reload keeps their child).
    pub fn child_key(&self) -> (PathBuf, Vec<String>) {
        (self.path.clone(), self.flags.clone())
    }
}

/// A validated config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The exports, in file order.
    pub exports: Vec<Export>,
}

/// Maps byte offsets to 1-based lines and columns.
struct Lines<'a> {
    text: &'a str,
}

impl Lines<'_> {
    fn at(&self, span: &Range<usize>, message: impl Into<String>) -> Diagnostic {
        let off = span.start.min(self.text.len());
        let before = self.text.get(..off).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Diagnostic {
            line,
            col,
            message: message.into(),
        }
    }
}

/// Reads and validates `file`.
pub fn load(file: &Path) -> Result<Config, Errors> {
    let errors = |list| Errors {
        file: file.to_path_buf(),
        list,
    };
    let text = std::fs::read_to_string(file).map_err(|e| {
        errors(vec![Diagnostic {
            line: 0,
            col: 0,
            message: format!(" cannot read: {e}"),
        }])
    })?;
    parse(&text).map_err(errors)
}

/// Validates the text of a config file.
pub fn parse(text: &str) -> Result<Config, Vec<Diagnostic>> {
    let lines = Lines { text };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        vec![lines.at(&span, e.message().trim_end().to_string())]
    })?;
    let mut v = Validator {
        lines,
        errors: Vec::new(),
        listen_seen: HashMap::new(),
        names_seen: HashMap::new(),
        controls_seen: HashMap::new(),
    };
    let defaults = match raw.defaults {
        Some(d) => {
            let d = d.into_inner();
            for (key, s) in [("path", d.path.as_ref()), ("name", d.name.as_ref())] {
                if let Some(s) = s {
                    v.err(
                        &s.span(),
                        format!("`{key}` belongs in an [[export]], not in [defaults]"),
                    );
                }
            }
            d
        }
        None => RawOptions::default(),
    };
    if raw.export.is_empty() {
        v.errors.push(Diagnostic {
            line: 1,
            col: 1,
            message: "no [[export]]: nothing to serve".into(),
        });
    }
    let mut exports = Vec::new();
    for e in raw.export {
        let span = e.span();
        let opts = e.into_inner().or(&defaults);
        if let Some(x) = v.export(&span, opts) {
            exports.push(x);
        }
    }
    if v.errors.is_empty() {
        Ok(Config { exports })
    } else {
        v.errors.sort_by_key(|d| (d.line, d.col));
        Err(v.errors)
    }
}

struct Validator<'a> {
    lines: Lines<'a>,
    errors: Vec<Diagnostic>,
    /// Listen address (normalized) → where it was first given.
    listen_seen: HashMap<String, Diagnostic>,
    names_seen: HashMap<String, Diagnostic>,
    controls_seen: HashMap<String, Diagnostic>,
}

impl Validator<'_> {
    fn err(&mut self, span: &Range<usize>, message: impl Into<String>) {
        let d = self.lines.at(span, message);
        self.errors.push(d);
    }

    /// Records `key` as used at `span`; an error if it was used before.
    fn unique(&mut self, which: Which, key: String, span: &Range<usize>, what: &str) {
        let here = self.lines.at(span, "");
        let seen = match which {
            Which::Listen => &mut self.listen_seen,
            Which::Name => &mut self.names_seen,
            Which::Control => &mut self.controls_seen,
        };
        if let Some(first) = seen.get(&key) {
            let msg = format!("{what} is already used at line {}", first.line);
            self.err(span, msg);
        } else {
            seen.insert(key, here);
        }
    }

    /// A string key validated against a list of values.
    fn one_of(&mut self, key: &str, s: &Spanned<String>, values: &[&str]) -> bool {
        if values.contains(&s.get_ref().as_str()) {
            true
        } else {
            self.err(
                &s.span(),
                format!(
                    "{key} = {:?}: expected one of {}",
                    s.get_ref(),
                    values.join(", ")
                ),
            );
            false
        }
    }

    fn count(&mut self, key: &str, n: &Spanned<u64>, flags: &mut Vec<String>) {
        if *n.get_ref() == 0 || usize::try_from(*n.get_ref()).is_err() {
            self.err(
                &n.span(),
                format!("{key} = {}: expected at least 1", n.get_ref()),
            );
        } else {
            flags.push(format!("--{}", key.replace('_', "-")));
            flags.push(n.get_ref().to_string());
        }
    }

    fn listen(&mut self, s: &Spanned<String>) -> Option<ListenAddr> {
        let addr = match s.get_ref().parse::<ListenAddr>() {
            Ok(a) => a,
            Err(e) => {
                self.err(&s.span(), format!("listen: {e}"));
                return None;
            }
        };
        let key = match &addr {
            ListenAddr::Tcp(hp) => match hp.to_socket_addrs().map(|mut it| it.next()) {
                Ok(Some(sa)) => format!("tcp:{sa}"),
                Ok(None) | Err(_) => {
                    self.err(
                        &s.span(),
                        format!(
                            "listen: {:?}: cannot resolve the host and port",
                            s.get_ref()
                        ),
                    );
                    return None;
                }
            },
            ListenAddr::Unix(p) => {
                if !p.is_absolute() {
                    self.err(&s.span(), "listen: a Unix socket path must be absolute");
                    return None;
                }
                match p.parent() {
                    Some(dir) if dir.is_dir() => {}
                    _ => {
                        self.err(
                            &s.span(),
                            format!("listen: {}: its directory does not exist", p.display()),
                        );
                        return None;
                    }
                }
                format!("unix:{}", p.display())
            }
        };
        self.unique(
            Which::Listen,
            key,
            &s.span(),
            &format!("listen address {addr}"),
        );
        Some(addr)
    }

    fn export(&mut self, span: &Range<usize>, o: RawOptions) -> Option<Export> {
        let before = self.errors.len();
        let mut flags: Vec<String> = Vec::new();

        let path = match &o.path {
            None => {
                self.err(span, "this [[export]] has no `path`");
                None
            }
            Some(p) => {
                let path = PathBuf::from(p.get_ref());
                if !path.is_absolute() {
                    self.err(&p.span(), format!("path {:?} is not absolute", p.get_ref()));
                    None
                } else {
                    match std::fs::metadata(&path) {
                        Ok(m) if m.is_dir() => Some(path),
                        Ok(_) => {
                            self.err(
                                &p.span(),
                                format!("path {}: not a directory", path.display()),
                            );
                            None
                        }
                        Err(e) => {
                            self.err(&p.span(), format!("path {}: {e}", path.display()));
                            None
                        }
                    }
                }
            }
        };
        if let Some(n) = &o.name {
            if n.get_ref().is_empty() {
                self.err(&n.span(), "name is empty");
            } else {
                let key = n.get_ref().clone();
                self.unique(
                    Which::Name,
                    key,
                    &n.span(),
                    &format!("name {:?}", n.get_ref()),
                );
            }
        }
        let mut listen = Vec::new();
        match &o.listen {
            Some(l) if !l.get_ref().is_empty() => {
                for s in l.get_ref() {
                    if let Some(a) = self.listen(s) {
                        listen.push(a);
                    }
                }
            }
            Some(l) => self.err(&l.span(), "listen is empty: at least one address is needed"),
            None => self.err(
                span,
                "this [[export]] has no `listen` (e.g. listen = [\"tcp:127.0.0.1:5640\"])",
            ),
        }
        let mut backend = BackendKind::Proxy;
        if let Some(b) = &o.backend {
            if self.one_of("backend", b, &["proxy", "local"]) {
                if b.get_ref() == "local" {
                    backend = BackendKind::Local;
                }
                flags.extend(["--backend".into(), b.get_ref().clone()]);
            }
        }
        let readonly = o.readonly.as_ref().is_some_and(|r| *r.get_ref());
        if readonly {
            flags.push("--readonly".into());
        }
        if let Some(u) = &o.user {
            match p9_server::privsep::lookup(u.get_ref()) {
                Ok(_) => flags.extend(["--user".into(), u.get_ref().clone()]),
                Err(e) => self.err(&u.span(), format!("user: {e}")),
            }
        }
        if let Some(n) = &o.helpers {
            self.count("helpers", n, &mut flags);
        }
        if let Some(n) = &o.poll_us {
            if *n.get_ref() > crate::cli::MAX_POLL_US {
                self.err(
                    &n.span(),
                    format!(
                        "poll_us = {}: at most {} (0 turns polling off)",
                        n.get_ref(),
                        crate::cli::MAX_POLL_US
                    ),
                );
            } else {
                flags.extend(["--poll-us".into(), n.get_ref().to_string()]);
            }
        }
        if let Some(s) = &o.sandbox {
            if self.one_of("sandbox", s, &["namespace", "chroot", "none"]) {
                flags.extend(["--sandbox".into(), s.get_ref().clone()]);
            }
        }
        if let Some(s) = &o.seccomp {
            match s.get_ref().parse::<sandbox::SeccompMode>() {
                Ok(_) => flags.extend(["--seccomp".into(), s.get_ref().clone()]),
                Err(e) => self.err(&s.span(), format!("seccomp: {e}")),
            }
        }
        if let Some(n) = &o.max_connections {
            self.count("max_connections", n, &mut flags);
        }
        if let Some(n) = &o.max_fids {
            self.count("max_fids", n, &mut flags);
        }
        let mut msize_max = None;
        if let Some(m) = &o.msize_max {
            let parsed = match m.get_ref() {
                RawSize::Bytes(n) => crate::cli::parse_size(&n.to_string()),
                RawSize::Text(t) => crate::cli::parse_size(t),
            };
            match parsed {
                Ok(n) => {
                    msize_max = Some(n);
                    flags.extend(["--msize-max".into(), n.to_string()]);
                }
                Err(e) => self.err(&m.span(), format!("msize_max: {e}")),
            }
        }
        // Keys passed through to serve flags of the same name.
        if let Some(s) = &o.security_model {
            if self.one_of("security_model", s, SECURITY_MODELS) {
                flags.extend(["--security-model".into(), s.get_ref().clone()]);
            }
        }
        // Checked with the parsers of the serve flags themselves, so a file that passes
        // here never makes a server that refuses its flags at start.
        if let Some(s) = &o.squash {
            if parse_id_pair(s.get_ref()).is_ok() {
                flags.extend(["--squash".into(), s.get_ref().clone()]);
            } else {
                self.err(
                    &s.span(),
                    format!("squash = {:?}: expected \"UID:GID\"", s.get_ref()),
                );
            }
        }
        let mapped = o
            .security_model
            .as_ref()
            .and_then(|m| m.get_ref().parse::<SecurityModel>().ok())
            .is_some_and(SecurityModel::is_mapped);
        for (key, map) in [("uid_map", &o.uid_map), ("gid_map", &o.gid_map)] {
            let Some(map) = map else { continue };
            let mut ranges = Vec::new();
            for s in map.get_ref() {
                match s.get_ref().parse::<IdRange>() {
                    Ok(r) => {
                        ranges.push(r);
                        flags.push(format!("--{}", key.replace('_', "-")));
                        flags.push(s.get_ref().clone());
                    }
                    Err(_) => self.err(
                        &s.span(),
                        format!(
                            "{key}: {:?}: expected \"CLIENT:HOST:COUNT\" (COUNT at least 1)",
                            s.get_ref()
                        ),
                    ),
                }
            }
            if let Err(e) = RangeMap::new(ranges) {
                self.err(&map.span(), format!("{key}: {e}"));
            }
            if mapped && !map.get_ref().is_empty() {
                self.err(
                    &map.span(),
                    format!(
                        "{key}: not with a mapped security_model (the mapped models store the \
                         client's own ids; use squash, or passthrough)"
                    ),
                );
            }
        }
        if let Some(c) = &o.control {
            let p = Path::new(c.get_ref());
            if !p.is_absolute() {
                self.err(&c.span(), "control: the socket path must be absolute");
            } else if !p.parent().is_some_and(Path::is_dir) {
                self.err(
                    &c.span(),
                    format!("control: {}: its directory does not exist", p.display()),
                );
            } else {
                let key = p.display().to_string();
                self.unique(
                    Which::Control,
                    key,
                    &c.span(),
                    &format!("control socket {}", p.display()),
                );
                flags.extend(["--control".into(), c.get_ref().clone()]);
            }
        }

        // Checked with the serve flags' own parsers and resolvers.
        if let Some(users) = &o.allow_users {
            let known = p9_server::peer::Users::load();
            for u in users.get_ref() {
                if u.get_ref().parse::<u32>().is_ok() || known.uid_of(u.get_ref()).is_some() {
                    flags.extend(["--allow-user".into(), u.get_ref().clone()]);
                } else {
                    self.err(
                        &u.span(),
                        format!("allow_users: {:?}: no such user", u.get_ref()),
                    );
                }
            }
        }
        if o.trust_network.as_ref().is_some_and(|t| *t.get_ref()) {
            flags.push("--trust-network".into());
        }
        let mut socket_perms = SocketPerms::default();
        if let Some(m) = &o.socket_mode {
            match crate::cli::parse_socket_mode(m.get_ref()) {
                Ok(mode) => socket_perms.mode = mode,
                Err(e) => self.err(&m.span(), format!("socket_mode: {e}")),
            }
        }
        if let Some(g) = &o.socket_group {
            match crate::trust::group_id(g.get_ref()) {
                Ok(gid) => socket_perms.gid = Some(gid),
                Err(e) => self.err(&g.span(), format!("socket_group: {e}")),
            }
        }

        let path = path?;
        if self.errors.len() != before {
            return None;
        }
        let name = o
            .name
            .map(Spanned::into_inner)
            .unwrap_or_else(|| path.display().to_string());
        Some(Export {
            name,
            path,
            listen,
            backend,
            readonly,
            msize_max,
            flags,
            socket_perms,
        })
    }
}

#[derive(Clone, Copy)]
enum Which {
    Listen,
    Name,
    Control,
}

/// `p9proxy check-config FILE`: prints each error as `FILE:LINE:COL: message` (on
/// stderr) and fails, or prints a summary.
pub fn check(file: &Path) -> Result<(), String> {
    match load(file) {
        Err(e) => {
            eprintln!("{e}");
            Err(format!(
                "{}: {} error{}",
                file.display(),
                e.list.len(),
                if e.list.len() == 1 { "" } else { "s" }
            ))
        }
        Ok(cfg) => {
            println!(
                "{}: OK, {} export{}",
                file.display(),
                cfg.exports.len(),
                if cfg.exports.len() == 1 { "" } else { "s" }
            );
            for e in &cfg.exports {
                println!("  {}", summary(e));
            }
            Ok(())
        }
    }
}

/// One line about an export.
pub fn summary(e: &Export) -> String {
    let listen: Vec<String> = e.listen.iter().map(ToString::to_string).collect();
    format!(
        "{}: {} on {} ({}{})",
        e.name,
        e.path.display(),
        listen.join(", "),
        match e.backend {
            BackendKind::Proxy => "proxy backend",
            BackendKind::Local => "local backend",
        },
        if e.readonly { ", read-only" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(text: &str) -> Vec<(usize, usize, String)> {
        parse(text)
            .unwrap_err()
            .into_iter()
            .map(|d| (d.line, d.col, d.message))
            .collect()
    }

    #[test]
    fn good_file_gives_flags() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().display();
        let cfg = parse(&format!(
            r#"
[defaults]
backend = "local"
max_fids = 100
poll_us = 0

[[export]]
name = "a"
path = "{p}"
listen = ["tcp:127.0.0.1:5999", "unix:{p}/a.sock"]
readonly = true
msize_max = "512K"

[[export]]
path = "{p}"
listen = ["tcp:127.0.0.1:5998"]
backend = "proxy"
security_model = "none"
uid_map = ["0:1000:1", "1:2000:10"]
squash = "1000:1000"
"#
        ))
        .unwrap();
        assert_eq!(cfg.exports.len(), 2);
        let a = &cfg.exports[0];
        assert_eq!(a.name, "a");
        assert_eq!(a.backend, BackendKind::Local);
        assert_eq!(
            a.flags,
            [
                "--backend",
                "local",
                "--readonly",
                "--poll-us",
                "0",
                "--max-fids",
                "100",
                "--msize-max",
                "524288"
            ]
        );
        let b = &cfg.exports[1];
        assert_eq!(b.name, t.path().display().to_string());
        assert_eq!(
            b.flags,
            [
                "--backend",
                "proxy",
                "--poll-us",
                "0",
                "--max-fids",
                "100",
                "--security-model",
                "none",
                "--squash",
                "1000:1000",
                "--uid-map",
                "0:1000:1",
                "--uid-map",
                "1:2000:10"
            ]
        );
        assert_ne!(a.child_key(), b.child_key());
    }

    #[test]
    fn errors_have_lines() {
        // Syntax.
        assert_eq!(errs("[[export]\npath = 1\n")[0].0, 1);
        // Unknown key, at its line.
        let e = errs("[[export]]\npath = \"/\"\nlisten = [\"tcp:127.0.0.1:5999\"]\nbogus = 1\n");
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].0, e[0].1), (4, 1), "{e:?}");
        assert!(e[0].2.contains("bogus"), "{e:?}");
        // A wrong type.
        let e = errs(
            "[[export]]\npath = \"/\"\nlisten = [\"tcp:127.0.0.1:5999\"]\nreadonly = \"yes\"\n",
        );
        assert_eq!((e[0].0, e[0].1), (4, 12), "{e:?}");
        // Meaning: several errors, each at its value.
        let e = errs(
            "[[export]]\npath = \"/nonexistent-p9\"\nlisten = [\"tcp:127.0.0.1:5999\", \"udp:x\"]\n\
             backend = \"nfs\"\nuser = \"no-such-user-p9\"\nhelpers = 0\nsecurity_model = \"weird\"\n\
             uid_map = [\"1:2\"]\nmsize_max = \"1K\"\n\
             [[export]]\npath = \"/\"\nlisten = [\"tcp:127.0.0.1:5999\"]\n",
        );
        let at: Vec<(usize, usize)> = e.iter().map(|d| (d.0, d.1)).collect();
        assert_eq!(
            at,
            [
                (2, 8),
                (3, 33),
                (4, 11),
                (5, 8),
                (6, 11),
                (7, 18),
                (8, 12),
                (9, 13),
                (12, 11)
            ],
            "{e:?}"
        );
        assert!(e[8].2.contains("already used at line 3"), "{e:?}");
        // No path, no listen: at the export.
        let e = errs("[[export]]\nname = \"x\"\n");
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e.iter().all(|d| d.0 == 1), "{e:?}");
        // path in [defaults].
        let e = errs(
            "[defaults]\npath = \"/\"\n[[export]]\npath = \"/\"\nlisten = [\"unix:/tmp/x.sock\"]\n",
        );
        assert_eq!((e[0].0, e[0].1), (2, 8), "{e:?}");
        // No export at all.
        assert_eq!(errs("# nothing\n")[0].2, "no [[export]]: nothing to serve");
        // What the serve flags themselves refuse is refused here, at the map: maps with a
        // mapped model, overlapping ranges, a range reaching -1.
        let base = "[[export]]\npath = \"/\"\nlisten = [\"tcp:127.0.0.1:5999\"]\n";
        let e = errs(&format!(
            "{base}security_model = \"mapped-xattr\"\nuid_map = [\"0:1000:1\"]\n"
        ));
        assert_eq!((e.len(), e[0].0, e[0].1), (1, 5, 11), "{e:?}");
        assert!(e[0].2.contains("not with a mapped security_model"), "{e:?}");
        let e = errs(&format!("{base}poll_us = 2000000\n"));
        assert_eq!((e.len(), e[0].0, e[0].1), (1, 4, 11), "{e:?}");
        assert!(e[0].2.contains("at most 1000000"), "{e:?}");
        let e = errs(&format!("{base}gid_map = [\"0:1000:10\", \"5:3000:1\"]\n"));
        assert_eq!((e.len(), e[0].0), (1, 4), "{e:?}");
        assert!(e[0].2.contains("overlap"), "{e:?}");
        let e = errs(&format!("{base}uid_map = [\"0:4294967290:10\"]\n"));
        assert_eq!((e.len(), e[0].0, e[0].1), (1, 4, 12), "{e:?}");
    }
}
