//! Bytes in and out: listeners and their accept loops ([`listen`]), who the peer is
//! ([`peer`]), each connection's read-answer-write loop (`session`), file data moved
//! between files and the socket with as few copies as possible (`io`), how connection
//! threads wait for requests ([`poller`]), and descriptors passed over Unix sockets
//! (`fdpass`).

pub(crate) mod fdpass;
pub(crate) mod io;
pub mod listen;
pub mod peer;
pub mod poller;
pub(crate) mod session;
