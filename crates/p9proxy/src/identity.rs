//! `--security-model`, `--squash`, `--uid-map`, `--gid-map`: how the client's identities
//! are kept (QEMU's security models, `p9_server::backend::mapped`) and translated
//! (`p9_server::backend::idmap`), as layers over the backend.

use std::sync::Arc;

use p9_server::backend::idmap::{HostGid, HostUid};
use p9_server::{Backend, IdMapped, IdMapping, RangeMap, SecurityModel};

use crate::options::{BackendKind, ServeOptions};

/// The default backend: proxy (privileged helpers) as root, local otherwise (the proxy
/// backend needs root to start its helpers).
pub fn default_backend() -> BackendKind {
    if rustix::process::geteuid().is_root() {
        BackendKind::Proxy
    } else {
        BackendKind::Local
    }
}

/// The id mapping, checked against the model.
pub fn mapping(o: &ServeOptions) -> Result<IdMapping, String> {
    if o.map_refused_by_model().is_some() {
        return Err(format!(
            "--uid-map/--gid-map cannot be used with --security-model {}: the mapped \
             models store the client's own ids (use --squash, or passthrough)",
            o.security_model
        ));
    }
    Ok(IdMapping {
        squash: o
            .squash
            .map(|(u, g)| (HostUid::from_raw(u), HostGid::from_raw(g))),
        uids: RangeMap::new(o.uid_map.clone())?,
        gids: RangeMap::new(o.gid_map.clone())?,
    })
}

/// The backend under the chosen model and id mapping.
pub fn layer(args: &ServeOptions, backend: Arc<dyn Backend>) -> Result<Arc<dyn Backend>, String> {
    let model = args.security_model;
    let mapping = mapping(args)?;
    let root = rustix::process::geteuid().is_root();
    match model {
        SecurityModel::Passthrough if !root => tracing::info!(
            uid = rustix::process::geteuid().as_raw(),
            "not root: files are created as this user whatever the client's uid \
             (--security-model mapped-xattr keeps the client's owners)"
        ),
        SecurityModel::Passthrough => {}
        m => tracing::info!(security_model = %m, "client identities kept as QEMU's {m} model does"),
    }
    if args.backend == BackendKind::Local && !root {
        tracing::info!("not root: local backend, no sandbox by default");
    }
    Ok(IdMapped::over(model.over(backend), mapping))
}
