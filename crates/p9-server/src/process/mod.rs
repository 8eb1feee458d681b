//! The front end's processes: dropping its privileges ([`privsep`]) and the privileged
//! spawner that starts replacement helpers for it ([`spawner`]).

pub mod privsep;
pub mod spawner;
