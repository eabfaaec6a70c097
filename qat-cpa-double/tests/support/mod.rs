//! Drives the double through qat-sys's raw bindings, as qatlib's own samples drive qatlib.
#![allow(dead_code, unreachable_pub)]

use std::ffi::c_void;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

pub use qat_cpa_double as double;
pub use qat_sys::qatlib::*;

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A block from `qaeMemAllocNUMA`, freed on drop.
pub struct Pinned {
    ptr: *mut u8,
    len: usize,
}

impl Pinned {
    pub fn new(len: usize) -> Pinned {
        // SAFETY: no preconditions; the result is checked for null.
        let ptr = unsafe { qaeMemAllocNUMA(len, 0, 64) }.cast::<u8>();
        assert!(!ptr.is_null(), "qaeMemAllocNUMA({len})");
        Pinned { ptr, len }
    }

    pub fn with(bytes: &[u8]) -> Pinned {
        let mut p = Pinned::new(bytes.len().max(1));
        p.bytes_mut()[..bytes.len()].copy_from_slice(bytes);
        p
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is a live block of `len` bytes owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, borrowed mutably through self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let mut p = self.ptr.cast::<c_void>();
        // SAFETY: the block came from qaeMemAllocNUMA and is freed once.
        unsafe { qaeMemFreeNUMA(&mut p) };
    }
}

/// The started process with its instances started and address translation set.
pub struct Device {
    pub insts: Vec<CpaInstanceHandle>,
}

impl Device {
    pub fn start() -> Device {
        // SAFETY: a NUL-terminated name and out-parameters that live for the calls.
        unsafe {
            assert_eq!(icp_sal_userStart(c"SSL".as_ptr()), CPA_STATUS_SUCCESS);
            let mut n: Cpa16U = 0;
            assert_eq!(cpaCyGetNumInstances(&mut n), CPA_STATUS_SUCCESS);
            assert!(n > 0);
            let mut insts = vec![std::ptr::null_mut(); usize::from(n)];
            assert_eq!(cpaCyGetInstances(n, insts.as_mut_ptr()), CPA_STATUS_SUCCESS);
            for &inst in &insts {
                assert_eq!(cpaCyStartInstance(inst), CPA_STATUS_SUCCESS);
                assert_eq!(
                    cpaCySetAddressTranslation(inst, Some(qaeVirtToPhysNUMA)),
                    CPA_STATUS_SUCCESS
                );
            }
            Device { insts }
        }
    }

    pub fn inst(&self) -> CpaInstanceHandle {
        self.insts[0]
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        // SAFETY: handles from cpaCyGetInstances of the started process.
        unsafe {
            for &inst in &self.insts {
                cpaCyStopInstance(inst);
            }
            icp_sal_userStop();
        }
    }
}

/// A buffer list over pinned chunks, with its pinned metadata.
pub struct List {
    pub data: Vec<Pinned>,
    flats: Box<[CpaFlatBuffer]>,
    pub meta: Pinned,
    list: Box<CpaBufferList>,
}

impl List {
    pub fn new(inst: CpaInstanceHandle, chunks: &[&[u8]]) -> List {
        let data: Vec<Pinned> = chunks.iter().map(|c| Pinned::with(c)).collect();
        let flats: Box<[CpaFlatBuffer]> = data
            .iter()
            .zip(chunks)
            .map(|(p, c)| CpaFlatBuffer {
                dataLenInBytes: c.len() as u32,
                pData: p.ptr(),
            })
            .collect();
        let mut size = 0;
        // SAFETY: an instance handle and an out-parameter.
        let st = unsafe { cpaCyBufferListGetMetaSize(inst, flats.len() as u32, &mut size) };
        assert_eq!(st, CPA_STATUS_SUCCESS);
        let meta = Pinned::new(size as usize);
        let mut l = List {
            data,
            flats,
            meta,
            list: Box::new(CpaBufferList {
                numBuffers: chunks.len() as u32,
                pBuffers: std::ptr::null_mut(),
                pUserData: std::ptr::null_mut(),
                pPrivateMetaData: std::ptr::null_mut(),
            }),
        };
        l.list.pBuffers = l.flats.as_mut_ptr();
        l.list.pPrivateMetaData = l.meta.ptr().cast();
        l
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.flats
            .iter()
            .zip(&self.data)
            .flat_map(|(f, p)| p.bytes()[..f.dataLenInBytes as usize].to_vec())
            .collect()
    }

    pub fn ptr(&mut self) -> *mut CpaBufferList {
        &mut *self.list
    }

    pub fn flat_mut(&mut self, i: usize) -> &mut CpaFlatBuffer {
        &mut self.flats[i]
    }

    pub fn raw_mut(&mut self) -> &mut CpaBufferList {
        &mut self.list
    }
}

/// What a callback reported.
#[derive(Default)]
pub struct Done {
    pub fired: AtomicU32,
    pub status: AtomicI32,
    pub verify: AtomicU32,
    pub in_poll: AtomicU32,
    pub op_type: AtomicU32,
}

impl Done {
    pub fn fired(&self) -> u32 {
        self.fired.load(Ordering::SeqCst)
    }
    pub fn status(&self) -> CpaStatus {
        self.status.load(Ordering::SeqCst)
    }
    pub fn verified(&self) -> bool {
        self.verify.load(Ordering::SeqCst) == CPA_TRUE
    }
    pub fn tag(&self) -> *mut c_void {
        std::ptr::from_ref(self).cast_mut().cast()
    }
}

/// The callback every session here registers; the tag is a `Done`.
pub unsafe extern "C" fn on_done(
    tag: *mut c_void,
    status: CpaStatus,
    op_type: CpaCySymOp,
    _op: *mut c_void,
    _dst: *mut CpaBufferList,
    verify: CpaBoolean,
) {
    // SAFETY: every submit here passes a `Done` that outlives its callback.
    let done = unsafe { &*tag.cast::<Done>() };
    done.status.store(status, Ordering::SeqCst);
    done.verify.store(verify, Ordering::SeqCst);
    done.op_type.store(op_type, Ordering::SeqCst);
    done.in_poll
        .store(u32::from(double::in_poll()), Ordering::SeqCst);
    done.fired.fetch_add(1, Ordering::SeqCst);
}

/// An initialised session in pinned memory, removed on drop.
pub struct Session {
    pub ctx: Pinned,
    inst: CpaInstanceHandle,
}

impl Session {
    pub fn new(
        inst: CpaInstanceHandle,
        setup: &CpaCySymSessionSetupData,
    ) -> Result<Session, CpaStatus> {
        let mut size = 0;
        // SAFETY: the setup data and its key pointers live for the calls; the ctx is pinned
        // and as large as asked for.
        unsafe {
            assert_eq!(
                cpaCySymSessionCtxGetSize(inst, setup, &mut size),
                CPA_STATUS_SUCCESS
            );
            let ctx = Pinned::new(size as usize);
            match cpaCySymInitSession(inst, Some(on_done), setup, ctx.ptr().cast()) {
                CPA_STATUS_SUCCESS => Ok(Session { ctx, inst }),
                st => Err(st),
            }
        }
    }

    pub fn ctx(&self) -> CpaCySymSessionCtx {
        self.ctx.ptr().cast()
    }

    pub fn in_use(&self) -> bool {
        let mut b = CPA_FALSE;
        // SAFETY: a live session and an out-parameter.
        let status = unsafe { cpaCySymSessionInUse(self.ctx(), &mut b) };
        assert_eq!(status, CPA_STATUS_SUCCESS);
        b == CPA_TRUE
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: the session was initialised on `inst`; its ctx is freed after removal.
        let st = unsafe { cpaCySymRemoveSession(self.inst, self.ctx()) };
        if !std::thread::panicking() {
            assert_eq!(st, CPA_STATUS_SUCCESS, "cpaCySymRemoveSession");
        }
    }
}

pub fn zeroed<T>() -> T {
    // SAFETY: used only for the bindgen C structs here (integers, enums-as-integers, pointers),
    // for which all zero bytes is a valid value.
    unsafe { std::mem::zeroed() }
}

pub fn aead_setup(
    cipher: CpaCySymCipherAlgorithm,
    hash: CpaCySymHashAlgorithm,
    key: &[u8],
    dir: CpaCySymCipherDirection,
    tag_len: u32,
    aad_len: u32,
) -> CpaCySymSessionSetupData {
    let mut s: CpaCySymSessionSetupData = zeroed();
    s.sessionPriority = CPA_CY_PRIORITY_NORMAL;
    s.symOperation = CPA_CY_SYM_OP_ALGORITHM_CHAINING;
    s.cipherSetupData.cipherAlgorithm = cipher;
    s.cipherSetupData.cipherKeyLenInBytes = key.len() as u32;
    s.cipherSetupData.pCipherKey = key.as_ptr().cast_mut();
    s.cipherSetupData.cipherDirection = dir;
    s.hashSetupData.hashAlgorithm = hash;
    s.hashSetupData.hashMode = CPA_CY_SYM_HASH_MODE_AUTH;
    s.hashSetupData.digestResultLenInBytes = tag_len;
    s.hashSetupData.authModeSetupData.aadLenInBytes = aad_len;
    s.algChainOrder = if dir == CPA_CY_SYM_CIPHER_DIRECTION_ENCRYPT {
        CPA_CY_SYM_ALG_CHAIN_ORDER_CIPHER_THEN_HASH
    } else {
        CPA_CY_SYM_ALG_CHAIN_ORDER_HASH_THEN_CIPHER
    };
    s
}

pub fn gcm_setup(
    key: &[u8],
    dir: CpaCySymCipherDirection,
    tag_len: u32,
    aad_len: u32,
) -> CpaCySymSessionSetupData {
    aead_setup(
        CPA_CY_SYM_CIPHER_AES_GCM,
        CPA_CY_SYM_HASH_AES_GCM,
        key,
        dir,
        tag_len,
        aad_len,
    )
}

pub fn cipher_setup(
    alg: CpaCySymCipherAlgorithm,
    key: &[u8],
    dir: CpaCySymCipherDirection,
) -> CpaCySymSessionSetupData {
    let mut s: CpaCySymSessionSetupData = zeroed();
    s.sessionPriority = CPA_CY_PRIORITY_NORMAL;
    s.symOperation = CPA_CY_SYM_OP_CIPHER;
    s.cipherSetupData.cipherAlgorithm = alg;
    s.cipherSetupData.cipherKeyLenInBytes = key.len() as u32;
    s.cipherSetupData.pCipherKey = key.as_ptr().cast_mut();
    s.cipherSetupData.cipherDirection = dir;
    s
}

pub fn hash_setup(
    alg: CpaCySymHashAlgorithm,
    digest_len: u32,
    hmac_key: Option<&[u8]>,
) -> CpaCySymSessionSetupData {
    let mut s: CpaCySymSessionSetupData = zeroed();
    s.sessionPriority = CPA_CY_PRIORITY_NORMAL;
    s.symOperation = CPA_CY_SYM_OP_HASH;
    s.hashSetupData.hashAlgorithm = alg;
    s.hashSetupData.digestResultLenInBytes = digest_len;
    match hmac_key {
        None => s.hashSetupData.hashMode = CPA_CY_SYM_HASH_MODE_PLAIN,
        Some(key) => {
            s.hashSetupData.hashMode = CPA_CY_SYM_HASH_MODE_AUTH;
            s.hashSetupData.authModeSetupData.authKey = key.as_ptr().cast_mut();
            s.hashSetupData.authModeSetupData.authKeyLenInBytes = key.len() as u32;
        }
    }
    s
}

/// Op data for a full packet over `[off, off+len)`.
pub fn op_data(
    session: &Session,
    iv: Option<(&Pinned, u32)>,
    aad: Option<&Pinned>,
    digest: Option<&Pinned>,
    off: u32,
    len: u32,
) -> CpaCySymOpData {
    let mut op: CpaCySymOpData = zeroed();
    op.sessionCtx = session.ctx();
    op.packetType = CPA_CY_SYM_PACKET_TYPE_FULL;
    if let Some((iv, n)) = iv {
        op.pIv = iv.ptr();
        op.ivLenInBytes = n;
    }
    op.cryptoStartSrcOffsetInBytes = off;
    op.messageLenToCipherInBytes = len;
    op.hashStartSrcOffsetInBytes = off;
    op.messageLenToHashInBytes = len;
    op.pAdditionalAuthData = aad.map_or(std::ptr::null_mut(), Pinned::ptr);
    op.pDigestResult = digest.map_or(std::ptr::null_mut(), Pinned::ptr);
    op
}

pub fn submit(
    inst: CpaInstanceHandle,
    done: &Done,
    op: &CpaCySymOpData,
    src: *mut CpaBufferList,
    dst: *mut CpaBufferList,
) -> CpaStatus {
    // SAFETY: `done`, `op` and the lists outlive the request: every test polls to completion
    // (or the double drops the request at reset) before they go.
    unsafe { cpaCySymPerformOp(inst, done.tag(), op, src, dst, std::ptr::null_mut()) }
}

pub fn poll(inst: CpaInstanceHandle, quota: u32) -> CpaStatus {
    // SAFETY: an instance handle of the started process.
    unsafe { icp_sal_CyPollInstance(inst, quota) }
}
