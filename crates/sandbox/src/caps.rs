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

/// Keeps `keep`, permitted and effective; nothing inheritable or ambient; everything
/// else out of the bounding set too.
pub fn keep_only(keep: CapabilitySet) -> Result<(), Errno> {
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
