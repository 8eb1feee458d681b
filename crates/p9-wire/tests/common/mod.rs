//! Builders shared by the integration tests: every message variant, built
//! from a selector plus pools of numbers and byte strings it borrows from.
#![allow(dead_code)]

use p9_wire::*;

/// Number of request variants.
pub const T_VARIANTS: u8 = 28;
/// Number of reply variants.
pub const R_VARIANTS: u8 = 29;

/// Inputs a message is built from.
#[derive(Debug, Clone)]
pub struct Pool {
    pub nums: [u64; 20],
    pub strs: Vec<Vec<u8>>,
    pub data: Vec<u8>,
    /// Number of walk elements (0..=16).
    pub nwalk: usize,
}

impl Pool {
    /// A deterministic pool with distinct, byte-asymmetric values.
    pub fn sample(nwalk: usize) -> Pool {
        let mut nums = [0u64; 20];
        for (i, n) in nums.iter_mut().enumerate() {
            *n = 0x0102_0304_0506_0708u64.wrapping_mul(i as u64 + 1) ^ (i as u64);
        }
        Pool {
            nums,
            strs: (0..MAXWELEM)
                .map(|i| format!("name{i}\u{e9}").into_bytes())
                .chain([vec![0xff, 0x00, b'/'], Vec::new()])
                .collect(),
            data: (0..=255u8).collect(),
            nwalk,
        }
    }

    fn n32(&self, i: usize) -> u32 {
        self.nums[i] as u32
    }
    fn s(&self, i: usize) -> &[u8] {
        &self.strs[i % self.strs.len()]
    }
    fn qid(&self, i: usize) -> Qid {
        Qid {
            ty: self.nums[i] as u8,
            version: (self.nums[i] >> 8) as u32,
            path: self.nums[(i + 1) % self.nums.len()],
        }
    }
}

/// Builds request variant `sel % T_VARIANTS` from `p`.
pub fn build_t(sel: u8, p: &Pool) -> Tmessage<'_> {
    let n = &p.nums;
    match sel % T_VARIANTS {
        0 => Tmessage::Version(Tversion {
            msize: p.n32(0),
            version: p.s(0),
        }),
        1 => Tmessage::Auth(Tauth {
            afid: p.n32(0),
            uname: p.s(0),
            aname: p.s(1),
            n_uname: p.n32(1),
        }),
        2 => Tmessage::Attach(Tattach {
            fid: p.n32(0),
            afid: p.n32(1),
            uname: p.s(0),
            aname: p.s(1),
            n_uname: p.n32(2),
        }),
        3 => Tmessage::Flush(Tflush {
            oldtag: n[0] as u16,
        }),
        4 => {
            let names: Vec<&[u8]> = (0..p.nwalk.min(MAXWELEM)).map(|i| p.s(i)).collect();
            Tmessage::Walk(Twalk {
                fid: p.n32(0),
                newfid: p.n32(1),
                wnames: WalkVec::from_slice(&names).unwrap(),
            })
        }
        5 => Tmessage::Lopen(Tlopen {
            fid: p.n32(0),
            flags: p.n32(1),
        }),
        6 => Tmessage::Lcreate(Tlcreate {
            fid: p.n32(0),
            name: p.s(0),
            flags: p.n32(1),
            mode: p.n32(2),
            gid: p.n32(3),
        }),
        7 => Tmessage::Read(Tread {
            fid: p.n32(0),
            offset: n[1],
            count: p.n32(2),
        }),
        8 => Tmessage::Write(Twrite {
            fid: p.n32(0),
            offset: n[1],
            data: &p.data,
        }),
        9 => Tmessage::Clunk(Tclunk { fid: p.n32(0) }),
        10 => Tmessage::Remove(Tremove { fid: p.n32(0) }),
        11 => Tmessage::Getattr(Tgetattr {
            fid: p.n32(0),
            request_mask: n[1],
        }),
        12 => Tmessage::Setattr(Tsetattr {
            fid: p.n32(0),
            valid: p.n32(1),
            mode: p.n32(2),
            uid: p.n32(3),
            gid: p.n32(4),
            size: n[5],
            atime_sec: n[6],
            atime_nsec: n[7],
            mtime_sec: n[8],
            mtime_nsec: n[9],
        }),
        13 => Tmessage::Readdir(Treaddir {
            fid: p.n32(0),
            offset: n[1],
            count: p.n32(2),
        }),
        14 => Tmessage::Statfs(Tstatfs { fid: p.n32(0) }),
        15 => Tmessage::Fsync(Tfsync {
            fid: p.n32(0),
            datasync: p.n32(1),
        }),
        16 => Tmessage::Mkdir(Tmkdir {
            dfid: p.n32(0),
            name: p.s(0),
            mode: p.n32(1),
            gid: p.n32(2),
        }),
        17 => Tmessage::Symlink(Tsymlink {
            dfid: p.n32(0),
            name: p.s(0),
            symtgt: p.s(1),
            gid: p.n32(1),
        }),
        18 => Tmessage::Mknod(Tmknod {
            dfid: p.n32(0),
            name: p.s(0),
            mode: p.n32(1),
            major: p.n32(2),
            minor: p.n32(3),
            gid: p.n32(4),
        }),
        19 => Tmessage::Link(Tlink {
            dfid: p.n32(0),
            fid: p.n32(1),
            name: p.s(0),
        }),
        20 => Tmessage::Rename(Trename {
            fid: p.n32(0),
            dfid: p.n32(1),
            name: p.s(0),
        }),
        21 => Tmessage::Renameat(Trenameat {
            olddirfid: p.n32(0),
            oldname: p.s(0),
            newdirfid: p.n32(1),
            newname: p.s(1),
        }),
        22 => Tmessage::Unlinkat(Tunlinkat {
            dirfid: p.n32(0),
            name: p.s(0),
            flags: p.n32(1),
        }),
        23 => Tmessage::Readlink(Treadlink { fid: p.n32(0) }),
        24 => Tmessage::Xattrwalk(Txattrwalk {
            fid: p.n32(0),
            newfid: p.n32(1),
            name: p.s(0),
        }),
        25 => Tmessage::Xattrcreate(Txattrcreate {
            fid: p.n32(0),
            name: p.s(0),
            attr_size: n[1],
            flags: p.n32(2),
        }),
        26 => Tmessage::Lock(Tlock {
            fid: p.n32(0),
            ty: n[1] as u8,
            flags: p.n32(2),
            start: n[3],
            length: n[4],
            proc_id: p.n32(5),
            client_id: p.s(0),
        }),
        _ => Tmessage::Getlock(Tgetlock {
            fid: p.n32(0),
            ty: n[1] as u8,
            start: n[2],
            length: n[3],
            proc_id: p.n32(4),
            client_id: p.s(0),
        }),
    }
}

/// Builds reply variant `sel % R_VARIANTS` from `p`.
pub fn build_r(sel: u8, p: &Pool) -> Rmessage<'_> {
    let n = &p.nums;
    match sel % R_VARIANTS {
        0 => Rmessage::Version(Rversion {
            msize: p.n32(0),
            version: p.s(0),
        }),
        1 => Rmessage::Auth(Rauth { aqid: p.qid(0) }),
        2 => Rmessage::Attach(Rattach { qid: p.qid(0) }),
        3 => Rmessage::Flush,
        4 => {
            let qids: Vec<Qid> = (0..p.nwalk.min(MAXWELEM)).map(|i| p.qid(i)).collect();
            Rmessage::Walk(Rwalk {
                wqids: WalkVec::from_slice(&qids).unwrap(),
            })
        }
        5 => Rmessage::Lopen(Rlopen {
            qid: p.qid(0),
            iounit: p.n32(1),
        }),
        6 => Rmessage::Lcreate(Rlcreate {
            qid: p.qid(0),
            iounit: p.n32(1),
        }),
        7 => Rmessage::Read(Rread { data: &p.data }),
        8 => Rmessage::Write(Rwrite { count: p.n32(0) }),
        9 => Rmessage::Clunk,
        10 => Rmessage::Remove,
        11 => Rmessage::Getattr(Rgetattr {
            valid: n[0],
            qid: p.qid(1),
            mode: p.n32(2),
            uid: p.n32(3),
            gid: p.n32(4),
            nlink: n[5],
            rdev: n[6],
            size: n[7],
            blksize: n[8],
            blocks: n[9],
            atime_sec: n[10],
            atime_nsec: n[11],
            mtime_sec: n[12],
            mtime_nsec: n[13],
            ctime_sec: n[14],
            ctime_nsec: n[15],
            btime_sec: n[16],
            btime_nsec: n[17],
            gen: n[18],
            data_version: n[19],
        }),
        12 => Rmessage::Setattr,
        13 => Rmessage::Readdir(Rreaddir { data: &p.data }),
        14 => Rmessage::Statfs(Rstatfs {
            ty: p.n32(0),
            bsize: p.n32(1),
            blocks: n[2],
            bfree: n[3],
            bavail: n[4],
            files: n[5],
            ffree: n[6],
            fsid: n[7],
            namelen: p.n32(8),
        }),
        15 => Rmessage::Fsync,
        16 => Rmessage::Mkdir(Rmkdir { qid: p.qid(0) }),
        17 => Rmessage::Symlink(Rsymlink { qid: p.qid(0) }),
        18 => Rmessage::Mknod(Rmknod { qid: p.qid(0) }),
        19 => Rmessage::Link,
        20 => Rmessage::Rename,
        21 => Rmessage::Renameat,
        22 => Rmessage::Unlinkat,
        23 => Rmessage::Readlink(Rreadlink { target: p.s(0) }),
        24 => Rmessage::Xattrwalk(Rxattrwalk { size: n[0] }),
        25 => Rmessage::Xattrcreate,
        26 => Rmessage::Lock(Rlock { status: n[0] as u8 }),
        27 => Rmessage::Getlock(Rgetlock {
            ty: n[0] as u8,
            start: n[1],
            length: n[2],
            proc_id: p.n32(3),
            client_id: p.s(0),
        }),
        _ => Rmessage::Lerror(Rlerror { ecode: p.n32(0) }),
    }
}

/// Encodes with no msize limit.
pub fn enc<M: Encode>(tag: u16, m: &M) -> Vec<u8> {
    let mut buf = Vec::new();
    let n = encode(tag, m, &mut buf, u32::MAX).expect("encode");
    assert_eq!(n, buf.len());
    buf
}

/// Rewrites the size field of `frame` to its actual length.
pub fn fix_size(frame: &mut [u8]) {
    let len = frame.len() as u32;
    frame[..4].copy_from_slice(&len.to_le_bytes());
}
