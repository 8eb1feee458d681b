//! The config file of `p9proxy serve --config` and `p9proxy check-config`: TOML with
//! several exports (`[[export]]`), each inheriting the keys of an optional `[defaults]`
//! table. The file is parsed with the span of every key and value (`toml::de::DeTable`),
//! and each key is read on its own (serde stops at the first error), so every error, of
//! syntax or of meaning (a missing directory, an unknown user, a listen address used
//! twice), is reported as `FILE:LINE:COL: message`.
//!
//! An export's keys are `path`, `name`, `listen` and the serve options
//! ([`ServeOptions`]: each key is a `serve` flag, read by the flag's own value parser). A
//! validated export becomes the flags of an ordinary `p9proxy serve` child (see
//! `supervisor`), rendered from its options by [`ServeOptions::to_args`]: options at
//! their default are not passed.

use std::collections::HashMap;
use std::fmt;
use std::net::ToSocketAddrs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use p9_server::listen::{ListenAddr, SocketPerms};
use serde::Deserialize;
use toml::de::{DeArray, DeString, DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use crate::options::{BackendKind, ServeOptions, REFUSED};

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
    /// Its options (every key but `path`, `name` and `listen`).
    pub options: ServeOptions,
    /// Its options as the flags of its `p9proxy serve` child, before the directory.
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

/// A table of the file, with the spans of its keys and values.
type Table<'a> = DeTable<'a>;

/// Removes `key` from `t`.
fn take<'a>(t: &mut Table<'a>, key: &str) -> Option<Spanned<DeValue<'a>>> {
    t.remove(key)
}

/// Validates the text of a config file.
pub fn parse(text: &str) -> Result<Config, Vec<Diagnostic>> {
    let lines = Lines { text };
    let root = DeTable::parse(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        vec![lines.at(&span, e.message().trim_end().to_string())]
    })?;
    let mut v = Validator {
        lines,
        errors: Vec::new(),
        seen: HashMap::new(),
    };
    let mut defaults = Table::new();
    let mut exports = Vec::new();
    for (key, value) in root.into_inner() {
        let span = value.span();
        match (key.get_ref().as_ref(), value.into_inner()) {
            ("defaults", DeValue::Table(mut t)) => {
                for k in ["path", "name"] {
                    if let Some(s) = take(&mut t, k) {
                        v.err(
                            &s.span(),
                            format!("`{k}` belongs in an [[export]], not in [defaults]"),
                        );
                    }
                }
                defaults = t;
            }
            ("export", DeValue::Array(a)) => {
                for e in a.iter() {
                    match e.get_ref() {
                        DeValue::Table(t) => exports.push((e.span(), t.clone())),
                        _ => v.err(&e.span(), "an export must be a table: [[export]]"),
                    }
                }
            }
            ("defaults", _) => v.err(&span, "defaults must be a table: [defaults]"),
            ("export", _) => v.err(&span, "export must be an array of tables: [[export]]"),
            (other, _) => v.err(
                &key.span(),
                format!("unknown field `{other}`, expected `defaults` or `export`"),
            ),
        }
    }
    if exports.is_empty() {
        v.errors.push(Diagnostic {
            line: 1,
            col: 1,
            message: "no [[export]]: nothing to serve".into(),
        });
    }
    let mut valid = Vec::new();
    for (span, mut table) in exports {
        for (k, val) in defaults.iter() {
            if !table.contains_key(k) {
                table.insert(k.clone(), val.clone());
            }
        }
        if let Some(x) = v.export(&span, table) {
            valid.push(x);
        }
    }
    if v.errors.is_empty() {
        Ok(Config { exports: valid })
    } else {
        v.errors.sort_by_key(|d| (d.line, d.col));
        // A key of [defaults] is checked with every export that inherits it.
        v.errors.dedup();
        Err(v.errors)
    }
}

/// What no two exports may share.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Exclusive {
    /// A listen address (`listen`, `metrics_listen`).
    Address,
    /// A `name`.
    Name,
    /// A `control` socket.
    ControlSocket,
}

struct Validator<'a> {
    lines: Lines<'a>,
    errors: Vec<Diagnostic>,
    /// What exports use (a normalized value) → where it was first given.
    seen: HashMap<(Exclusive, String), Diagnostic>,
}

impl<'a> Validator<'a> {
    fn err(&mut self, span: &Range<usize>, message: impl Into<String>) {
        let d = self.lines.at(span, message);
        self.errors.push(d);
    }

    /// The text of the file at `span`.
    fn source(&self, span: &Range<usize>) -> &'a str {
        self.lines.text.get(span.clone()).unwrap_or("")
    }

    /// Records `value` as used at `span`; an error if it was used before.
    fn unique(&mut self, what: Exclusive, value: String, span: &Range<usize>, shown: &str) {
        let here = self.lines.at(span, "");
        if let Some(first) = self.seen.get(&(what, value.clone())) {
            let msg = format!("{shown} is already used at line {}", first.line);
            self.err(span, msg);
        } else {
            self.seen.insert((what, value), here);
        }
    }

    /// `value` as a `T` (serde's own errors, e.g. a wrong type, at their place).
    fn typed<T: Deserialize<'a>>(&mut self, value: &Spanned<DeValue<'a>>) -> Option<T> {
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(t) => Some(t),
            Err(e) => {
                let span = e.span().unwrap_or_else(|| value.span());
                self.err(&span, e.message().to_string());
                None
            }
        }
    }

    /// Checks the value of one option key, so that every wrong key is reported (serde
    /// stops at the first): an error of its value parser is shown after the key (and
    /// the value, for "expected ..."), or after the element of an array that causes it.
    fn option(&mut self, key: &Spanned<DeString<'a>>, value: &Spanned<DeValue<'a>>) {
        let Err(e) = options_of(key, value) else {
            return;
        };
        let span = e.span().unwrap_or_else(|| value.span());
        let Some(msg) = e.message().strip_prefix(REFUSED) else {
            // serde's own: a wrong type, an unknown key.
            self.err(&span, e.message().to_string());
            return;
        };
        let k = key.get_ref();
        if let DeValue::Array(items) = value.get_ref() {
            let mut found = false;
            for item in items.iter() {
                let mut one = DeArray::new();
                one.push(item.clone());
                let alone = Spanned::new(value.span(), DeValue::Array(one));
                if let Err(e) = options_of(key, &alone) {
                    if let Some(m) = e.message().strip_prefix(REFUSED) {
                        let at = self.source(&item.span());
                        self.err(&item.span(), format!("{k}: {at}: {m}"));
                        found = true;
                    }
                }
            }
            if found {
                return;
            }
            // The array as a whole (e.g. overlapping ranges).
        }
        if msg.starts_with("expected") {
            let at = self.source(&span);
            self.err(&span, format!("{k} = {at}: {msg}"));
        } else {
            self.err(&span, format!("{k}: {msg}"));
        }
    }

    /// A listen address, checked as the supervisor (or the server) will bind it.
    fn address(&mut self, key: &str, s: &Spanned<String>) -> Option<ListenAddr> {
        let addr = match s.get_ref().parse::<ListenAddr>() {
            Ok(a) => a,
            Err(e) => {
                self.err(&s.span(), format!("{key}: {e}"));
                return None;
            }
        };
        let normal = match &addr {
            ListenAddr::Tcp(hp) => match hp.to_socket_addrs().map(|mut it| it.next()) {
                Ok(Some(sa)) => format!("tcp:{sa}"),
                Ok(None) | Err(_) => {
                    self.err(
                        &s.span(),
                        format!("{key}: {:?}: cannot resolve the host and port", s.get_ref()),
                    );
                    return None;
                }
            },
            ListenAddr::Unix(p) => {
                if !p.is_absolute() {
                    self.err(
                        &s.span(),
                        format!("{key}: a Unix socket path must be absolute"),
                    );
                    return None;
                }
                match p.parent() {
                    Some(dir) if dir.is_dir() => {}
                    _ => {
                        self.err(
                            &s.span(),
                            format!("{key}: {}: its directory does not exist", p.display()),
                        );
                        return None;
                    }
                }
                format!("unix:{}", p.display())
            }
        };
        self.unique(
            Exclusive::Address,
            normal,
            &s.span(),
            &format!("listen address {addr}"),
        );
        Some(addr)
    }

    fn path(&mut self, span: &Range<usize>, p: Option<Spanned<String>>) -> Option<PathBuf> {
        let Some(p) = p else {
            self.err(span, "this [[export]] has no `path`");
            return None;
        };
        let path = PathBuf::from(p.get_ref());
        if !path.is_absolute() {
            self.err(&p.span(), format!("path {:?} is not absolute", p.get_ref()));
            return None;
        }
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

    fn export(&mut self, span: &Range<usize>, mut table: Table<'a>) -> Option<Export> {
        let before = self.errors.len();
        let mut export_key = |k: &str| take(&mut table, k);
        let (path, name, listen) = (export_key("path"), export_key("name"), export_key("listen"));
        let path = match path {
            Some(p) => self.typed::<Spanned<String>>(&p).map(Some),
            None => Some(None),
        };
        let path = path.and_then(|p| self.path(span, p));
        let name = name.and_then(|n| self.typed::<Spanned<String>>(&n));
        if let Some(n) = &name {
            if n.get_ref().is_empty() {
                self.err(&n.span(), "name is empty");
            } else {
                let shown = format!("name {:?}", n.get_ref());
                self.unique(Exclusive::Name, n.get_ref().clone(), &n.span(), &shown);
            }
        }
        let mut addrs = Vec::new();
        match listen.map(|l| (l.span(), self.typed::<Vec<Spanned<String>>>(&l))) {
            Some((_, Some(l))) if !l.is_empty() => {
                for s in &l {
                    if let Some(a) = self.address("listen", s) {
                        addrs.push(a);
                    }
                }
            }
            Some((span, Some(_))) => {
                self.err(&span, "listen is empty: at least one address is needed")
            }
            Some((_, None)) => {}
            None => self.err(
                span,
                "this [[export]] has no `listen` (e.g. listen = [\"tcp:127.0.0.1:5640\"])",
            ),
        }

        // The serve options: each key alone first, then all of them.
        for (k, val) in table.iter() {
            self.option(k, val);
        }
        if self.errors.len() != before {
            return None;
        }
        let whole = Spanned::new(span.clone(), DeValue::Table(table.clone()));
        let options = self.typed::<ServeOptions>(&whole)?;
        let at = |k: &str| table.get(k).map_or(span.clone(), Spanned::span);
        if let Some(map) = options.map_refused_by_model() {
            self.err(
                &at(map),
                format!(
                    "{map}: not with a mapped security_model (the mapped models store the \
                     client's own ids; use squash, or passthrough)"
                ),
            );
        }
        if let Some(c) = &options.control {
            if !c.is_absolute() {
                self.err(&at("control"), "control: the socket path must be absolute");
            } else if !c.parent().is_some_and(Path::is_dir) {
                self.err(
                    &at("control"),
                    format!("control: {}: its directory does not exist", c.display()),
                );
            } else {
                let shown = format!("control socket {}", c.display());
                self.unique(
                    Exclusive::ControlSocket,
                    c.display().to_string(),
                    &at("control"),
                    &shown,
                );
            }
        }
        if let Some(m) = table.get("metrics_listen") {
            if let Some(s) = self.typed::<Spanned<String>>(m) {
                self.address("metrics_listen", &s);
            }
        }
        let socket_perms = crate::trust::socket_perms(&options)
            .map_err(|e| self.err(&at("socket_group"), e))
            .ok();
        let flags = options.to_args().map_err(|e| self.err(span, e)).ok();
        let (path, socket_perms, flags) = (path?, socket_perms?, flags?);
        if self.errors.len() != before {
            return None;
        }
        let name = name
            .map(Spanned::into_inner)
            .unwrap_or_else(|| path.display().to_string());
        Some(Export {
            name,
            path,
            listen: addrs,
            options,
            flags,
            socket_perms,
        })
    }
}

/// The serve options of a table holding `key` alone (the others at their defaults).
fn options_of<'a>(
    key: &Spanned<DeString<'a>>,
    value: &Spanned<DeValue<'a>>,
) -> Result<ServeOptions, toml::de::Error> {
    let mut t = Table::new();
    t.insert(key.clone(), value.clone());
    ServeOptions::deserialize(ValueDeserializer::from(Spanned::new(
        value.span(),
        DeValue::Table(t),
    )))
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
        match e.options.backend {
            BackendKind::Proxy => "proxy backend",
            BackendKind::Local => "local backend",
        },
        if e.options.readonly {
            ", read-only"
        } else {
            ""
        }
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
handshake_timeout = 0

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
        assert_eq!(a.options.backend, BackendKind::Local);
        assert!(a.options.readonly);
        assert_eq!(
            (a.options.poll_us, a.options.max_fids, a.options.msize_max),
            (0, 100, Some(524288))
        );
        // Flags of the options not at their default (the backend's depends on the uid),
        // in declaration order, parsed back to the same options.
        let tail = &a.flags[a.flags.len() - 9..];
        assert_eq!(
            tail,
            [
                "--readonly",
                "--poll-us",
                "0",
                "--msize-max",
                "524288",
                "--handshake-timeout",
                "0",
                "--max-fids",
                "100"
            ]
        );
        assert_eq!(ServeOptions::from_args(&a.flags).unwrap(), a.options);
        let b = &cfg.exports[1];
        assert_eq!(b.name, t.path().display().to_string());
        assert_eq!(b.options.backend, BackendKind::Proxy);
        assert_eq!(b.options.security_model, p9_server::SecurityModel::None);
        assert_eq!(b.options.squash, Some((1000, 1000)));
        assert_eq!(b.options.uid_map.len(), 2);
        let tail = &b.flags[b.flags.len() - 14..];
        assert_eq!(
            tail,
            [
                "--security-model",
                "none",
                "--squash",
                "1000:1000",
                "--uid-map",
                "0:1000:1",
                "--uid-map",
                "1:2000:10",
                "--poll-us",
                "0",
                "--handshake-timeout",
                "0",
                "--max-fids",
                "100",
            ]
        );
        assert_eq!(ServeOptions::from_args(&b.flags).unwrap(), b.options);
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
