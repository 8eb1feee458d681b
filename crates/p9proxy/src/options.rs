//! The options of one export, declared once: each field is a `p9proxy serve` flag (clap)
//! and a key of the config file's `[defaults]` and `[[export]]` tables (serde, the field's
//! name), read by the same value parser on both sides, and rendered back to flags by
//! [`ServeOptions::to_args`] (how the `--config` supervisor starts one `serve` per
//! export). A new option is one field here.
//!
//! Transport flags (the directory, `--listen`, `--stdio`, `--fd`) and logging (`-v`,
//! `--trace`) are not export options: they stay in [`crate::cli::ServeArgs`].

use std::fmt;
use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, FromArgMatches, ValueEnum};
use p9_server::backend::idmap::parse_id_pair;
use p9_server::listen::ListenAddr;
use p9_server::{IdRange, RangeMap, SecurityModel};
use sandbox::SeccompMode;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::sandbox::SandboxMode;

/// Which backend does the file system work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// Privileged helper processes over the 9p proxy protocol; the server runs unprivileged.
    Proxy,
    /// In-process, confined to the export.
    Local,
}

/// The `--security-model` flag's parser: the models' names, and QEMU's other name for
/// `mapped-xattr`, `mapped` (taken on the command line only, as before).
fn security_model_parser() -> impl TypedValueParser<Value = SecurityModel> {
    let names = SecurityModel::ALL.map(|m| {
        let v = PossibleValue::new(m.name());
        if m == SecurityModel::MappedXattr {
            v.alias("mapped")
        } else {
            v
        }
    });
    PossibleValuesParser::new(names).try_map(|s| s.parse::<SecurityModel>())
}

/// A security model by its name (no alias), or `expected one of ...`.
fn parse_security_model(s: &str) -> Result<SecurityModel, String> {
    SecurityModel::ALL
        .into_iter()
        .find(|m| m.name() == s)
        .ok_or_else(|| {
            let names: Vec<&str> = SecurityModel::ALL.iter().map(|m| m.name()).collect();
            format!("expected one of {}", names.join(", "))
        })
}

/// The largest `poll_us` (one second: polling longer than that is never useful).
pub const MAX_POLL_US: u64 = 1_000_000;

/// The options of one export: `serve` flags and config keys.
#[derive(Debug, Clone, PartialEq, Eq, Args, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeOptions {
    /// Which backend does the file system work [default: proxy as root, local otherwise].
    #[arg(long, value_enum, default_value_t = crate::identity::default_backend(), hide_default_value = true)]
    #[serde(deserialize_with = "de::backend", serialize_with = "ser::display")]
    pub backend: BackendKind,

    /// Where the client's owners, modes and device numbers live, as QEMU's
    /// security_model: passthrough (the host's owners: needs root for other ids),
    /// mapped-xattr (user.virtfs.* xattrs; no privilege needed), mapped-file
    /// (.virtfs_metadata files; no privilege needed), none (like passthrough, owners of
    /// creations set best effort).
    #[arg(long, value_name = "MODEL", default_value = "passthrough",
          value_parser = security_model_parser())]
    #[serde(
        deserialize_with = "de::security_model",
        serialize_with = "ser::display"
    )]
    pub security_model: SecurityModel,

    /// Every uid and gid the client gives (owners of creations, chown) becomes UID:GID
    /// (on the host in passthrough and none, in the metadata in the mapped models).
    /// What the client sees is not changed.
    #[arg(long, value_name = "UID:GID", value_parser = parse_squash)]
    #[serde(deserialize_with = "de::squash", serialize_with = "ser::squash")]
    pub squash: Option<(u32, u32)>,

    /// Maps client uids CLIENT..CLIENT+COUNT to host uids HOST..HOST+COUNT (repeatable;
    /// like /proc/PID/uid_map with the client inside). With maps given, an unmapped
    /// client uid is refused (EINVAL) and an unmapped host uid shows as 65534. Not with
    /// the mapped models (there the client's ids are stored as they are).
    #[arg(long, value_name = "CLIENT:HOST:COUNT", value_parser = parse_id_range)]
    #[serde(deserialize_with = "de::id_map", serialize_with = "ser::display_all")]
    pub uid_map: Vec<IdRange>,

    /// The same for gids.
    #[arg(long, value_name = "CLIENT:HOST:COUNT", value_parser = parse_id_range)]
    #[serde(deserialize_with = "de::id_map", serialize_with = "ser::display_all")]
    pub gid_map: Vec<IdRange>,

    /// Trust this user's connections (a name or uid; repeatable): they may attach as any
    /// user, as a VM monitor or a root mount needs. Every other local peer, identified by
    /// the kernel (SO_PEERCRED on Unix sockets, the socket's owner for loopback TCP),
    /// acts as itself whatever it claims [default: root when run as root, else the
    /// server's own user].
    #[arg(long = "allow-user", value_name = "NAME|UID", value_parser = parse_allowed_user)]
    #[serde(deserialize_with = "de::allowed_users")]
    pub allow_users: Vec<String>,

    /// Serve peers the kernel cannot identify (TCP from other hosts) as trusted: they
    /// may attach as any user. Only for listeners that trusted machines alone can reach;
    /// without it such peers are refused (EACCES to their Tattach).
    #[arg(long)]
    pub trust_network: bool,

    /// Mode of Unix listening sockets (octal) [default: 0600: the starting user only].
    #[arg(long, value_name = "OCTAL", value_parser = parse_socket_mode)]
    #[serde(deserialize_with = "de::socket_mode", serialize_with = "ser::octal")]
    pub socket_mode: Option<u32>,

    /// Group of Unix listening sockets (a name or gid) [default: the starting user's].
    #[arg(long, value_name = "GROUP", value_parser = parse_group)]
    #[serde(deserialize_with = "de::group")]
    pub socket_group: Option<String>,

    /// Export read-only: every change answers EROFS (opens for writing too).
    #[arg(long)]
    pub readonly: bool,

    /// With --backend proxy: the user the server drops to once the helper runs
    /// [default: p9proxy, the system user the Debian package creates; nobody, with a
    /// warning, where there is none].
    #[arg(long, value_name = "NAME", value_parser = parse_user)]
    #[serde(deserialize_with = "de::user")]
    pub user: Option<String>,

    /// With --backend proxy: use the helper listening on this Unix socket (ours, or
    /// QEMU's virtfs-proxy-helper) instead of starting one.
    #[arg(long, value_name = "PATH")]
    pub helper_socket: Option<PathBuf>,

    /// With --backend proxy: the helper program to start
    /// [default: virtfs-proxy-helper next to this program].
    #[arg(long, value_name = "PATH", conflicts_with = "helper_socket")]
    pub helper: Option<PathBuf>,

    /// With --backend proxy: an extra flag for every helper started (repeatable), e.g.
    /// --helper-arg=--poll-us=0.
    #[arg(long = "helper-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub helper_args: Vec<String>,

    /// With --backend proxy: how many helper connections serve requests at once (a
    /// connection whose request finds every helper busy waits for one).
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = parse_count)]
    #[serde(deserialize_with = "de::count")]
    pub helpers: usize,

    /// Adaptive polling: while at most half the CPUs' worth of connections are busy, a
    /// connection polls up to this many microseconds for its client's next request (and
    /// for a helper's reply) before it sleeps; a sleeping CPU is slow to wake (0: always
    /// sleep at once).
    #[arg(long = "poll-us", value_name = "US", default_value_t = 50, value_parser = parse_poll_us)]
    #[serde(deserialize_with = "de::poll_us")]
    pub poll_us: u64,

    /// Largest msize to grant, in bytes (K and M suffixes work)
    /// [default: 4M on Unix sockets and descriptors, 1M on TCP].
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    #[serde(deserialize_with = "de::size")]
    pub msize_max: Option<u32>,

    /// Most clients served at once; more are closed as soon as they connect.
    #[arg(long, value_name = "N", default_value_t = p9_server::listen::DEFAULT_MAX_CONNECTIONS,
          value_parser = parse_count)]
    #[serde(deserialize_with = "de::count")]
    pub max_connections: usize,

    /// Most connections one untrusted local user (a peer that acts as itself) holds at
    /// once; more of its connections are closed as soon as they connect.
    #[arg(long, value_name = "N", default_value_t = p9_server::peer::DEFAULT_MAX_CONNECTIONS_PER_USER,
          value_parser = parse_count)]
    #[serde(deserialize_with = "de::count")]
    pub max_connections_per_user: usize,

    /// Seconds a new connection has to complete its handshake (Tversion, then Tattach)
    /// before it is closed, so that clients that connect and say nothing cannot hold
    /// every connection slot (0: no limit).
    #[arg(long, value_name = "SECS", default_value_t = p9_server::listen::DEFAULT_HANDSHAKE_TIMEOUT.as_secs())]
    pub handshake_timeout: u64,

    /// Most fids per connection; past it, requests making new fids fail with EMFILE.
    #[arg(long, value_name = "N", default_value_t = p9_server::DEFAULT_MAX_FIDS, value_parser = parse_count)]
    #[serde(deserialize_with = "de::count")]
    pub max_fids: usize,

    /// How the server confines itself: new PID/mount/network/IPC/UTS namespaces and a chroot
    /// (an empty root with the proxy backend, the export with the local one), a chroot
    /// only, or nothing [default: namespace as root, none otherwise].
    #[arg(long, value_enum, value_name = "MODE")]
    #[serde(deserialize_with = "de::sandbox", serialize_with = "ser::opt_display")]
    pub sandbox: Option<SandboxMode>,

    /// What a syscall outside the server's allowlist does: kill the server, be logged by
    /// the kernel and allowed, or no filter.
    #[arg(long, value_name = "kill|log|off", default_value = "kill")]
    #[serde(deserialize_with = "de::seccomp", serialize_with = "ser::display")]
    pub seccomp: SeccompMode,

    /// Serve statistics on a Unix socket (mode 0600; its directory is made if missing),
    /// for `p9proxy stats` (which looks at /run/p9proxy/control.sock by default).
    #[arg(long, value_name = "PATH")]
    pub control: Option<PathBuf>,

    /// Serve the statistics in the Prometheus text format on GET /metrics (plain HTTP) at
    /// tcp:HOST:PORT or unix:PATH. No authentication: keep it on loopback.
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    #[serde(deserialize_with = "de::listen", serialize_with = "ser::opt_display")]
    pub metrics_listen: Option<ListenAddr>,
}

impl Default for ServeOptions {
    /// Every option at its flag's default.
    fn default() -> Self {
        ServeOptions::from_args(std::iter::empty::<String>())
            .unwrap_or_else(|e| unreachable!("the options' defaults do not parse: {e}"))
    }
}

impl ServeOptions {
    /// The flags alone (no directory, no other `serve` flag).
    fn command() -> clap::Command {
        ServeOptions::augment_args(clap::Command::new("serve").no_binary_name(true))
    }

    /// Parses flags (what [`ServeOptions::to_args`] renders).
    pub fn from_args<I, T>(args: I) -> Result<ServeOptions, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let m = Self::command().try_get_matches_from(args)?;
        ServeOptions::from_arg_matches(&m)
    }

    /// The flags that give these options to `p9proxy serve`: one per option that is not
    /// at its default (`--flag VALUE`, repeated for lists, `--flag=VALUE` for a value that
    /// starts with `-`; `--flag` for a switch).
    pub fn to_args(&self) -> Result<Vec<String>, String> {
        let table = |o: &ServeOptions| {
            toml::Table::try_from(o).map_err(|e| format!("cannot render the options: {e}"))
        };
        let (ours, defaults) = (table(self)?, table(&ServeOptions::default())?);
        let mut args = Vec::new();
        let push = |args: &mut Vec<String>, long: &str, value: String| {
            if value.starts_with('-') {
                args.push(format!("--{long}={value}"));
            } else {
                args.extend([format!("--{long}"), value]);
            }
        };
        for arg in Self::command().get_arguments() {
            let key = arg.get_id().as_str();
            let long = arg
                .get_long()
                .ok_or_else(|| format!("option {key} has no long flag"))?;
            let value = ours.get(key);
            if value == defaults.get(key) {
                continue;
            }
            let scalar = |v: &toml::Value| match v {
                toml::Value::String(s) => Ok(s.clone()),
                toml::Value::Integer(n) => Ok(n.to_string()),
                other => Err(format!("option {key}: cannot render {other}")),
            };
            match value {
                Some(toml::Value::Boolean(true)) => args.push(format!("--{long}")),
                Some(toml::Value::Array(items)) => {
                    for v in items {
                        push(&mut args, long, scalar(v)?);
                    }
                }
                None | Some(toml::Value::Boolean(false)) => {
                    return Err(format!("option {key}: cannot render its being unset"))
                }
                Some(v) => push(&mut args, long, scalar(v)?),
            }
        }
        Ok(args)
    }

    /// The options given on the command line of `m`: their flag (`--flag`) and key.
    pub fn given(m: &ArgMatches) -> Vec<(String, String)> {
        let on_command_line =
            |a: &&clap::Arg| m.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine);
        Self::command()
            .get_arguments()
            .filter(on_command_line)
            .filter_map(|a| Some((format!("--{}", a.get_long()?), a.get_id().to_string())))
            .collect()
    }

    /// The keys and their flags (`key (--flag)` where the flag is not the key with `-`
    /// for `_`), as the help lists them.
    pub fn keys_and_flags() -> Vec<String> {
        Self::command()
            .get_arguments()
            .filter_map(|a| {
                let (key, long) = (a.get_id().as_str(), a.get_long()?);
                Some(if long == key.replace('_', "-") {
                    key.to_string()
                } else {
                    format!("{key} (--{long})")
                })
            })
            .collect()
    }

    /// The id map that the security model refuses (the mapped models store the client's
    /// own ids): `uid_map` or `gid_map`.
    pub fn map_refused_by_model(&self) -> Option<&'static str> {
        if !self.security_model.is_mapped() {
            None
        } else if !self.uid_map.is_empty() {
            Some("uid_map")
        } else if !self.gid_map.is_empty() {
            Some("gid_map")
        } else {
            None
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        value_name(self, f)
    }
}

impl fmt::Display for SandboxMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        value_name(self, f)
    }
}

/// A value enum's name on the command line (and in the config file).
fn value_name<T: ValueEnum>(v: &T, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match v.to_possible_value() {
        Some(p) => f.write_str(p.get_name()),
        None => Err(fmt::Error),
    }
}

/// A value enum from its name (no alias), or `expected one of ...`.
fn parse_value_enum<T: ValueEnum>(s: &str) -> Result<T, String> {
    let names = || {
        T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|p| p.get_name().to_string())
            .collect::<Vec<_>>()
    };
    T::value_variants()
        .iter()
        .find(|v| v.to_possible_value().is_some_and(|p| p.get_name() == s))
        .cloned()
        .ok_or_else(|| format!("expected one of {}", names().join(", ")))
}

// The value parsers, shared by the command line (clap) and the config file (serde, `de`).
// A message starting with "expected" is shown after the value ("key = VALUE: expected
// ...", clap shows the value itself); others after the key.

fn parse_listen(s: &str) -> Result<ListenAddr, String> {
    s.parse()
}

/// At least 1.
fn parse_count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected at least 1".into()),
    }
}

fn parse_poll_us(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n <= MAX_POLL_US => Ok(n),
        _ => Err(format!("at most {MAX_POLL_US} (0 turns polling off)")),
    }
}

/// Parses `65536`, `64K`, `4M`, `4MiB`.
pub fn parse_size(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let (digits, mult) = match t
        .trim_end_matches("iB")
        .trim_end_matches('B')
        .char_indices()
        .last()
    {
        Some((i, 'K' | 'k')) => (&t[..i], 1024u64),
        Some((i, 'M' | 'm')) => (&t[..i], 1024 * 1024),
        _ => (t, 1),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 1048576, 512K, 4M)"))?;
    let v = n
        .checked_mul(mult)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| format!("{s:?} is too large"))?;
    if v < p9_server::MIN_MSIZE {
        return Err(format!("msize must be at least {}", p9_server::MIN_MSIZE));
    }
    Ok(v)
}

/// Parses an octal socket mode (`660`, `0660`): permission bits only.
pub fn parse_socket_mode(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s.trim_start_matches("0o"), 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err(format!(
            "{s:?} is not an octal mode of permission bits (e.g. 0660)"
        )),
    }
}

fn parse_squash(s: &str) -> Result<(u32, u32), String> {
    parse_id_pair(s).map_err(|_| "expected \"UID:GID\"".into())
}

fn parse_id_range(s: &str) -> Result<IdRange, String> {
    s.parse()
        .map_err(|_| "expected \"CLIENT:HOST:COUNT\" (COUNT at least 1)".into())
}

/// A user that exists (a name; `--user`).
fn parse_user(s: &str) -> Result<String, String> {
    p9_server::privsep::lookup(s).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}

/// A user that exists or a uid (`--allow-user`).
fn parse_allowed_user(s: &str) -> Result<String, String> {
    if s.parse::<u32>().is_ok() || p9_server::peer::Users::load().uid_of(s).is_some() {
        Ok(s.to_string())
    } else {
        Err("no such user".into())
    }
}

/// A group that exists or a gid (`--socket-group`).
fn parse_group(s: &str) -> Result<String, String> {
    crate::trust::group_id(s)?;
    Ok(s.to_string())
}

/// The config file's side of the value parsers: the TOML value (a string; a number for
/// numbers) through the parser of the flag.
mod de {
    use super::*;

    /// Marks a message of a value parser (as opposed to serde's own, e.g. a wrong type),
    /// so the config file's errors can name the key: see `config`.
    pub const REFUSED: char = '\u{1}';

    fn refused<E: serde::de::Error>(msg: String) -> E {
        E::custom(format!("{REFUSED}{msg}"))
    }

    fn text<'de, D: Deserializer<'de>, T>(
        d: D,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, D::Error> {
        parse(&String::deserialize(d)?).map_err(refused)
    }

    fn number<'de, D: Deserializer<'de>, T>(
        d: D,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, D::Error> {
        parse(&u64::deserialize(d)?.to_string()).map_err(refused)
    }

    fn texts<'de, D: Deserializer<'de>, T>(
        d: D,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Vec<T>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| parse(s))
            .collect::<Result<_, _>>()
            .map_err(refused)
    }

    pub fn backend<'de, D: Deserializer<'de>>(d: D) -> Result<BackendKind, D::Error> {
        text(d, parse_value_enum)
    }
    pub fn sandbox<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SandboxMode>, D::Error> {
        text(d, parse_value_enum).map(Some)
    }
    pub fn security_model<'de, D: Deserializer<'de>>(d: D) -> Result<SecurityModel, D::Error> {
        text(d, parse_security_model)
    }
    pub fn seccomp<'de, D: Deserializer<'de>>(d: D) -> Result<SeccompMode, D::Error> {
        text(d, str::parse)
    }
    pub fn squash<'de, D: Deserializer<'de>>(d: D) -> Result<Option<(u32, u32)>, D::Error> {
        text(d, parse_squash).map(Some)
    }
    /// Each range, then the map as a whole (no overlap).
    pub fn id_map<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IdRange>, D::Error> {
        let ranges = texts(d, parse_id_range)?;
        RangeMap::new(ranges.clone()).map_err(refused)?;
        Ok(ranges)
    }
    pub fn allowed_users<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        texts(d, parse_allowed_user)
    }
    pub fn socket_mode<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        text(d, parse_socket_mode).map(Some)
    }
    pub fn group<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        text(d, parse_group).map(Some)
    }
    pub fn user<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        text(d, parse_user).map(Some)
    }
    pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
        number(d, parse_count)
    }
    pub fn poll_us<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        number(d, parse_poll_us)
    }
    pub fn listen<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ListenAddr>, D::Error> {
        text(d, parse_listen).map(Some)
    }

    /// A size: a number of bytes or a string with a K or M suffix.
    pub fn size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Size {
            Bytes(u64),
            Text(String),
        }
        let text = match Size::deserialize(d)? {
            Size::Bytes(n) => n.to_string(),
            Size::Text(t) => t,
        };
        parse_size(&text).map(Some).map_err(refused)
    }
}

pub use de::REFUSED;

/// Rendering values as their flags take them.
mod ser {
    use super::*;

    pub fn display<S: Serializer, T: fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }
    pub fn opt_display<S: Serializer, T: fmt::Display>(
        v: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(&v.to_string()),
            None => s.serialize_none(),
        }
    }
    pub fn display_all<S: Serializer, T: fmt::Display>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(ToString::to_string))
    }
    pub fn squash<S: Serializer>(v: &Option<(u32, u32)>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some((u, g)) => s.serialize_some(&format!("{u}:{g}")),
            None => s.serialize_none(),
        }
    }
    pub fn octal<S: Serializer>(v: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(m) => s.serialize_some(&format!("{m:04o}")),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use proptest::prelude::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("4M"), Ok(4 << 20));
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert!(parse_size("1K").is_err());
        assert!(parse_size("9999M").is_err());
        assert!(parse_size("x").is_err());
    }

    #[test]
    fn defaults_render_to_nothing() {
        assert_eq!(ServeOptions::default().to_args(), Ok(vec![]));
        assert!(ServeOptions::keys_and_flags().contains(&"allow_users (--allow-user)".to_string()));
    }

    /// Ranges that overlap neither on the client side nor on the host side (clap takes
    /// any; the config file refuses overlaps, as the server does).
    fn id_map() -> impl Strategy<Value = Vec<IdRange>> {
        proptest::collection::vec((0u32..1000, 0u32..100_000, 1u32..100), 0..3).prop_map(|v| {
            let (mut client, mut host) = (0, 0);
            v.into_iter()
                .map(|(gap_client, gap_host, count)| {
                    let r = IdRange {
                        client: client + gap_client,
                        host: host + gap_host,
                        count,
                    };
                    (client, host) = (r.client + count, r.host + count);
                    r
                })
                .collect()
        })
    }

    fn text() -> impl Strategy<Value = String> {
        // Values starting with '-' too: the flags are rendered as --flag=VALUE.
        "[-a-zA-Z0-9=/_. ]{1,12}"
    }

    prop_compose! {
        fn options()(
            backend in prop_oneof![Just(BackendKind::Proxy), Just(BackendKind::Local)],
            security_model in prop_oneof![
                Just(SecurityModel::Passthrough), Just(SecurityModel::MappedXattr),
                Just(SecurityModel::MappedFile), Just(SecurityModel::None)],
            squash in proptest::option::of((0u32..70000, 0u32..70000)),
            uid_map in id_map(),
            gid_map in id_map(),
            allow_users in proptest::collection::vec(
                prop_oneof![Just("root".to_string()), (0u32..70000).prop_map(|u| u.to_string())], 0..3),
            trust_network in any::<bool>(),
            socket_mode in proptest::option::of(0u32..=0o777),
            socket_group in proptest::option::of(prop_oneof![Just("root".to_string()), Just("0".to_string())]),
            readonly in any::<bool>(),
            user in proptest::option::of(Just("root".to_string())),
            helper_socket in proptest::option::of(text().prop_map(PathBuf::from)),
            helper_args in proptest::collection::vec(text(), 0..3),
            helpers in 1usize..100,
            poll_us in 0..=MAX_POLL_US,
            msize_max in proptest::option::of(p9_server::MIN_MSIZE..=u32::MAX),
            limits in (1usize..100_000, 1usize..1000, 0..=u64::from(u32::MAX), 1usize..1_000_000),
            sandbox in proptest::option::of(prop_oneof![
                Just(SandboxMode::Namespace), Just(SandboxMode::Chroot), Just(SandboxMode::None)]),
            seccomp in prop_oneof![Just(SeccompMode::Kill), Just(SeccompMode::Log), Just(SeccompMode::Off)],
            control in proptest::option::of(text().prop_map(PathBuf::from)),
            metrics_listen in proptest::option::of(prop_oneof![
                (1u16..).prop_map(|p| ListenAddr::Tcp(format!("127.0.0.1:{p}"))),
                text().prop_map(|t| ListenAddr::Unix(PathBuf::from(format!("/{t}")))),
            ]),
        ) -> ServeOptions {
            let (max_connections, max_connections_per_user, handshake_timeout, max_fids) = limits;
            ServeOptions {
                backend, security_model, squash, uid_map, gid_map, allow_users, trust_network,
                socket_mode, socket_group, readonly, user, helper_socket, helper: None,
                helper_args, helpers, poll_us, msize_max, max_connections,
                max_connections_per_user, handshake_timeout, max_fids, sandbox, seccomp,
                control, metrics_listen,
            }
        }
    }

    proptest! {
        /// What `to_args` renders parses back to the same options.
        #[test]
        fn args_round_trip(o in options(), helper in proptest::option::of(text())) {
            // --helper and --helper-socket exclude each other.
            let o = ServeOptions {
                helper: helper.filter(|_| o.helper_socket.is_none()).map(PathBuf::from),
                ..o
            };
            let args = o.to_args().unwrap();
            let back = ServeOptions::from_args(&args);
            prop_assert!(back.is_ok(), "{args:?}: {}", back.unwrap_err());
            prop_assert_eq!(back.unwrap(), o.clone());
            // And as the supervisor starts a server with them.
            let argv = ["p9proxy", "serve", "--connections-fd", "3"]
                .map(String::from)
                .into_iter()
                .chain(args.iter().cloned())
                .chain(["--".into(), "/srv/export".into()]);
            let cli = crate::cli::Cli::try_parse_from(argv);
            prop_assert!(cli.is_ok(), "{args:?}: {}", cli.unwrap_err());
            match cli.unwrap().command {
                crate::cli::Command::Serve(serve) => prop_assert_eq!(serve.options, o),
                other => prop_assert!(false, "{other:?}"),
            }
        }

        /// And the config file's table of the same options reads back to them too.
        #[test]
        fn table_round_trip(o in options()) {
            let table = toml::Table::try_from(&o).unwrap();
            let back: ServeOptions = table.try_into().unwrap();
            prop_assert_eq!(back, o);
        }
    }
}
