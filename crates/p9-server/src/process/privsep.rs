//! Dropping the front end's privileges: after its listeners are bound and its helpers
//! started, and before it reads a single client byte.

use nix::unistd::{self, User};
use thiserror::Error;

/// Why the privileges could not be dropped (the server must not go on).
#[derive(Debug, Error)]
pub enum PrivsepError {
    /// The user does not exist.
    #[error("no such user {0:?}")]
    NoSuchUser(String),
    /// A step failed.
    #[error("{step}: {errno}")]
    Sys {
        /// What was being done.
        step: &'static str,
        /// Its errno.
        errno: nix::errno::Errno,
    },
    /// The drop did not take (still root, or capabilities left).
    #[error("privileges still held after dropping them")]
    Incomplete,
}

fn sys(step: &'static str) -> impl Fn(nix::errno::Errno) -> PrivsepError {
    move |errno| PrivsepError::Sys { step, errno }
}

/// The uid and gid of `user` (look it up before any chroot: it reads /etc/passwd).
pub fn lookup(user: &str) -> Result<(u32, u32), PrivsepError> {
    let u = User::from_name(user)
        .map_err(sys("look up user"))?
        .ok_or_else(|| PrivsepError::NoSuchUser(user.to_string()))?;
    Ok((u.uid.as_raw(), u.gid.as_raw()))
}

/// Becomes `uid:gid` (all uids and gids, no supplementary groups), with `no_new_privs`,
/// and checks that no capability is left. Call before any thread is started.
pub fn drop_to(uid: u32, gid: u32) -> Result<(), PrivsepError> {
    let (uid, gid) = (unistd::Uid::from_raw(uid), unistd::Gid::from_raw(gid));
    unistd::setgroups(&[]).map_err(sys("setgroups"))?;
    unistd::setresgid(gid, gid, gid).map_err(sys("setresgid"))?;
    unistd::setresuid(uid, uid, uid).map_err(sys("setresuid"))?;
    rustix::thread::set_no_new_privs(true).map_err(|e| PrivsepError::Sys {
        step: "no_new_privs",
        errno: nix::errno::Errno::from_raw(e.raw_os_error()),
    })?;
    let caps = rustix::thread::capabilities(None).map_err(|_| PrivsepError::Incomplete)?;
    if unistd::geteuid().is_root() || !caps.permitted.is_empty() || !caps.effective.is_empty() {
        return Err(PrivsepError::Incomplete);
    }
    Ok(())
}
