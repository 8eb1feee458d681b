//! Per-request credentials: the creating operations (create, mknod, mkdir, symlink) run
//! with the thread's effective uid/gid switched to the client's, as QEMU's helper does,
//! so new files get the right owner (and setgid directories, quotas and the like behave
//! as for that user). While switched, only `CAP_DAC_OVERRIDE` stays effective: the client
//! enforces permissions (`access=client`), the switch gets ownership right, and a non-root
//! user still cannot make a device node. Restored when the guard drops.

use rustix::io::Errno;
use rustix::process::{geteuid, Gid, Uid};
use rustix::thread::{self, CapabilitySet, CapabilitySets};

/// A client's identity for a creating operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    /// Owner of what gets created.
    pub uid: u32,
    /// Group of what gets created (unless the directory is setgid).
    pub gid: u32,
}

/// While alive, the calling thread acts as some [`Credentials`]; dropping it restores
/// root. Only one thread's ids change (the raw per-thread syscalls are used).
#[must_use = "the credentials are restored when the guard drops"]
#[derive(Debug)]
pub struct CredSwitch {
    /// The credentials switched to, and the capability sets from before the switch.
    active: Option<(Credentials, CapabilitySets)>,
}

impl Credentials {
    /// Switches the calling thread to these credentials. Without root (an unprivileged
    /// server) or for `0:0` this changes nothing and returns an inactive guard.
    pub fn switch(self) -> Result<CredSwitch, Errno> {
        if self.uid == u32::MAX || self.gid == u32::MAX {
            // (uid_t)-1 names no one: to setresuid(2) it means "unchanged", which would
            // create as root (or root's group) what a client asked to create as -1.
            return Err(Errno::INVAL);
        }
        if !geteuid().is_root() || (self.uid == 0 && self.gid == 0) {
            return Ok(CredSwitch { active: None });
        }
        // Read every time: a process may drop capabilities between two switches.
        let caps = thread::capabilities(None)?;
        // Raw ids from the wire; the kernel validates them.
        let gid = Gid::from_raw(self.gid);
        let uid = Uid::from_raw(self.uid);
        thread::set_thread_res_gid(None, gid, None)?;
        if let Err(e) = thread::set_thread_res_uid(None, uid, None) {
            restore_gid();
            return Err(e);
        }
        let guard = CredSwitch {
            active: Some((self, caps)),
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
        let Some((creds, caps)) = self.active else {
            return;
        };
        // Back to euid 0: the kernel copies the permitted set into the effective set.
        if thread::set_thread_res_uid(None, Uid::ROOT, None).is_err() {
            tracing::error!("cannot restore uid 0 after a credential switch; aborting");
            std::process::abort();
        }
        if creds.uid == 0 || creds.uid == u32::MAX {
            // euid never left 0, so the kernel restored nothing: do it ourselves.
            if thread::set_capabilities(None, caps).is_err() {
                tracing::error!("cannot restore capabilities; aborting");
                std::process::abort();
            }
        }
        restore_gid();
    }
}
