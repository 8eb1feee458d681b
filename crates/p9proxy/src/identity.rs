//! `--security-model`, `--squash`, `--uid-map`, `--gid-map`: how the client's identities
//! are kept (QEMU's security models, `p9_server::backend::mapped`) and translated
//! (`p9_server::backend::idmap`), as layers over the backend.

use std::sync::Arc;

use p9_server::{Backend, IdMapping, IdRange, Identity, RangeMap, SecurityModel};

use crate::cli::{BackendKind, ServeArgs};

/// The default backend: proxy (privileged helpers) as root, local otherwise (the proxy
/// backend needs root to start its helpers).
pub fn default_backend() -> BackendKind {
    if rustix::process::geteuid().is_root() {
        BackendKind::Proxy
    } else {
        BackendKind::Local
    }
}

/// The identity options of `p9proxy serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct IdentityArgs {
    /// Where the client's owners, modes and device numbers live, as QEMU's
    /// security_model: passthrough (the host's owners: needs root for other ids),
    /// mapped-xattr (user.virtfs.* xattrs; no privilege needed), mapped-file
    /// (.virtfs_metadata files; no privilege needed), none (like passthrough, owners of
    /// creations set best effort).
    #[arg(long, value_name = "MODEL", default_value = "passthrough",
          value_parser = ["passthrough", "mapped-xattr", "mapped", "mapped-file", "none"])]
    pub security_model: String,

    /// Every uid and gid the client gives (owners of creations, chown) becomes UID:GID
    /// (on the host in passthrough and none, in the metadata in the mapped models).
    /// What the client sees is not changed.
    #[arg(long, value_name = "UID:GID", value_parser = p9_server::backend::idmap::parse_id_pair)]
    pub squash: Option<(u32, u32)>,

    /// Maps client uids CLIENT..CLIENT+COUNT to host uids HOST..HOST+COUNT (repeatable;
    /// like /proc/PID/uid_map with the client inside). With maps given, an unmapped
    /// client uid is refused (EINVAL) and an unmapped host uid shows as 65534. Not with
    /// the mapped models (there the client's ids are stored as they are).
    #[arg(long, value_name = "CLIENT:HOST:COUNT")]
    pub uid_map: Vec<IdRange>,

    /// The same for gids.
    #[arg(long, value_name = "CLIENT:HOST:COUNT")]
    pub gid_map: Vec<IdRange>,
}

impl IdentityArgs {
    /// The security model chosen.
    pub fn model(&self) -> Result<SecurityModel, String> {
        self.security_model.parse()
    }

    /// The id mapping, checked against the model.
    pub fn mapping(&self) -> Result<IdMapping, String> {
        let model = self.model()?;
        if model.is_mapped() && !(self.uid_map.is_empty() && self.gid_map.is_empty()) {
            return Err(format!(
                "--uid-map/--gid-map cannot be used with --security-model {model}: the mapped \
                 models store the client's own ids (use --squash, or passthrough)"
            ));
        }
        Ok(IdMapping {
            squash: self.squash,
            uids: RangeMap::new(self.uid_map.clone())?,
            gids: RangeMap::new(self.gid_map.clone())?,
        })
    }
}

/// The backend under the chosen model and id mapping.
pub fn layer(args: &ServeArgs, backend: Arc<dyn Backend>) -> Result<Arc<dyn Backend>, String> {
    let model = args.identity.model()?;
    let mapping = args.identity.mapping()?;
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
    Ok(Identity::wrap(model.wrap(backend), mapping))
}
