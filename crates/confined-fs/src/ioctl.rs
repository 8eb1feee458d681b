//! The one ioctl the proxy protocol needs.

use std::os::fd::AsFd;

use rustix::io::Errno;
use rustix::ioctl::{ioctl, opcode, Getter};

/// `FS_IOC_GETVERSION`, `_IOR('v', 1, long)`; the kernel writes an `int`.
const FS_IOC_GETVERSION: rustix::ioctl::Opcode = opcode::read::<std::ffi::c_long>(b'v', 1);

/// The inode generation number of `fd`.
pub fn get_version(fd: impl AsFd) -> Result<u32, Errno> {
    // FS_IOC_GETVERSION writes at most an `int` (ext*, btrfs, xfs); we keep the low 32 bits.
    // SAFETY: the Getter's buffer is a `c_long`, larger than what the ioctl writes.
    let v: std::ffi::c_long =
        unsafe { ioctl(fd, Getter::<FS_IOC_GETVERSION, std::ffi::c_long>::new())? };
    Ok(v as u32)
}
