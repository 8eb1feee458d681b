//! The helper's seccomp allowlist: its one connection, file operations inside the export
//! and per-request credentials; nothing else. Installed after the sandbox (namespace,
//! chroot, capabilities), right before the first request is read.

use sandbox::lists::{CREDENTIALS, FILE_OPS, PROXY_CONNECTION};
use sandbox::Allow;

/// The lists the helper applies (on top of [`sandbox::RUNTIME`]).
pub const HELPER_SYSCALLS: &[&[Allow]] = &[PROXY_CONNECTION, FILE_OPS, CREDENTIALS];
