//! `--allow-user`, `--trust-network`, `--socket-mode`, `--socket-group`: who may act as
//! whom ([`p9_server::peer::Policy`]) and who may connect to Unix listeners, resolved
//! before any sandbox (names need the host's user database).

use p9_server::listen::SocketPerms;
use p9_server::peer::{Policy, Users};

use crate::options::ServeOptions;

/// A user given as a name or a uid.
fn uid_of(users: &Users, who: &str) -> Result<u32, String> {
    who.parse::<u32>()
        .ok()
        .or_else(|| users.uid_of(who))
        .ok_or_else(|| format!("--allow-user {who}: no such user"))
}

/// The policy the flags ask for (on top of the default: the server's own user trusted).
pub fn policy(args: &ServeOptions) -> Result<Policy, String> {
    let mut policy = Policy::for_this_process();
    for who in &args.allow_users {
        let uid = uid_of(&policy.users, who)?;
        if !policy.trusted.contains(&uid) {
            policy.trusted.push(uid);
        }
    }
    policy.trust_network = args.trust_network;
    policy.max_connections_per_user = args.max_connections_per_user;
    Ok(policy)
}

/// A group given as a name or a gid.
pub fn group_id(g: &str) -> Result<u32, String> {
    match g.parse::<u32>() {
        Ok(gid) => Ok(gid),
        Err(_) => nix::unistd::Group::from_name(g)
            .ok()
            .flatten()
            .map(|gr| gr.gid.as_raw())
            .ok_or_else(|| format!("{g}: no such group")),
    }
}

/// The permissions of the Unix listeners.
pub fn socket_perms(args: &ServeOptions) -> Result<SocketPerms, String> {
    let gid = match &args.socket_group {
        None => None,
        Some(g) => Some(group_id(g).map_err(|e| format!("--socket-group {e}"))?),
    };
    Ok(SocketPerms {
        mode: args.socket_mode.unwrap_or(SocketPerms::default().mode),
        gid,
    })
}

/// One line for the start-up banner: which identities may act as any user.
pub fn describe(policy: &Policy) -> String {
    let mut who: Vec<String> = policy.trusted.iter().map(|u| format!("uid {u}")).collect();
    if policy.trust_network {
        who.push("any peer without identity (--trust-network)".into());
    }
    format!(
        "trusted (may attach as any user): {}; every other local peer acts as itself",
        who.join(", ")
    )
}
