//! Capabilities: keep a fixed set, drop everything else from every set and from the
//! bounding set.

use rustix::io::Errno;
use rustix::thread::{self, CapabilitySet, CapabilitySets};

/// What a file server acting for its clients needs: QEMU's helper keeps these seven.
pub const FILE_SERVER_CAPS: CapabilitySet = CapabilitySet::CHOWN
    .union(CapabilitySet::DAC_OVERRIDE)
    .union(CapabilitySet::FOWNER)
    .union(CapabilitySet::FSETID)
    .union(CapabilitySet::SETGID)
    .union(CapabilitySet::SETUID)
    .union(CapabilitySet::MKNOD);

/// What the helper spawner keeps (and so what a helper it starts can have): the file
/// server's seven, and what a helper needs to confine itself before it drops to those
/// (`SYS_ADMIN`: a private mount namespace, the nodev bind mount, `open_tree`;
/// `SYS_CHROOT`; `SETPCAP`: trimming its own bounding set).
pub const HELPER_START_CAPS: CapabilitySet = FILE_SERVER_CAPS
    .union(CapabilitySet::SYS_ADMIN)
    .union(CapabilitySet::SYS_CHROOT)
    .union(CapabilitySet::SETPCAP);

/// Removes everything but `keep` from the bounding set (what an `execve` can grant),
/// leaving the current sets as they are.
pub fn trim_bounding_set(keep: CapabilitySet) -> Result<(), Errno> {
    for bit in 0..64 {
        let cap = CapabilitySet::from_bits_retain(1 << bit);
        if keep.contains(cap) {
            continue;
        }
        match thread::remove_capability_from_bounding_set(cap) {
            Ok(()) | Err(Errno::INVAL) => {} // INVAL: past the kernel's last capability
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Keeps `keep`, permitted and effective; nothing inheritable or ambient; everything
/// else out of the bounding set too.
pub fn keep_only(keep: CapabilitySet) -> Result<(), Errno> {
    trim_bounding_set(keep)?;
    let _ = thread::clear_ambient_capability_set();
    thread::set_capabilities(
        None,
        CapabilitySets {
            effective: keep,
            permitted: keep,
            inheritable: CapabilitySet::empty(),
        },
    )
}
