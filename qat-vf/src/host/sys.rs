//! The VFIO and iommufd ioctls: one wrapper each, the only `unsafe` of the VFIO layer's kernel
//! side. Each fills `argsz` and returns the OS error as `io::Error`; callers name the operation.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::libc;
use vfio_bindings::bindings::vfio as b;

/// `_IO(type, nr)`: VFIO encodes no size or direction in its request codes.
const fn io(ty: u8, nr: u32) -> libc::c_ulong {
    ((ty as libc::c_ulong) << 8) | nr as libc::c_ulong
}

const VFIO: u8 = b::VFIO_TYPE;
const BASE: u32 = b::VFIO_BASE;
pub(super) const GET_API_VERSION: libc::c_ulong = io(VFIO, BASE);
pub(super) const CHECK_EXTENSION: libc::c_ulong = io(VFIO, BASE + 1);
pub(super) const SET_IOMMU: libc::c_ulong = io(VFIO, BASE + 2);
pub(super) const GROUP_GET_STATUS: libc::c_ulong = io(VFIO, BASE + 3);
pub(super) const GROUP_SET_CONTAINER: libc::c_ulong = io(VFIO, BASE + 4);
pub(super) const GROUP_UNSET_CONTAINER: libc::c_ulong = io(VFIO, BASE + 5);
pub(super) const GROUP_GET_DEVICE_FD: libc::c_ulong = io(VFIO, BASE + 6);
pub(super) const DEVICE_GET_INFO: libc::c_ulong = io(VFIO, BASE + 7);
pub(super) const DEVICE_GET_REGION_INFO: libc::c_ulong = io(VFIO, BASE + 8);
pub(super) const DEVICE_GET_IRQ_INFO: libc::c_ulong = io(VFIO, BASE + 9);
pub(super) const DEVICE_SET_IRQS: libc::c_ulong = io(VFIO, BASE + 10);
pub(super) const DEVICE_RESET: libc::c_ulong = io(VFIO, BASE + 11);
pub(super) const IOMMU_GET_INFO: libc::c_ulong = io(VFIO, BASE + 12);
pub(super) const IOMMU_MAP_DMA: libc::c_ulong = io(VFIO, BASE + 13);
pub(super) const IOMMU_UNMAP_DMA: libc::c_ulong = io(VFIO, BASE + 14);
pub(super) const DEVICE_BIND_IOMMUFD: libc::c_ulong = io(VFIO, BASE + 18);
pub(super) const DEVICE_ATTACH_IOMMUFD_PT: libc::c_ulong = io(VFIO, BASE + 19);
/// iommufd's ioctls share VFIO's type and start at 0x80.
pub(super) const IOMMU_IOAS_ALLOC: libc::c_ulong = io(VFIO, 0x81);
pub(super) const IOMMU_IOAS_MAP: libc::c_ulong = io(VFIO, 0x85);
pub(super) const IOMMU_IOAS_UNMAP: libc::c_ulong = io(VFIO, 0x86);

/// `struct iommu_ioas_alloc` (include/uapi/linux/iommufd.h).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct IommuIoasAlloc {
    pub(super) size: u32,
    pub(super) flags: u32,
    pub(super) out_ioas_id: u32,
}

/// `struct iommu_ioas_map`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct IommuIoasMap {
    pub(super) size: u32,
    pub(super) flags: u32,
    pub(super) ioas_id: u32,
    pub(super) reserved: u32,
    pub(super) user_va: u64,
    pub(super) length: u64,
    pub(super) iova: u64,
}

/// `struct iommu_ioas_unmap`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct IommuIoasUnmap {
    pub(super) size: u32,
    pub(super) ioas_id: u32,
    pub(super) iova: u64,
    pub(super) length: u64,
}

/// `IOMMU_IOAS_MAP_FIXED_IOVA | WRITEABLE | READABLE`.
pub(super) const IOAS_MAP_FIXED_RW: u32 = 1 | 2 | 4;

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn argsz<T>() -> u32 {
    std::mem::size_of::<T>() as u32
}

/// An ioctl whose argument is a plain integer (or none).
///
/// # Safety
/// `request` must be a request that takes an integer argument or none.
unsafe fn ioctl_int(
    fd: BorrowedFd<'_>,
    request: libc::c_ulong,
    arg: libc::c_ulong,
) -> io::Result<libc::c_int> {
    // SAFETY: the caller passes a request that takes an integer; no memory is passed.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), request, arg) })
}

/// An ioctl whose argument points at `arg`, which the kernel reads and may write.
///
/// # Safety
/// `request` must be a request whose argument is a pointer to a `T` (the uapi struct or int of
/// that request), so the kernel reads and writes at most `size_of::<T>()` bytes.
unsafe fn ioctl_ptr<T>(
    fd: BorrowedFd<'_>,
    request: libc::c_ulong,
    arg: &mut T,
) -> io::Result<libc::c_int> {
    // SAFETY: `arg` is live and exclusively borrowed for the call, and the caller guarantees it
    // is the type the request reads and writes.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), request, std::ptr::from_mut(arg)) })
}

/// An ioctl whose argument is a byte buffer starting with a uapi struct whose first field,
/// `argsz`, holds the buffer's length.
///
/// # Safety
/// `request` must be an argsz-sized request (the kernel writes no more than argsz bytes, and
/// reads at least its struct's minimum size, which `buf` must hold), and `buf` must start with
/// that struct, argsz filled.
unsafe fn ioctl_buf(
    fd: BorrowedFd<'_>,
    request: libc::c_ulong,
    buf: &mut [u8],
) -> io::Result<libc::c_int> {
    // SAFETY: the buffer is live and exclusively borrowed for the call; the caller guarantees
    // its header and argsz.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), request, buf.as_mut_ptr()) })
}

pub(super) fn get_api_version(container: BorrowedFd<'_>) -> io::Result<i32> {
    // SAFETY: VFIO_GET_API_VERSION takes no argument.
    unsafe { ioctl_int(container, GET_API_VERSION, 0) }
}

pub(super) fn check_extension(container: BorrowedFd<'_>, extension: u32) -> io::Result<bool> {
    // SAFETY: VFIO_CHECK_EXTENSION takes the extension as an integer.
    Ok(unsafe { ioctl_int(container, CHECK_EXTENSION, libc::c_ulong::from(extension)) }? > 0)
}

pub(super) fn set_iommu(container: BorrowedFd<'_>, kind: u32) -> io::Result<()> {
    // SAFETY: VFIO_SET_IOMMU takes the IOMMU type as an integer.
    unsafe { ioctl_int(container, SET_IOMMU, libc::c_ulong::from(kind)) }.map(drop)
}

/// A request that answers with a struct and a capability chain: asks with the struct's size,
/// then again with the size the kernel says it needs. `prefill` sets the input fields.
///
/// # Safety
/// `request` must be an argsz-sized request whose struct is at least `header` bytes long.
unsafe fn ioctl_with_caps(
    fd: BorrowedFd<'_>,
    request: libc::c_ulong,
    header: usize,
    prefill: impl Fn(&mut [u8]),
) -> io::Result<Vec<u8>> {
    let mut size = header;
    loop {
        let mut buf = vec![0u8; size];
        buf[..4].copy_from_slice(&(size as u32).to_ne_bytes());
        prefill(&mut buf);
        // SAFETY: `buf` holds the request's struct (`header` bytes or more, per the caller),
        // argsz is its length.
        unsafe { ioctl_buf(fd, request, &mut buf) }?;
        let wanted = u32::from_ne_bytes(buf[..4].try_into().expect("4 bytes")) as usize;
        if wanted <= size {
            return Ok(buf);
        }
        size = wanted;
    }
}

/// `VFIO_IOMMU_GET_INFO` with its capability chain.
pub(super) fn iommu_get_info(container: BorrowedFd<'_>) -> io::Result<Vec<u8>> {
    let header = argsz::<b::vfio_iommu_type1_info>() as usize;
    // SAFETY: VFIO_IOMMU_GET_INFO answers with vfio_iommu_type1_info, `header` bytes.
    unsafe { ioctl_with_caps(container, IOMMU_GET_INFO, header, |_| {}) }
}

pub(super) fn map_dma(
    container: BorrowedFd<'_>,
    vaddr: u64,
    iova: u64,
    size: u64,
) -> io::Result<()> {
    let mut map = b::vfio_iommu_type1_dma_map {
        argsz: argsz::<b::vfio_iommu_type1_dma_map>(),
        flags: b::VFIO_DMA_MAP_FLAG_READ | b::VFIO_DMA_MAP_FLAG_WRITE,
        vaddr,
        iova,
        size,
    };
    // SAFETY: VFIO_IOMMU_MAP_DMA takes a vfio_iommu_type1_dma_map.
    unsafe { ioctl_ptr(container, IOMMU_MAP_DMA, &mut map) }.map(drop)
}

/// Returns the number of bytes the kernel unmapped.
pub(super) fn unmap_dma(container: BorrowedFd<'_>, iova: u64, size: u64) -> io::Result<u64> {
    let mut unmap = b::vfio_iommu_type1_dma_unmap {
        argsz: argsz::<b::vfio_iommu_type1_dma_unmap>(),
        flags: 0,
        iova,
        size,
        data: Default::default(),
    };
    // SAFETY: VFIO_IOMMU_UNMAP_DMA takes a vfio_iommu_type1_dma_unmap.
    unsafe { ioctl_ptr(container, IOMMU_UNMAP_DMA, &mut unmap) }?;
    Ok(unmap.size)
}

pub(super) fn group_get_status(group: BorrowedFd<'_>) -> io::Result<u32> {
    let mut status = b::vfio_group_status {
        argsz: argsz::<b::vfio_group_status>(),
        flags: 0,
    };
    // SAFETY: VFIO_GROUP_GET_STATUS takes a vfio_group_status.
    unsafe { ioctl_ptr(group, GROUP_GET_STATUS, &mut status) }?;
    Ok(status.flags)
}

pub(super) fn group_set_container(
    group: BorrowedFd<'_>,
    container: BorrowedFd<'_>,
) -> io::Result<()> {
    let mut fd: libc::c_int = container.as_raw_fd();
    // SAFETY: VFIO_GROUP_SET_CONTAINER takes a pointer to the container fd, an int.
    unsafe { ioctl_ptr(group, GROUP_SET_CONTAINER, &mut fd) }.map(drop)
}

pub(super) fn group_unset_container(group: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: VFIO_GROUP_UNSET_CONTAINER takes no argument.
    unsafe { ioctl_int(group, GROUP_UNSET_CONTAINER, 0) }.map(drop)
}

pub(super) fn group_get_device_fd(group: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
    let name =
        std::ffi::CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: the request reads a NUL-terminated string, which `name` is, alive for the call.
    let fd = check(unsafe { libc::ioctl(group.as_raw_fd(), GROUP_GET_DEVICE_FD, name.as_ptr()) })?;
    // SAFETY: on success the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(super) fn device_get_info(device: BorrowedFd<'_>) -> io::Result<b::vfio_device_info> {
    let mut info = b::vfio_device_info {
        argsz: argsz::<b::vfio_device_info>(),
        ..Default::default()
    };
    // SAFETY: VFIO_DEVICE_GET_INFO takes a vfio_device_info.
    unsafe { ioctl_ptr(device, DEVICE_GET_INFO, &mut info) }?;
    Ok(info)
}

/// `VFIO_DEVICE_GET_REGION_INFO` with its capability chain.
pub(super) fn device_get_region_info(device: BorrowedFd<'_>, index: u32) -> io::Result<Vec<u8>> {
    let header = argsz::<b::vfio_region_info>() as usize;
    let set_index = |buf: &mut [u8]| buf[8..12].copy_from_slice(&index.to_ne_bytes());
    // SAFETY: VFIO_DEVICE_GET_REGION_INFO answers with vfio_region_info, `header` bytes.
    unsafe { ioctl_with_caps(device, DEVICE_GET_REGION_INFO, header, set_index) }
}

pub(super) fn device_get_irq_info(
    device: BorrowedFd<'_>,
    index: u32,
) -> io::Result<b::vfio_irq_info> {
    let mut info = b::vfio_irq_info {
        argsz: argsz::<b::vfio_irq_info>(),
        index,
        ..Default::default()
    };
    // SAFETY: VFIO_DEVICE_GET_IRQ_INFO takes a vfio_irq_info.
    unsafe { ioctl_ptr(device, DEVICE_GET_IRQ_INFO, &mut info) }?;
    Ok(info)
}

/// Connects (or with `None` disconnects) an eventfd as the trigger of irq `index`, vector 0.
pub(super) fn device_set_irq_eventfd(
    device: BorrowedFd<'_>,
    index: u32,
    eventfd: Option<BorrowedFd<'_>>,
) -> io::Result<()> {
    let header = argsz::<b::vfio_irq_set>() as usize;
    let mut buf = vec![0u8; header + 4];
    let (flags, count): (u32, u32) = match eventfd {
        Some(_) => (
            b::VFIO_IRQ_SET_DATA_EVENTFD | b::VFIO_IRQ_SET_ACTION_TRIGGER,
            1,
        ),
        None => (
            b::VFIO_IRQ_SET_DATA_NONE | b::VFIO_IRQ_SET_ACTION_TRIGGER,
            0,
        ),
    };
    let len = if eventfd.is_some() { buf.len() } else { header };
    for (offset, value) in [
        (0, len as u32),
        (4, flags),
        (8, index),
        (12, 0),
        (16, count),
    ] {
        buf[offset..offset + 4].copy_from_slice(&value.to_ne_bytes());
    }
    if let Some(fd) = eventfd {
        buf[header..].copy_from_slice(&fd.as_raw_fd().to_ne_bytes());
    }
    // SAFETY: `buf` is a vfio_irq_set header (20 bytes) and `count` eventfds, argsz set.
    unsafe { ioctl_buf(device, DEVICE_SET_IRQS, &mut buf[..len]) }.map(drop)
}

pub(super) fn device_reset(device: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: VFIO_DEVICE_RESET takes no argument.
    unsafe { ioctl_int(device, DEVICE_RESET, 0) }.map(drop)
}

pub(super) fn pread(fd: BorrowedFd<'_>, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    nix::sys::uio::pread(fd, buf, offset as libc::off_t).map_err(io::Error::from)
}

pub(super) fn pwrite(fd: BorrowedFd<'_>, offset: u64, buf: &[u8]) -> io::Result<usize> {
    nix::sys::uio::pwrite(fd, buf, offset as libc::off_t).map_err(io::Error::from)
}

/// Binds a VFIO cdev to an iommufd; returns the device id in that iommufd.
pub(super) fn device_bind_iommufd(
    device: BorrowedFd<'_>,
    iommufd: BorrowedFd<'_>,
) -> io::Result<u32> {
    let mut bind = b::vfio_device_bind_iommufd {
        argsz: argsz::<b::vfio_device_bind_iommufd>(),
        flags: 0,
        iommufd: iommufd.as_raw_fd(),
        out_devid: 0,
        token_uuid_ptr: 0,
    };
    // SAFETY: VFIO_DEVICE_BIND_IOMMUFD takes a vfio_device_bind_iommufd.
    unsafe { ioctl_ptr(device, DEVICE_BIND_IOMMUFD, &mut bind) }?;
    Ok(bind.out_devid)
}

pub(super) fn device_attach_iommufd_pt(device: BorrowedFd<'_>, pt_id: u32) -> io::Result<()> {
    let mut attach = b::vfio_device_attach_iommufd_pt {
        argsz: argsz::<b::vfio_device_attach_iommufd_pt>(),
        flags: 0,
        pt_id,
        pasid: 0,
    };
    // SAFETY: VFIO_DEVICE_ATTACH_IOMMUFD_PT takes a vfio_device_attach_iommufd_pt.
    unsafe { ioctl_ptr(device, DEVICE_ATTACH_IOMMUFD_PT, &mut attach) }.map(drop)
}

pub(super) fn ioas_alloc(iommufd: BorrowedFd<'_>) -> io::Result<u32> {
    let mut alloc = IommuIoasAlloc {
        size: argsz::<IommuIoasAlloc>(),
        ..Default::default()
    };
    // SAFETY: IOMMU_IOAS_ALLOC takes a struct iommu_ioas_alloc.
    unsafe { ioctl_ptr(iommufd, IOMMU_IOAS_ALLOC, &mut alloc) }?;
    Ok(alloc.out_ioas_id)
}

pub(super) fn ioas_map(
    iommufd: BorrowedFd<'_>,
    ioas_id: u32,
    vaddr: u64,
    iova: u64,
    size: u64,
) -> io::Result<()> {
    let mut map = IommuIoasMap {
        size: argsz::<IommuIoasMap>(),
        flags: IOAS_MAP_FIXED_RW,
        ioas_id,
        user_va: vaddr,
        length: size,
        iova,
        ..Default::default()
    };
    // SAFETY: IOMMU_IOAS_MAP takes a struct iommu_ioas_map.
    unsafe { ioctl_ptr(iommufd, IOMMU_IOAS_MAP, &mut map) }.map(drop)
}

pub(super) fn ioas_unmap(
    iommufd: BorrowedFd<'_>,
    ioas_id: u32,
    iova: u64,
    size: u64,
) -> io::Result<u64> {
    let mut unmap = IommuIoasUnmap {
        size: argsz::<IommuIoasUnmap>(),
        ioas_id,
        iova,
        length: size,
    };
    // SAFETY: IOMMU_IOAS_UNMAP takes a struct iommu_ioas_unmap.
    unsafe { ioctl_ptr(iommufd, IOMMU_IOAS_UNMAP, &mut unmap) }?;
    Ok(unmap.length)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Request codes from include/uapi/linux/vfio.h and iommufd.h, as the kernel computes them.
    #[test]
    fn request_codes_are_pinned() {
        assert_eq!(GET_API_VERSION, 0x3b64);
        assert_eq!(CHECK_EXTENSION, 0x3b65);
        assert_eq!(SET_IOMMU, 0x3b66);
        assert_eq!(GROUP_GET_STATUS, 0x3b67);
        assert_eq!(GROUP_SET_CONTAINER, 0x3b68);
        assert_eq!(GROUP_UNSET_CONTAINER, 0x3b69);
        assert_eq!(GROUP_GET_DEVICE_FD, 0x3b6a);
        assert_eq!(DEVICE_GET_INFO, 0x3b6b);
        assert_eq!(DEVICE_GET_REGION_INFO, 0x3b6c);
        assert_eq!(DEVICE_GET_IRQ_INFO, 0x3b6d);
        assert_eq!(DEVICE_SET_IRQS, 0x3b6e);
        assert_eq!(DEVICE_RESET, 0x3b6f);
        assert_eq!(IOMMU_GET_INFO, 0x3b70);
        assert_eq!(IOMMU_MAP_DMA, 0x3b71);
        assert_eq!(IOMMU_UNMAP_DMA, 0x3b72);
        assert_eq!(DEVICE_BIND_IOMMUFD, 0x3b76);
        assert_eq!(DEVICE_ATTACH_IOMMUFD_PT, 0x3b77);
        assert_eq!(IOMMU_IOAS_ALLOC, 0x3b81);
        assert_eq!(IOMMU_IOAS_MAP, 0x3b85);
        assert_eq!(IOMMU_IOAS_UNMAP, 0x3b86);
    }

    #[test]
    fn struct_sizes_are_pinned() {
        use std::mem::size_of;
        assert_eq!(size_of::<b::vfio_group_status>(), 8);
        assert_eq!(size_of::<b::vfio_device_info>(), 24);
        assert_eq!(size_of::<b::vfio_region_info>(), 32);
        assert_eq!(size_of::<b::vfio_irq_info>(), 16);
        assert_eq!(size_of::<b::vfio_irq_set>(), 20);
        assert_eq!(size_of::<b::vfio_iommu_type1_info>(), 24);
        assert_eq!(size_of::<b::vfio_iommu_type1_dma_map>(), 32);
        assert_eq!(size_of::<b::vfio_iommu_type1_dma_unmap>(), 24);
        assert_eq!(size_of::<b::vfio_device_bind_iommufd>(), 24);
        assert_eq!(size_of::<b::vfio_device_attach_iommufd_pt>(), 16);
        assert_eq!(size_of::<IommuIoasAlloc>(), 12);
        assert_eq!(size_of::<IommuIoasMap>(), 40);
        assert_eq!(size_of::<IommuIoasUnmap>(), 24);
        assert_eq!(b::VFIO_TYPE1v2_IOMMU, 3);
        assert_eq!(b::VFIO_PCI_REQ_IRQ_INDEX, 4);
        assert_eq!(b::VFIO_PCI_CONFIG_REGION_INDEX, 7);
    }
}
