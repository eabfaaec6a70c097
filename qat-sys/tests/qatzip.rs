//! The real QATzip through the raw bindings: its software path runs the real API without a
//! device (QATzip falls back when sw_backup is set).
#![cfg(feature = "qatzip")]

use qat_sys::qatzip::*;

fn session() -> QzSession_T {
    // SAFETY: QzSession_T is a plain C struct for which all-zero is QATzip's documented
    // starting state.
    unsafe { std::mem::zeroed() }
}

#[test]
fn without_hardware_the_software_path_compresses_and_decompresses() {
    let mut sess = session();
    // SAFETY: `sess` is a zeroed session, as qzInit expects; the calls below pass buffers with
    // their true lengths and keep them alive for the calls.
    unsafe {
        qzSetLogLevel(LOG_NONE);
        assert_eq!(
            qzInit(&mut sess, 1),
            QZ_OK,
            "sw_backup=1 must succeed without hardware"
        );
        assert_eq!(qzSetupSession(&mut sess, std::ptr::null_mut()), QZ_OK);
        assert_eq!(
            sess.hw_session_stat, QZ_NO_HW as _,
            "no device here: software path"
        );
        let input: Vec<u8> = b"QuickAssist compresses this. ".repeat(300);
        let mut compressed = vec![0u8; input.len() + 1024];
        let (mut src_len, mut dst_len) = (input.len() as u32, compressed.len() as u32);
        assert_eq!(
            qzCompress(
                &mut sess,
                input.as_ptr(),
                &mut src_len,
                compressed.as_mut_ptr(),
                &mut dst_len,
                1
            ),
            QZ_OK
        );
        assert_eq!(src_len as usize, input.len());
        assert!((dst_len as usize) < input.len() / 10, "{dst_len}");
        let mut output = vec![0u8; input.len()];
        let (mut c_len, mut out_len) = (dst_len, output.len() as u32);
        assert_eq!(
            qzDecompress(
                &mut sess,
                compressed.as_ptr(),
                &mut c_len,
                output.as_mut_ptr(),
                &mut out_len
            ),
            QZ_OK
        );
        assert_eq!(&output[..out_len as usize], &input[..]);
        // Corrupt input is a data error, not a crash.
        compressed[dst_len as usize / 2] ^= 0xff;
        let (mut c_len, mut out_len) = (dst_len, output.len() as u32);
        let rc = qzDecompress(
            &mut sess,
            compressed.as_ptr(),
            &mut c_len,
            output.as_mut_ptr(),
            &mut out_len,
        );
        assert!(rc < 0, "corrupt input answered {rc}");
        assert_eq!(qzTeardownSession(&mut sess), QZ_OK);
        assert_eq!(qzClose(&mut sess), QZ_OK);
    }
}

#[test]
fn without_hardware_and_without_software_backup_init_fails() {
    let mut sess = session();
    // SAFETY: as above.
    unsafe {
        qzSetLogLevel(LOG_NONE);
        assert_eq!(qzInit(&mut sess, 0), QZ_NOSW_NO_HW);
    }
}

#[test]
fn the_hand_written_constants_match_qatzip() {
    assert_eq!(QZ_DEFLATE, 8);
    assert_eq!(QZ_LZ4, 0x34);
    assert_eq!(QZ_LZ4s, 0x73);
    assert_eq!(QZ_LZ4_BLOCK, 0x42);
    assert_eq!(QZ_ZSTD, 0x5a);
    // The header sizes QzStatus_T's arrays with QZ_MAX_ALGORITHMS.
    // SAFETY: QzStatus_T is plain data; all-zero is a valid value.
    let status: QzStatus_T = unsafe { std::mem::zeroed() };
    assert_eq!(status.algo_sw.len(), QZ_MAX_ALGORITHMS as usize);
}
