//! Whom the requests of the calling thread act as: our helper's `T_AS` extension.
//!
//! A thread sets its identity with [`set_thread_identity`]; every request it then sends
//! on any connection is preceded, when that connection last acted as someone else, by a
//! `T_AS` carrying it (in the same write; its status reply is read before the request's).
//! So a connection shared by threads acting as different identities never runs a request
//! as the wrong one: the identity travels with the request, under the connection's lock.
//! QEMU's C helper knows no `T_AS` (it closes the connection): use this with ours only.

use std::cell::RefCell;
use std::sync::Arc;

use proxy_protocol::{encode_groups, EncodeError, Request};

/// An identity, encoded once as its `T_AS` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    message: Arc<[u8]>,
    root: bool,
}

impl Identity {
    /// Host uid, gid and supplementary groups (too many groups for one message:
    /// [`EncodeError`]).
    pub fn new(uid: u32, gid: u32, groups: &[u32]) -> Result<Identity, EncodeError> {
        let groups = encode_groups(groups);
        let mut message = Vec::with_capacity(16 + groups.len());
        Request::As {
            uid,
            gid,
            groups: &groups,
        }
        .encode(&mut message)?;
        Ok(Identity {
            message: message.into(),
            root: uid == 0 && gid == 0 && groups.is_empty(),
        })
    }

    /// Whether this is root with no groups: what a helper that was never sent a `T_AS`
    /// acts as (QEMU's model), so none is needed for it there.
    pub fn is_root(&self) -> bool {
        self.root
    }

    /// The encoded `T_AS` request.
    pub(crate) fn message(&self) -> &[u8] {
        &self.message
    }

    /// Whether both are the same identity (cheap when they are the same allocation).
    pub(crate) fn same(&self, other: &Identity) -> bool {
        Arc::ptr_eq(&self.message, &other.message) || self.message == other.message
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Identity>> = const { RefCell::new(None) };
}

/// Makes the calling thread's later requests act as `who` (`None`: send no `T_AS`; a
/// connection keeps acting as whoever it last acted as, or as QEMU's model if no one).
pub fn set_thread_identity(who: Option<Identity>) {
    CURRENT.with(|c| *c.borrow_mut() = who);
}

/// The calling thread's identity.
pub(crate) fn thread_identity() -> Option<Identity> {
    CURRENT.with(|c| c.borrow().clone())
}
