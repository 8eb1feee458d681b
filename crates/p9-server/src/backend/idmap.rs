//! Client ↔ host identities: `--squash UID:GID` and `--uid-map`/`--gid-map` ranges, as a
//! layer ([`IdMapped`]) over any backend.
//!
//! Ids the client sends (the owner and group of creations, chown) go through
//! [`IdMapping::uid_to_host`]/[`IdMapping::gid_to_host`]; ids the backend reports
//! (getattr, and so the owners the client sees) through
//! [`IdMapping::uid_to_client`]/[`IdMapping::gid_to_client`]. The two kinds are distinct
//! types ([`ClientUid`]/[`ClientGid`], [`HostUid`]/[`HostGid`]), so an id cannot cross
//! without going through the map.
//!
//! - Ranges are like `/proc/PID/uid_map` lines with "inside" the client: `CLIENT:HOST:COUNT`
//!   maps client ids `CLIENT..CLIENT+COUNT` to host ids `HOST..HOST+COUNT`. With ranges
//!   of a kind given, a client id outside all of them is refused (`EINVAL`, as chown(2)
//!   into an unmapped id in a user namespace) and a host id outside all of them shows as
//!   65534 (`nobody`, the kernel's overflow id). Without, ids pass unchanged.
//! - `--squash UID:GID`: every id the client sends becomes UID (or GID): all creations
//!   are owned by UID:GID and chown can only give them to UID:GID. What the client sees
//!   is not changed by the squash (the maps, if any, still apply).
//!
//! Under the mapped models the "host" ids are the values kept in the metadata, so a
//! squash stores UID:GID there; maps are refused with them by the command line.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use confined_fs::{Actor, Credentials};
/// The host side of the maps (the ids the kernel has).
pub use confined_fs::{HostGid, HostUid};
use rustix::fs::{OFlags, XattrFlags};
use rustix::io::Errno;

use super::{Attr, Backend, FsStats, NewEntry, Node, SetTime};

/// A uid as the client names it, which the maps turn into a [`HostUid`] (and back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientUid(pub u32);

/// A gid as the client names it, which the maps turn into a [`HostGid`] (and back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientGid(pub u32);

/// The overflow id unmapped host ids show as.
pub const OVERFLOW_ID: u32 = 65534;

/// One range of a map: client ids `client..client+count` are host ids `host..host+count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// First client id.
    pub client: u32,
    /// First host id.
    pub host: u32,
    /// How many.
    pub count: u32,
}

impl std::fmt::Display for IdRange {
    /// `CLIENT:HOST:COUNT`, as `FromStr` reads it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.client, self.host, self.count)
    }
}

impl std::str::FromStr for IdRange {
    type Err = String;
    /// `CLIENT:HOST:COUNT`.
    fn from_str(s: &str) -> Result<IdRange, String> {
        let bad = || format!("{s:?} is not CLIENT:HOST:COUNT (e.g. 0:100000:65536)");
        let mut it = s.split(':').map(|x| x.trim().parse::<u32>());
        let (Some(Ok(client)), Some(Ok(host)), Some(Ok(count)), None) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            return Err(bad());
        };
        let r = IdRange {
            client,
            host,
            count,
        };
        // Neither end may reach -1 ((uid_t)-1 is "unchanged" to the kernel).
        if count == 0
            || u64::from(client) + u64::from(count) > u64::from(u32::MAX)
            || u64::from(host) + u64::from(count) > u64::from(u32::MAX)
        {
            return Err(format!(
                "{s:?}: COUNT must be at least 1 and the ranges end below 4294967295"
            ));
        }
        Ok(r)
    }
}

/// Parses `UID:GID`.
pub fn parse_id_pair(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{s:?} is not UID:GID (e.g. 1000:1000)");
    let (u, g) = s.split_once(':').ok_or_else(bad)?;
    let u = u.trim().parse::<u32>().map_err(|_| bad())?;
    let g = g.trim().parse::<u32>().map_err(|_| bad())?;
    if u == u32::MAX || g == u32::MAX {
        return Err(bad());
    }
    Ok((u, g))
}

/// One kind of id (uids or gids): its ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeMap(Vec<IdRange>);

impl RangeMap {
    /// The ranges, checked not to overlap on either side.
    pub fn new(ranges: Vec<IdRange>) -> Result<RangeMap, String> {
        let overlap = |a: u32, b: u32, n: u32, m: u32| {
            u64::from(a) < u64::from(b) + u64::from(m) && u64::from(b) < u64::from(a) + u64::from(n)
        };
        for (i, a) in ranges.iter().enumerate() {
            for b in &ranges[i + 1..] {
                if overlap(a.client, b.client, a.count, b.count)
                    || overlap(a.host, b.host, a.count, b.count)
                {
                    return Err(format!(
                        "id map ranges {}:{}:{} and {}:{}:{} overlap",
                        a.client, a.host, a.count, b.client, b.host, b.count
                    ));
                }
            }
        }
        Ok(RangeMap(ranges))
    }

    fn to_host(&self, id: u32) -> Result<u32, Errno> {
        if self.0.is_empty() {
            return Ok(id);
        }
        self.0
            .iter()
            .find(|r| id >= r.client && id - r.client < r.count)
            .map(|r| r.host + (id - r.client))
            .ok_or(Errno::INVAL)
    }

    fn to_client(&self, id: u32) -> u32 {
        if self.0.is_empty() {
            return id;
        }
        self.0
            .iter()
            .find(|r| id >= r.host && id - r.host < r.count)
            .map_or(OVERFLOW_ID, |r| r.client + (id - r.host))
    }

    /// Whether there are no ranges (ids pass unchanged).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// How client ids become host ids and back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdMapping {
    /// Every client id becomes this `(uid, gid)`.
    pub squash: Option<(HostUid, HostGid)>,
    /// Uid ranges.
    pub uids: RangeMap,
    /// Gid ranges.
    pub gids: RangeMap,
}

impl IdMapping {
    /// Whether it changes nothing (then no layer is needed).
    pub fn is_identity(&self) -> bool {
        self.squash.is_none() && self.uids.is_empty() && self.gids.is_empty()
    }

    /// The host uid for a client's.
    pub fn uid_to_host(&self, uid: ClientUid) -> Result<HostUid, Errno> {
        match self.squash {
            Some((u, _)) => Ok(u),
            None => self.uids.to_host(uid.0).map(HostUid::from_raw),
        }
    }

    /// The host gid for a client's.
    pub fn gid_to_host(&self, gid: ClientGid) -> Result<HostGid, Errno> {
        match self.squash {
            Some((_, g)) => Ok(g),
            None => self.gids.to_host(gid.0).map(HostGid::from_raw),
        }
    }

    /// The uid the client sees for a host's.
    pub fn uid_to_client(&self, uid: HostUid) -> ClientUid {
        ClientUid(self.uids.to_client(uid.as_raw()))
    }

    /// The gid the client sees for a host's.
    pub fn gid_to_client(&self, gid: HostGid) -> ClientGid {
        ClientGid(self.gids.to_client(gid.as_raw()))
    }

    /// `new` with the client's ids of its owner turned into host ids. Above this layer
    /// [`NewEntry::creds`] holds the ids as the client names them.
    fn on_host<'a>(&self, new: NewEntry<'a>) -> Result<NewEntry<'a>, Errno> {
        let Some(c) = new.creds else {
            return Ok(new);
        };
        let (uid, gid) = (ClientUid(c.uid.as_raw()), ClientGid(c.gid.as_raw()));
        if uid.0 == u32::MAX || gid.0 == u32::MAX {
            return Err(Errno::INVAL);
        }
        let creds = Credentials {
            uid: self.uid_to_host(uid)?,
            gid: self.gid_to_host(gid)?,
        };
        Ok(NewEntry {
            creds: Some(creds),
            ..new
        })
    }
}

/// A backend seen through an [`IdMapping`].
#[derive(Debug)]
pub struct IdMapped {
    inner: Arc<dyn Backend>,
    map: IdMapping,
}

impl IdMapped {
    /// `inner` with ids translated by `map`; `inner` itself if `map` is the identity.
    pub fn over(inner: Arc<dyn Backend>, map: IdMapping) -> Arc<dyn Backend> {
        if map.is_identity() {
            return inner;
        }
        Arc::new(IdMapped { inner, map })
    }

    fn show(&self, mut a: Attr) -> Attr {
        a.uid = self.map.uid_to_client(HostUid::from_raw(a.uid)).0;
        a.gid = self.map.gid_to_client(HostGid::from_raw(a.gid)).0;
        a
    }
}

impl Backend for IdMapped {
    fn actor(&self, client: Actor) -> Result<Actor, Errno> {
        // An `Actor` holds raw ids: the client's here, the host's it becomes.
        let host = match self.map.squash {
            Some((uid, gid)) => Actor {
                uid: uid.as_raw(),
                gid: gid.as_raw(),
                groups: Vec::new(),
            },
            None => Actor {
                uid: self.map.uid_to_host(ClientUid(client.uid))?.as_raw(),
                gid: self.map.gid_to_host(ClientGid(client.gid))?.as_raw(),
                // Groups outside the maps are not the client's to use on the host.
                groups: client
                    .groups
                    .iter()
                    .filter_map(|&g| self.map.gid_to_host(ClientGid(g)).ok())
                    .map(HostGid::as_raw)
                    .collect(),
            },
        };
        self.inner.actor(host)
    }

    forward!(
        inner;
        act_as, root, lookup, walk, open, link, rename, unlink, chmod, truncate, utimens, getxattr,
        getxattrs, listxattr, setxattr, removexattr, readlink, statfs, hidden_names,
        dirent_types
    );

    fn create(&self, new: NewEntry, flags: OFlags, mode: u32) -> Result<(Node, OwnedFd), Errno> {
        self.inner.create(self.map.on_host(new)?, flags, mode)
    }
    fn mkdir(&self, new: NewEntry, mode: u32) -> Result<Attr, Errno> {
        let a = self.inner.mkdir(self.map.on_host(new)?, mode)?;
        Ok(self.show(a))
    }
    fn mknod(&self, new: NewEntry, mode: u32, rdev: u64) -> Result<Attr, Errno> {
        let a = self.inner.mknod(self.map.on_host(new)?, mode, rdev)?;
        Ok(self.show(a))
    }
    fn symlink(&self, new: NewEntry, target: &[u8]) -> Result<Attr, Errno> {
        let a = self.inner.symlink(self.map.on_host(new)?, target)?;
        Ok(self.show(a))
    }
    fn chown(&self, node: &Node, uid: Option<u32>, gid: Option<u32>) -> Result<(), Errno> {
        let uid = uid
            .map(|u| self.map.uid_to_host(ClientUid(u)))
            .transpose()?;
        let gid = gid
            .map(|g| self.map.gid_to_host(ClientGid(g)))
            .transpose()?;
        self.inner
            .chown(node, uid.map(HostUid::as_raw), gid.map(HostGid::as_raw))
    }
    fn getattr(&self, node: &Node) -> Result<Attr, Errno> {
        Ok(self.show(self.inner.getattr(node)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r: IdRange = "0:100000:65536".parse().unwrap();
        assert_eq!((r.client, r.host, r.count), (0, 100000, 65536));
        assert!("0:1".parse::<IdRange>().is_err());
        assert!("0:1:0".parse::<IdRange>().is_err());
        assert!("1:2:3:4".parse::<IdRange>().is_err());
        assert!("4294967290:0:10".parse::<IdRange>().is_err());
        let m = RangeMap::new(vec![
            "0:100000:1000".parse().unwrap(),
            "1000:1000:1".parse().unwrap(),
        ])
        .unwrap();
        assert_eq!(m.to_host(0), Ok(100000));
        assert_eq!(m.to_host(999), Ok(100999));
        assert_eq!(m.to_host(1000), Ok(1000));
        assert_eq!(m.to_host(1001), Err(Errno::INVAL));
        assert_eq!(m.to_client(100005), 5);
        assert_eq!(m.to_client(1000), 1000);
        assert_eq!(m.to_client(0), OVERFLOW_ID);
        assert!(
            RangeMap::new(vec!["0:0:10".parse().unwrap(), "5:100:10".parse().unwrap()]).is_err()
        );
        assert!(
            RangeMap::new(vec!["0:0:10".parse().unwrap(), "100:5:10".parse().unwrap()]).is_err()
        );
    }

    #[test]
    fn squash() {
        let m = IdMapping {
            squash: Some((HostUid::from_raw(1000), HostGid::from_raw(100))),
            ..IdMapping::default()
        };
        assert_eq!(m.uid_to_host(ClientUid(0)), Ok(HostUid::from_raw(1000)));
        assert_eq!(m.gid_to_host(ClientGid(5)), Ok(HostGid::from_raw(100)));
        assert_eq!(m.uid_to_client(HostUid::ROOT), ClientUid(0));
        assert_eq!(parse_id_pair("1:2"), Ok((1, 2)));
        assert!(parse_id_pair("1").is_err());
        assert!(parse_id_pair("4294967295:0").is_err());
    }
}
