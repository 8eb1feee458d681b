//! Who is at the other end of a connection, as the kernel vouches for it, and what that
//! peer may act as.
//!
//! A 9P client authenticates no one, so `n_uname` in a Tattach is a claim, not an
//! identity. The only identity this server believes is the kernel's:
//! - a Unix socket's peer: `SO_PEERCRED` (uid, gid, pid at connect time);
//! - a TCP connection from a loopback address: the uid owning the peer's socket, found
//!   with `NETLINK_SOCK_DIAG` (`inet_diag_req_v2` for the exact 4-tuple, what `ss -e`
//!   shows); a guest behind QEMU's user network is thus the user running QEMU;
//! - an inherited descriptor that is no socket (`--stdio`, `--fd` pipes): the server's
//!   own user, who handed it over;
//! - anything else (TCP from another host): no identity.
//!
//! [`Policy::authority`] then decides, in this one place, what a connection may act as:
//! trusted users ([`Policy::trusted`]) may attach as anyone; any other identified peer
//! acts as itself whatever it claims; a peer without identity is refused unless the
//! listener is trusted ([`Policy::trust_network`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex};

use confined_fs::Actor;
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketType};

/// A peer the kernel identified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its uid.
    pub uid: u32,
    /// Its gid (the primary group of its user where the kernel gives only the uid).
    pub gid: u32,
    /// Its pid, where the kernel gives it (Unix sockets) and it is visible to us.
    pub pid: Option<u32>,
}

/// The kernel's word on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerIdentity {
    /// A local peer the kernel identified.
    Local(Peer),
    /// No identity (TCP from another host, or a lookup that found nothing).
    Unknown,
}

/// The host's users and groups (`/etc/passwd`, `/etc/group`), read once at start
/// (before any sandbox): the primary group and supplementary groups of a uid.
#[derive(Debug, Clone, Default)]
pub struct Users {
    primary: HashMap<u32, u32>,
    groups: HashMap<u32, Vec<u32>>,
    by_name: HashMap<String, u32>,
}

impl Users {
    /// Reads `/etc/passwd` and `/etc/group` (missing files: no users).
    pub fn load() -> Users {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        Users::parse(&read("/etc/passwd"), &read("/etc/group"))
    }

    /// From the text of a passwd and a group file.
    pub fn parse(passwd: &str, group: &str) -> Users {
        let mut users = Users::default();
        for line in passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if let (Some(name), Some(Ok(uid)), Some(Ok(gid))) = (
                f.first(),
                f.get(2).map(|s| s.parse::<u32>()),
                f.get(3).map(|s| s.parse::<u32>()),
            ) {
                users.primary.entry(uid).or_insert(gid);
                users.by_name.entry(name.to_string()).or_insert(uid);
            }
        }
        for line in group.lines() {
            let f: Vec<&str> = line.split(':').collect();
            let (Some(Ok(gid)), Some(members)) = (f.get(2).map(|s| s.parse::<u32>()), f.get(3))
            else {
                continue;
            };
            for m in members.split(',').filter(|m| !m.is_empty()) {
                if let Some(&uid) = users.by_name.get(m) {
                    let g = users.groups.entry(uid).or_default();
                    if !g.contains(&gid) {
                        g.push(gid);
                    }
                }
            }
        }
        users
    }

    /// The uid of the user `name`.
    pub fn uid_of(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    /// The identity `uid` acts as: its primary group (or the gid equal to the uid, for
    /// a uid the host does not know) and its supplementary groups.
    pub fn actor(&self, uid: u32) -> Actor {
        let gid = self.primary.get(&uid).copied().unwrap_or(uid);
        let mut groups = self.groups.get(&uid).cloned().unwrap_or_default();
        groups.retain(|&g| g != gid);
        Actor { uid, gid, groups }
    }
}

/// Who may act as whom: the one policy every connection goes through.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Users whose connections may attach as any `n_uname` (`--allow-user`).
    pub trusted: Vec<u32>,
    /// Serve peers without identity (TCP from other hosts) as trusted
    /// (`--trust-network`): for listeners only trusted machines can reach.
    pub trust_network: bool,
    /// The host's users, for the groups of an identity.
    pub users: Arc<Users>,
    /// Whether this process can act as other users (it runs as root). Without, a peer
    /// that is neither trusted nor the server's own user is refused.
    pub can_switch: bool,
    /// The server's own uid (and gid, below) when it started: the identity of whoever
    /// hands it a pipe (`--stdio`), even after it dropped to another user.
    pub own_uid: u32,
    /// The server's own gid when it started.
    pub own_gid: u32,
    /// Most connections one untrusted user may hold at once (trusted peers are bounded
    /// by the server's connection limit only): one local user cannot take every slot.
    pub max_connections_per_user: usize,
}

/// Default [`Policy::max_connections_per_user`].
pub const DEFAULT_MAX_CONNECTIONS_PER_USER: usize = 16;

impl Policy {
    /// The default policy of a server running as the current user: root trusts root; an
    /// unprivileged server trusts its own user. No network trust.
    pub fn for_this_process() -> Policy {
        let own_uid = rustix::process::geteuid().as_raw();
        Policy {
            trusted: vec![own_uid],
            trust_network: false,
            users: Arc::new(Users::load()),
            can_switch: own_uid == 0,
            own_uid,
            own_gid: rustix::process::getegid().as_raw(),
            max_connections_per_user: DEFAULT_MAX_CONNECTIONS_PER_USER,
        }
    }

    /// What a connection from `peer` may act as.
    pub fn authority(&self, peer: &PeerIdentity) -> Authority {
        match peer {
            PeerIdentity::Unknown if self.trust_network => Authority::Anyone,
            PeerIdentity::Unknown => Authority::Refused("the kernel cannot say who the peer is"),
            // Root could become any user anyway: refusing it would protect nothing.
            PeerIdentity::Local(p) if p.uid == 0 || self.trusted.contains(&p.uid) => {
                Authority::Anyone
            }
            PeerIdentity::Local(p) if !self.can_switch && p.uid != self.own_uid => {
                Authority::Refused("this server cannot act as that user (it does not run as root)")
            }
            PeerIdentity::Local(p) => {
                let mut actor = self.users.actor(p.uid);
                if actor.gid != p.gid {
                    // The kernel's gid, and the user's own primary group as a member.
                    actor.groups.retain(|&g| g != p.gid);
                    actor.groups.push(actor.gid);
                    actor.gid = p.gid;
                }
                Authority::Itself(Arc::new(actor))
            }
        }
    }
}

/// The connections each untrusted user holds ([`Policy::max_connections_per_user`]).
#[derive(Debug, Default)]
pub struct PeerSlots(Mutex<HashMap<u32, usize>>);

/// One connection counted against its user; given back when dropped.
#[derive(Debug)]
pub struct PeerSlot<'a> {
    slots: &'a PeerSlots,
    uid: u32,
}

impl PeerSlots {
    /// Counts a connection of `uid`, unless it already holds `max`.
    pub fn take(&self, uid: u32, max: usize) -> Option<PeerSlot<'_>> {
        let mut held = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = held.entry(uid).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(PeerSlot { slots: self, uid })
    }
}

impl Drop for PeerSlot<'_> {
    fn drop(&mut self) {
        let mut held = self.slots.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = held.get_mut(&self.uid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&self.uid);
            }
        }
    }
}

/// What a connection may act as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authority {
    /// Any user its Tattach names (a trusted peer).
    Anyone,
    /// Only this identity, whatever its Tattach names.
    Itself(Arc<Actor>),
    /// Nothing: every Tattach is refused (`EACCES`), for this reason.
    Refused(&'static str),
}

impl Authority {
    /// The identity an attach claiming `uid` acts as (before the backend's id mapping).
    pub fn attach_as(&self, uid: u32, users: &Users) -> Result<Actor, Errno> {
        match self {
            Authority::Anyone => Ok(users.actor(uid)),
            Authority::Itself(actor) => Ok((**actor).clone()),
            Authority::Refused(_) => Err(Errno::ACCESS),
        }
    }

    /// One line for the log: what the peer may act as.
    pub fn describe(&self) -> String {
        match self {
            Authority::Anyone => "trusted: may attach as any user".into(),
            Authority::Itself(a) => format!("acts as itself: uid {} gid {}", a.uid, a.gid),
            Authority::Refused(why) => format!("refused: {why}"),
        }
    }
}

/// Looks up the owners of loopback TCP peers through `NETLINK_SOCK_DIAG`. The netlink
/// socket is opened at start, before any sandbox (in the host's network namespace).
#[derive(Debug)]
pub struct SockDiag {
    sock: Mutex<OwnedFd>,
}

/// `SOCK_DIAG_BY_FAMILY`.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `NLM_F_REQUEST`.
const NLM_F_REQUEST: u16 = 1;
/// `NLMSG_ERROR`.
const NLMSG_ERROR: u16 = 2;
/// Where `idiag_uid` sits in a reply: `nlmsghdr` (16), family/state/timer/retrans (4),
/// `inet_diag_sockid` (48), expires/rqueue/wqueue (12).
const UID_OFFSET: usize = 16 + 4 + 48 + 12;

impl SockDiag {
    /// Opens the netlink socket.
    pub fn open() -> Result<SockDiag, Errno> {
        let sock = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            rustix::net::SocketFlags::CLOEXEC,
            Some(rustix::net::netlink::SOCK_DIAG),
        )?;
        Ok(SockDiag {
            sock: Mutex::new(sock),
        })
    }

    /// The uid owning the TCP socket whose local address is `local` and whose remote
    /// address is `remote` (both of the same family).
    pub fn tcp_owner(&self, local: SocketAddr, remote: SocketAddr) -> Result<u32, Errno> {
        let (family, src, dst) = match (local.ip(), remote.ip()) {
            (IpAddr::V4(l), IpAddr::V4(r)) => (libc::AF_INET as u8, v4(l), v4(r)),
            (IpAddr::V6(l), IpAddr::V6(r)) => (libc::AF_INET6 as u8, l.octets(), r.octets()),
            _ => return Err(Errno::AFNOSUPPORT),
        };
        let mut req = Vec::with_capacity(72);
        req.extend_from_slice(&72u32.to_ne_bytes());
        req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        req.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
        req.extend_from_slice(&1u32.to_ne_bytes()); // seq
        req.extend_from_slice(&0u32.to_ne_bytes()); // pid: the kernel fills it in
        req.extend_from_slice(&[family, libc::IPPROTO_TCP as u8, 0, 0]);
        req.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
        req.extend_from_slice(&local.port().to_be_bytes());
        req.extend_from_slice(&remote.port().to_be_bytes());
        req.extend_from_slice(&src);
        req.extend_from_slice(&dst);
        req.extend_from_slice(&0u32.to_ne_bytes()); // any interface
        req.extend_from_slice(&[0xff; 8]); // INET_DIAG_NOCOOKIE
        let sock = self.sock.lock().unwrap_or_else(|p| p.into_inner());
        rustix::net::send(&*sock, &req, rustix::net::SendFlags::empty())?;
        let mut buf = [0u8; 512];
        let (n, _) = rustix::net::recv(&*sock, &mut buf[..], rustix::net::RecvFlags::empty())?;
        let reply = &buf[..n.min(buf.len())];
        let ty = reply
            .get(4..6)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
            .ok_or(Errno::PROTO)?;
        if ty == NLMSG_ERROR {
            let code = reply
                .get(16..20)
                .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or(Errno::PROTO)?;
            return Err(Errno::from_raw_os_error(code.saturating_neg().max(1)));
        }
        if ty != SOCK_DIAG_BY_FAMILY {
            return Err(Errno::PROTO);
        }
        reply
            .get(UID_OFFSET..UID_OFFSET + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or(Errno::PROTO)
    }
}

/// An IPv4 address as `inet_diag_sockid` holds it: the first of four 32-bit words.
fn v4(a: std::net::Ipv4Addr) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&a.octets());
    out
}

/// The address without IPv4-mapped IPv6 disguise.
fn canonical(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => a,
        },
        v4 => v4,
    }
}

/// Who is at the other end of `conn`, as the kernel says. `diag` finds the owners of
/// loopback TCP peers (without it, TCP peers have no identity). Makes no syscall the
/// front end's filter forbids (`geteuid`: the server's own identity is `policy`'s).
pub fn identify(conn: BorrowedFd<'_>, diag: Option<&SockDiag>, policy: &Policy) -> PeerIdentity {
    let users = &policy.users;
    match rustix::net::sockopt::socket_domain(conn) {
        Err(Errno::NOTSOCK) => {
            // An inherited pipe or file: handed over by whoever started us.
            PeerIdentity::Local(Peer {
                uid: policy.own_uid,
                gid: policy.own_gid,
                pid: None,
            })
        }
        Err(_) => PeerIdentity::Unknown,
        // nix's, not rustix's: a peer outside our PID namespace has pid 0, which
        // rustix's non-zero `Pid` cannot hold.
        Ok(AddressFamily::UNIX) => {
            match nix::sys::socket::getsockopt(&conn, nix::sys::socket::sockopt::PeerCredentials) {
                Ok(c) => PeerIdentity::Local(Peer {
                    uid: c.uid(),
                    gid: c.gid(),
                    pid: u32::try_from(c.pid()).ok().filter(|&p| p != 0),
                }),
                Err(e) => {
                    tracing::warn!(errno = %e, "SO_PEERCRED failed");
                    PeerIdentity::Unknown
                }
            }
        }
        Ok(AddressFamily::INET | AddressFamily::INET6) => {
            let addrs = rustix::net::getsockname(conn)
                .ok()
                .and_then(|l| SocketAddr::try_from(l).ok())
                .zip(
                    rustix::net::getpeername(conn)
                        .ok()
                        .flatten()
                        .and_then(|r| SocketAddr::try_from(r).ok()),
                );
            let (Some((local, remote)), Some(diag)) = (addrs, diag) else {
                return PeerIdentity::Unknown;
            };
            let (local, remote) = (canonical(local), canonical(remote));
            if !remote.ip().is_loopback() {
                return PeerIdentity::Unknown;
            }
            // The peer's socket: its local address is our remote one.
            match diag.tcp_owner(remote, local) {
                Ok(uid) => PeerIdentity::Local(Peer {
                    uid,
                    gid: users.actor(uid).gid,
                    pid: None,
                }),
                Err(e) => {
                    tracing::warn!(%remote, errno = %e, "cannot find the owner of a loopback peer");
                    PeerIdentity::Unknown
                }
            }
        }
        Ok(_) => PeerIdentity::Unknown,
    }
}

/// The command name of process `pid`, where `/proc` shows it.
pub fn command_of(pid: u32) -> Option<String> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(comm.trim_end().to_string())
}

impl PeerIdentity {
    /// One line for the log.
    pub fn describe(&self) -> String {
        match self {
            PeerIdentity::Unknown => "no identity".into(),
            PeerIdentity::Local(p) => {
                let mut s = format!("uid {} gid {}", p.uid, p.gid);
                if let Some(pid) = p.pid {
                    s.push_str(&format!(" pid {pid}"));
                    if let Some(c) = command_of(pid) {
                        s.push_str(&format!(" ({c})"));
                    }
                }
                s
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:100::/:/bin/sh\n";
    const GROUP: &str =
        "root:x:0:\nwheel:x:10:alice,bob\nusers:x:100:\nalice:x:1000:\nextra:x:2000:alice\n";

    #[test]
    fn users_and_groups_from_the_files() {
        let u = Users::parse(PASSWD, GROUP);
        assert_eq!(u.uid_of("bob"), Some(1001));
        assert_eq!(
            u.actor(1000),
            Actor {
                uid: 1000,
                gid: 1000,
                groups: vec![10, 2000]
            }
        );
        assert_eq!(u.actor(1001).gid, 100);
        // Unknown to the host: its gid is its uid, no groups.
        assert_eq!(
            u.actor(4242),
            Actor {
                uid: 4242,
                gid: 4242,
                groups: vec![]
            }
        );
    }

    #[test]
    fn the_policy_decides_in_one_place() {
        let users = Arc::new(Users::parse(PASSWD, GROUP));
        let p = Policy {
            trusted: vec![0],
            trust_network: false,
            users: users.clone(),
            can_switch: true,
            own_uid: 0,
            own_gid: 0,
            max_connections_per_user: 2,
        };
        let local = |uid, gid| {
            PeerIdentity::Local(Peer {
                uid,
                gid,
                pid: None,
            })
        };
        assert_eq!(p.authority(&local(0, 0)), Authority::Anyone);
        let alice = p.authority(&local(1000, 1000));
        // Whatever it claims, alice acts as alice.
        for claim in [0, 1000, 65534] {
            assert_eq!(alice.attach_as(claim, &users).unwrap().uid, 1000);
        }
        assert!(matches!(
            p.authority(&PeerIdentity::Unknown),
            Authority::Refused(_)
        ));
        assert_eq!(
            Authority::Refused("x").attach_as(0, &users).unwrap_err(),
            Errno::ACCESS
        );
        let open = Policy {
            trust_network: true,
            ..p.clone()
        };
        assert_eq!(open.authority(&PeerIdentity::Unknown), Authority::Anyone);
        // An unprivileged server serves its own user only.
        let unpriv = Policy {
            trusted: vec![1000],
            can_switch: false,
            own_uid: 1000,
            ..p.clone()
        };
        assert_eq!(unpriv.authority(&local(1000, 1000)), Authority::Anyone);
        assert!(matches!(
            unpriv.authority(&local(1001, 100)),
            Authority::Refused(_)
        ));
        // The kernel's gid wins; the user's primary group stays a member.
        let a = p.authority(&local(1001, 10));
        let Authority::Itself(a) = a else { panic!() };
        assert_eq!((a.gid, a.groups.clone()), (10, vec![100]));
    }

    #[test]
    fn each_user_holds_at_most_its_connections() {
        let slots = PeerSlots::default();
        let a = slots.take(1000, 2).unwrap();
        let _b = slots.take(1000, 2).unwrap();
        assert!(slots.take(1000, 2).is_none());
        assert!(slots.take(1001, 2).is_some());
        drop(a);
        assert!(slots.take(1000, 2).is_some());
    }
}
