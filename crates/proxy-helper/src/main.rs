//! `virtfs-proxy-helper`: parse flags, daemonize, accept, confine, serve one connection.

use std::os::fd::{FromRawFd, OwnedFd};
use std::process::ExitCode;

use proxy_helper::cli::{self, Cli, Parsed};
use proxy_helper::{log, sandbox, serve, socket, ServeOptions};

fn main() -> ExitCode {
    let cli = match cli::parse(std::env::args_os()) {
        Parsed::Run(cli) => cli,
        Parsed::Exit {
            code,
            text,
            to_stderr,
        } => {
            if to_stderr {
                eprint!("{text}");
            } else {
                print!("{text}");
            }
            return ExitCode::from(code as u8);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) if log::ready() => {
            tracing::error!("{msg}");
            ExitCode::FAILURE
        }
        Err(msg) => {
            eprintln!("virtfs-proxy-helper: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    // Check the export before anything else, with QEMU's helper's messages.
    match std::fs::symlink_metadata(&cli.path) {
        Err(e) => {
            eprintln!("invalid path \"{}\" specified, {e}", cli.path.display());
            return Err("invalid export path".into());
        }
        Ok(m) if !m.is_dir() => {
            eprintln!("specified path \"{}\" is not directory", cli.path.display());
            return Err("export is not a directory".into());
        }
        Ok(_) => {}
    }
    let export_path = std::fs::canonicalize(&cli.path).map_err(|e| format!("export path: {e}"))?;
    // Take ownership of the inherited socket before daemonizing.
    let inherited = match cli.fd {
        Some(fd) => Some(inherited_socket(fd)?),
        None => None,
    };
    if !cli.nodaemon {
        // fork, setsid, chdir /, stdio to /dev/null; keeps inherited fds open.
        nix::unistd::daemon(false, false).map_err(|e| format!("daemon: {e}"))?;
    }
    log::init(!cli.nodaemon, cli.verbose);
    tracing::info!(export = %export_path.display(), "started");
    let sock = match (inherited, &cli.socket) {
        (Some(fd), _) => fd,
        (None, Some(path)) => {
            let (uid, gid) = (cli.uid.unwrap_or(0), cli.gid.unwrap_or(0));
            socket::accept_one(path, uid, gid).map_err(|e| e.to_string())?
        }
        (None, None) => return Err("no socket".into()),
    };
    let tree = match cli.tree_fd {
        Some(fd) => Some(inherited_tree(fd)?),
        None => None,
    };
    let (export, mounts) =
        sandbox::confine(&export_path, tree).map_err(|e| format!("confinement failed: {e}"))?;
    ::sandbox::apply(cli.seccomp, proxy_helper::seccomp::HELPER_SYSCALLS)
        .map_err(|e| format!("seccomp ({}): {e}", cli.seccomp))?;
    ::sandbox::selftest_if_requested();
    let opts = ServeOptions {
        poll: std::time::Duration::from_micros(cli.poll_us),
    };
    let result = serve(&export, mounts, sock, opts);
    match result {
        Ok(()) => {
            tracing::info!("connection closed, done");
            Ok(())
        }
        Err(e) => Err(format!("connection ended: {e}")),
    }
}

/// Adopts the socket fd passed with `-f`, after checking it is an open socket.
fn inherited_socket(fd: i32) -> Result<OwnedFd, String> {
    inherited(fd, rustix::fs::FileType::Socket, "socket")
}

/// Adopts the detached mount tree passed with `--tree-fd`, after checking it is an open
/// directory.
fn inherited_tree(fd: i32) -> Result<OwnedFd, String> {
    inherited(fd, rustix::fs::FileType::Directory, "directory")
}

/// Adopts an inherited fd once it is open and of type `kind`, close-on-exec.
fn inherited(fd: i32, kind: rustix::fs::FileType, what: &str) -> Result<OwnedFd, String> {
    if fd < 0 {
        return Err(format!("invalid {what} descriptor {fd}"));
    }
    let st = rustix::fs::fstat(unsafe_borrow(fd)?).map_err(|e| format!("fd {fd}: {e}"))?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != kind {
        return Err(format!("fd {fd} is not a {what}"));
    }
    // SAFETY: `fd` was inherited for us alone (the `-f`/`--tree-fd` contract), is open
    // (fstat succeeded), and nothing else in this process owns it or has closed it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    rustix::io::fcntl_setfd(&owned, rustix::io::FdFlags::CLOEXEC)
        .map_err(|e| format!("{what} descriptor {fd}: {e}"))?;
    Ok(owned)
}

/// Borrows a raw fd number for the validity check, failing on a closed one.
fn unsafe_borrow(fd: i32) -> Result<std::os::fd::BorrowedFd<'static>, String> {
    rustix::io::fcntl_getfd(
        // SAFETY: the borrow is used only for F_GETFD, which tolerates any number
        // and fails with EBADF on a closed one; it does not outlive this call.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
    )
    .map_err(|e| format!("descriptor {fd}: {e}"))?;
    // SAFETY: F_GETFD just succeeded, so `fd` is open; the inherited fd stays open for
    // the life of the process until we adopt it as an OwnedFd.
    Ok(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) })
}
