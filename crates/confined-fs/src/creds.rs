//! Whose authority a file operation uses. Two models:
//!
//! - **QEMU's** ([`Credentials`]): the creating operations (create, mknod, mkdir, symlink)
//!   run with the thread's effective uid/gid switched to the client's, as QEMU's helper
//!   does, so new files get the right owner; everything else runs as root. While switched,
//!   only `CAP_DAC_OVERRIDE` stays effective: the client enforces permissions
//!   (`access=client`). This is what unmodified QEMU gets from our helper.
//! - **Ours** ([`Actor`], [`act_as`]): every operation runs as the identity its 9P fid acts
//!   as: the thread's fsuid, fsgid and supplementary groups are that identity's, so the
//!   host kernel's permission checks decide, as for that user on the host. A non-zero
//!   fsuid clears the file-system capabilities (`CAP_CHOWN`, `CAP_DAC_OVERRIDE`,
//!   `CAP_FOWNER`, `CAP_FSETID`, `CAP_MKNOD`...) from the effective set; back at fsuid 0
//!   the kernel restores them from the permitted set. The switch is lazy: a thread keeps
//!   the identity of its last operation and only switches when the next one differs.

use std::cell::RefCell;
use std::sync::Arc;

use rustix::io::Errno;
use rustix::process::{geteuid, Gid, Uid};
use rustix::thread::{self, CapabilitySet, CapabilitySets};

/// The most supplementary groups an [`Actor`] carries (the kernel's `NGROUPS_MAX`).
pub const MAX_GROUPS: usize = 65536;

/// An identity file operations act as: a host uid, gid and supplementary groups.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Actor {
    /// The fsuid: owner of what is created, subject of every permission check.
    pub uid: u32,
    /// The fsgid.
    pub gid: u32,
    /// The supplementary groups (at most [`MAX_GROUPS`]).
    pub groups: Vec<u32>,
}

impl Actor {
    /// Root: uid 0, gid 0, no supplementary groups (every capability).
    pub fn root() -> Actor {
        Actor {
            uid: 0,
            gid: 0,
            groups: Vec::new(),
        }
    }

    /// Whether this identity may use `gid` as the group of what it creates, or chown
    /// to it: its own gid or one of its groups (root: any).
    pub fn in_group(&self, gid: u32) -> bool {
        self.uid == 0 || self.gid == gid || self.groups.contains(&gid)
    }
}

thread_local! {
    /// The identity the calling thread's file-system credentials are switched to
    /// (`None`: the process's own).
    static ACTING: RefCell<Option<Arc<Actor>>> = const { RefCell::new(None) };
}

/// Whether this process can take other identities (it is root).
fn can_switch() -> bool {
    geteuid().is_root()
}

/// Sets the calling thread's fsuid (per-thread syscall) and checks that it took.
fn set_fsuid(uid: u32) -> Result<(), Errno> {
    nix::unistd::setfsuid(nix::unistd::Uid::from_raw(uid));
    // setfsuid(-1) changes nothing and returns the current fsuid.
    match nix::unistd::setfsuid(nix::unistd::Uid::from_raw(u32::MAX)).as_raw() {
        now if now == uid => Ok(()),
        _ => Err(Errno::PERM),
    }
}

/// Sets the calling thread's fsgid (per-thread syscall) and checks that it took.
fn set_fsgid(gid: u32) -> Result<(), Errno> {
    nix::unistd::setfsgid(nix::unistd::Gid::from_raw(gid));
    match nix::unistd::setfsgid(nix::unistd::Gid::from_raw(u32::MAX)).as_raw() {
        now if now == gid => Ok(()),
        _ => Err(Errno::PERM),
    }
}

fn switch_thread(to: &Actor) -> Result<(), Errno> {
    if to.uid == u32::MAX || to.gid == u32::MAX || to.groups.len() > MAX_GROUPS {
        return Err(Errno::INVAL);
    }
    let groups: Vec<Gid> = to.groups.iter().map(|&g| Gid::from_raw(g)).collect();
    thread::set_thread_groups(&groups)?;
    set_fsgid(to.gid)?;
    set_fsuid(to.uid)
}

/// Makes the calling thread's file operations act as `who` (`None`: as the process
/// itself) until the next call. Lazy: nothing happens if the thread already acts so. A
/// process that is not root cannot take another identity: it acts as itself whatever
/// `who` is (its callers decide whom to serve that way). On an error the thread acts as
/// no one usable: it is left as the process's own identity only if restoring worked,
/// else the process aborts (it must never act as the wrong identity).
pub fn act_as(who: Option<&Arc<Actor>>) -> Result<(), Errno> {
    ACTING.with(|acting| {
        let mut acting = acting.borrow_mut();
        let same = match (acting.as_ref(), who) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b) || **a == **b,
            _ => false,
        };
        // Checked first: a thread acting as itself asks for nothing (no syscall, which an
        // unprivileged front end's seccomp list need not allow).
        if same || !can_switch() {
            return Ok(());
        }
        let own = Actor::root();
        let result = switch_thread(who.map_or(&own, |w| w));
        match result {
            Ok(()) => {
                *acting = who.cloned();
                Ok(())
            }
            Err(e) => {
                if switch_thread(&own).is_err() {
                    tracing::error!("cannot restore the thread's own credentials; aborting");
                    std::process::abort();
                }
                *acting = None;
                Err(e)
            }
        }
    })
}

/// The identity the calling thread acts as ([`act_as`]), if another than its own.
pub fn acting() -> Option<Arc<Actor>> {
    ACTING.with(|a| a.borrow().clone())
}

/// A uid as the host's kernel has it (what it checks and stores), as opposed to one a
/// client names (which an id map may translate first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostUid(u32);

/// A gid as the host's kernel has it (see [`HostUid`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostGid(u32);

impl HostUid {
    /// Root.
    pub const ROOT: HostUid = HostUid(0);

    /// The host uid `uid`.
    pub const fn from_raw(uid: u32) -> HostUid {
        HostUid(uid)
    }

    /// The number the kernel takes.
    pub const fn as_raw(self) -> u32 {
        self.0
    }
}

impl HostGid {
    /// Root's group.
    pub const ROOT: HostGid = HostGid(0);

    /// The host gid `gid`.
    pub const fn from_raw(gid: u32) -> HostGid {
        HostGid(gid)
    }

    /// The number the kernel takes.
    pub const fn as_raw(self) -> u32 {
        self.0
    }
}

/// Whose a creation's new file becomes: the thread's ids while it is made. Operations take
/// `Option<Credentials>`: `None` makes it as the process itself, with no switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    /// Owner of what gets created.
    pub uid: HostUid,
    /// Group of what gets created (unless the directory is setgid).
    pub gid: HostGid,
}

/// While alive, the calling thread acts as some [`Credentials`]; dropping it restores
/// root. Only one thread's ids change (the raw per-thread syscalls are used).
#[must_use = "the credentials are restored when the guard drops"]
#[derive(Debug)]
pub struct CredSwitch {
    /// What to undo.
    active: Option<Switched>,
}

/// What a [`CredSwitch`] changed.
#[derive(Debug)]
enum Switched {
    /// QEMU's model: the credentials switched to, and the capability sets before.
    Ids(Credentials, CapabilitySets),
    /// On an actor's thread: the fsgid, to be set back to this.
    Group(u32),
}

impl Credentials {
    /// `uid:gid` on the host.
    pub const fn new(uid: u32, gid: u32) -> Credentials {
        Credentials {
            uid: HostUid(uid),
            gid: HostGid(gid),
        }
    }

    /// Switches the calling thread to `creds` while the guard lives (`None`: as the
    /// process itself, no switch).
    pub fn switch_to(creds: Option<Credentials>) -> Result<CredSwitch, Errno> {
        match creds {
            Some(creds) => creds.switch(),
            None => Ok(CredSwitch { active: None }),
        }
    }

    /// Switches the calling thread to these credentials. Without root (an unprivileged
    /// server) or for root's own `0:0` (a root process already is) this changes nothing
    /// and returns an inactive guard.
    ///
    /// On a thread that acts as an [`Actor`] ([`act_as`]), only the group changes (the
    /// fsgid, for what is created): the owner is the actor, whatever `uid` says, and its
    /// permissions are checked by the kernel as for any other operation.
    pub fn switch(self) -> Result<CredSwitch, Errno> {
        let (uid, gid) = (self.uid.as_raw(), self.gid.as_raw());
        if uid == u32::MAX || gid == u32::MAX {
            // (uid_t)-1 names no one: to setresuid(2) it means "unchanged", which would
            // create as root (or root's group) what a client asked to create as -1.
            return Err(Errno::INVAL);
        }
        if !can_switch() {
            return Ok(CredSwitch { active: None });
        }
        if let Some(actor) = acting() {
            if actor.gid == gid {
                return Ok(CredSwitch { active: None });
            }
            set_fsgid(gid)?;
            return Ok(CredSwitch {
                active: Some(Switched::Group(actor.gid)),
            });
        }
        if self.uid == HostUid::ROOT && self.gid == HostGid::ROOT {
            // Switching would only drop the capabilities root creates with.
            return Ok(CredSwitch { active: None });
        }
        // Read every time: a process may drop capabilities between two switches.
        let caps = thread::capabilities(None)?;
        // Raw ids from the wire; the kernel validates them.
        let gid = Gid::from_raw(gid);
        let uid = Uid::from_raw(uid);
        thread::set_thread_res_gid(None, gid, None)?;
        if let Err(e) = thread::set_thread_res_uid(None, uid, None) {
            restore_gid();
            return Err(e);
        }
        let guard = CredSwitch {
            active: Some(Switched::Ids(self, caps)),
        };
        // Leaving euid 0 cleared the effective set; keep only DAC_OVERRIDE, as QEMU's
        // helper does (with euid 0 and another gid it drops the rest too).
        let effective = caps.permitted & CapabilitySet::DAC_OVERRIDE;
        thread::set_capabilities(None, CapabilitySets { effective, ..caps })?;
        Ok(guard)
    }
}

fn restore_gid() {
    if thread::set_thread_res_gid(None, Gid::ROOT, None).is_err() {
        tracing::error!("cannot restore gid 0 after a credential switch; aborting");
        std::process::abort();
    }
}

impl Drop for CredSwitch {
    fn drop(&mut self) {
        let (creds, caps) = match self.active.take() {
            None => return,
            Some(Switched::Group(gid)) => {
                if set_fsgid(gid).is_err() {
                    tracing::error!("cannot restore the actor's fsgid; aborting");
                    std::process::abort();
                }
                return;
            }
            Some(Switched::Ids(creds, caps)) => (creds, caps),
        };
        // Back to euid 0: the kernel copies the permitted set into the effective set.
        if thread::set_thread_res_uid(None, Uid::ROOT, None).is_err() {
            tracing::error!("cannot restore uid 0 after a credential switch; aborting");
            std::process::abort();
        }
        if creds.uid == HostUid::ROOT {
            // euid never left 0, so the kernel restored nothing: do it ourselves.
            if thread::set_capabilities(None, caps).is_err() {
                tracing::error!("cannot restore capabilities; aborting");
                std::process::abort();
            }
        }
        restore_gid();
    }
}
