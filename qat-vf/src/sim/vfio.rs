//! The simulated host's answers to VFIO requests, from the same model its sysfs answers from:
//! `/dev/vfio/N` exists while the group has a VFIO-bound device, a group opens once, attaching a
//! non-viable group is EPERM, the IOMMU needs a group first, DMA maps reject overlaps, the MSI
//! window and unaligned requests, and a removed device answers ENODEV.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Component, Path, PathBuf};

use std::sync::atomic::{AtomicU64, Ordering};

use nix::libc;
use nix::sys::memfd::{MFdFlags, memfd_create};
use vfio_bindings::bindings::vfio as b;

use super::{Sim, VFIO_DEVICE_FD};
use crate::host::{DeviceInfo, IrqInfo, VfioOps, paths};
use crate::iommu::VFIO_SAFE_DRIVERS;
use crate::pci::Bdf;

/// IOVA ranges of an x86 intel-iommu with 39-bit addresses, less the MSI window.
const IOVA_RANGES: [(u64, u64); 2] = [(0, 0xfedf_ffff), (0xfef0_0000, 0x7f_ffff_ffff)];
/// 4 KiB, 2 MiB and 1 GiB pages.
const IOVA_PGSIZES: u64 = 0x4020_1000;
/// BAR0 of an emulated VF: 16 KiB, mmap-able.
const BAR0_SIZE: u64 = 16 << 10;
/// PCIe config space.
const CONFIG_SIZE: u64 = 4096;
/// Region offsets in the device fd, as vfio-pci lays them out (index << 40).
const REGION_SHIFT: u32 = 40;

/// Open handles by descriptor, with the memfd name that proves the descriptor is still theirs.
pub(super) type Handles = std::collections::HashMap<RawFd, (String, Handle)>;

/// What a simulated VFIO file descriptor is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Handle {
    Container {
        iommu: bool,
        groups: Vec<u32>,
        dma: BTreeMap<u64, u64>,
    },
    Group {
        number: u32,
        container: Option<RawFd>,
    },
    /// A device fd: from a group, or from its cdev (then usable once bound to an iommufd).
    Device { bdf: Bdf, cdev: Option<CdevState> },
    /// `/dev/iommu`: its IOASes and their DMA mappings.
    Iommufd {
        ioases: BTreeMap<u32, BTreeMap<u64, u64>>,
    },
}

/// Where a cdev-opened device stands in the iommufd sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CdevState {
    /// Opened, not bound: device requests answer EINVAL.
    Opened,
    /// Bound to an iommufd (its descriptor), attached to an IOAS once `ioas` is set.
    Bound { iommufd: RawFd, ioas: Option<u32> },
}

/// Whether descriptor `fd` of this process is still the memfd called `name`.
fn fd_names(fd: RawFd, name: &str) -> bool {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok_and(|target| {
        target
            .to_string_lossy()
            .starts_with(&format!("/memfd:{name} "))
    })
}

fn err<T>(errno: i32) -> io::Result<T> {
    Err(io::Error::from_raw_os_error(errno))
}

impl Sim {
    /// Forgets handles whose descriptor was closed, and makes the model's VFIO holders match the
    /// open device handles (an open device fd is what makes the kernel block on removing it).
    /// Returns what this process's descriptors point at, as `/proc/self/fd` would show them.
    pub(super) fn live_vfio_handles(&self) -> Vec<PathBuf> {
        let me = std::process::id();
        let mut devices = Vec::new();
        let mut targets = Vec::new();
        {
            let mut handles = self.vfio_handles();
            handles.retain(|fd, (name, _)| fd_names(*fd, name));
            for (_, handle) in handles.values() {
                match handle {
                    Handle::Device { bdf, cdev } => {
                        devices.push(*bdf);
                        targets.push(match cdev {
                            Some(_) => self.cdev_of(*bdf),
                            None => PathBuf::from(VFIO_DEVICE_FD),
                        });
                    }
                    Handle::Group { number, .. } => targets.push(paths::vfio_group_node(*number)),
                    Handle::Container { .. } => targets.push(PathBuf::from(paths::VFIO_CONTAINER)),
                    Handle::Iommufd { .. } => targets.push(PathBuf::from(paths::IOMMUFD)),
                }
            }
        }
        self.with_kernel(|k| {
            k.holders
                .retain(|bdf, pid| *pid != me || devices.contains(bdf));
            for bdf in devices {
                if k.devices.contains_key(&bdf) {
                    k.holders.entry(bdf).or_insert(me);
                }
            }
        });
        targets
    }

    /// The cdev a device was opened through (the model numbers cdevs by IOMMU group).
    fn cdev_of(&self, bdf: Bdf) -> PathBuf {
        let group = self
            .lock()
            .kernel
            .devices
            .get(&bdf)
            .map_or(0, |d| d.iommu_group);
        paths::vfio_cdev(&format!("vfio{group}"))
    }

    /// A real descriptor stands for the handle, so the types that own it work unchanged: a
    /// memfd with a unique name, so that a closed (and reused) descriptor is told apart.
    fn new_handle(&self, handle: Handle) -> io::Result<OwnedFd> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "qatkit-sim-vfio-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let fd = memfd_create(name.as_str(), MFdFlags::MFD_CLOEXEC).map_err(io::Error::from)?;
        // A reused descriptor number replaces the closed handle it had; other closed handles
        // are forgotten by `live_vfio_handles`, which every reader of the table goes through.
        self.vfio_handles().insert(fd.as_raw_fd(), (name, handle));
        Ok(fd)
    }

    fn handle(&self, fd: BorrowedFd<'_>) -> io::Result<Handle> {
        self.vfio_handles()
            .get(&fd.as_raw_fd())
            .map(|(_, h)| h.clone())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))
    }

    fn update(
        &self,
        fd: BorrowedFd<'_>,
        f: impl FnOnce(&mut Handle) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut handles = self.vfio_handles();
        let (_, handle) = handles
            .get_mut(&fd.as_raw_fd())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))?;
        f(handle)
    }

    /// A device fd. BAR0 sits at offset 0 of it: the memfd gets its size so it can be mapped.
    fn new_device_handle(&self, bdf: Bdf, cdev: Option<CdevState>) -> io::Result<OwnedFd> {
        let fd = self.new_handle(Handle::Device { bdf, cdev })?;
        std::fs::File::from(fd.try_clone()?).set_len(BAR0_SIZE)?;
        Ok(fd)
    }

    /// Bytes this process's open DMA mappings pin, container and iommufd alike.
    pub(super) fn pinned_bytes(&self) -> u64 {
        self.live_vfio_handles();
        self.vfio_handles()
            .values()
            .map(|(_, handle)| match handle {
                Handle::Container { dma, .. } => dma.values().sum(),
                Handle::Iommufd { ioases } => ioases.values().flat_map(|m| m.values()).sum(),
                _ => 0,
            })
            .sum()
    }

    /// The IOAS mappings of `ioas` in iommufd `fd`, for `f` to read or change.
    fn with_ioas<T>(
        &self,
        iommufd: BorrowedFd<'_>,
        ioas: u32,
        f: impl FnOnce(&mut BTreeMap<u64, u64>) -> io::Result<T>,
    ) -> io::Result<T> {
        let mut handles = self.vfio_handles();
        match handles.get_mut(&iommufd.as_raw_fd()) {
            Some((_, Handle::Iommufd { ioases })) => match ioases.get_mut(&ioas) {
                Some(mappings) => f(mappings),
                None => err(libc::ENOENT),
            },
            Some(_) => err(libc::EINVAL),
            None => err(libc::EBADF),
        }
    }

    fn group_viable(&self, number: u32) -> bool {
        let kernel = self.kernel();
        kernel.group_members(number).all(|m| {
            kernel.devices[&m]
                .driver
                .as_deref()
                .is_none_or(|d| VFIO_SAFE_DRIVERS.contains(&d))
        })
    }

    fn group_of(&self, fd: BorrowedFd<'_>) -> io::Result<(u32, Option<RawFd>)> {
        match self.handle(fd)? {
            Handle::Group { number, container } => {
                // The group vanished with its devices (VFs disabled): the old fd answers ENODEV.
                if self.kernel().group_members(number).next().is_none() {
                    return err(libc::ENODEV);
                }
                Ok((number, container))
            }
            _ => err(libc::EINVAL),
        }
    }

    fn device_of(&self, fd: BorrowedFd<'_>) -> io::Result<Bdf> {
        match self.handle(fd)? {
            Handle::Device { bdf, .. } if !self.kernel().devices.contains_key(&bdf) => {
                err(libc::ENODEV)
            }
            Handle::Device {
                cdev: Some(CdevState::Opened),
                ..
            } => err(libc::EINVAL),
            Handle::Device { bdf, .. } => Ok(bdf),
            _ => err(libc::EINVAL),
        }
    }
}

/// The kernel's answer to a DMA map into `mappings` (IOVA → size): EINVAL for unaligned
/// requests or IOVAs outside the usable ranges (the MSI window), EEXIST for an overlap.
fn map_into(mappings: &mut BTreeMap<u64, u64>, vaddr: u64, iova: u64, size: u64) -> io::Result<()> {
    let page = 1u64 << IOVA_PGSIZES.trailing_zeros();
    if size == 0 || vaddr % page != 0 || iova % page != 0 || size % page != 0 {
        return err(libc::EINVAL);
    }
    let Some(last) = iova.checked_add(size - 1) else {
        return err(libc::EINVAL);
    };
    if !IOVA_RANGES.iter().any(|(s, e)| *s <= iova && last <= *e) {
        return err(libc::EINVAL);
    }
    if mappings
        .iter()
        .any(|(start, len)| *start <= last && iova < start + len)
    {
        return err(libc::EEXIST);
    }
    mappings.insert(iova, size);
    Ok(())
}

/// Removes the mappings that lie wholly in `iova..iova+size`; returns the bytes they had.
fn unmap_from(mappings: &mut BTreeMap<u64, u64>, iova: u64, size: u64) -> u64 {
    let end = iova.saturating_add(size);
    let inside: Vec<u64> = mappings
        .iter()
        .filter(|(s, l)| **s >= iova && *s + *l <= end)
        .map(|(s, _)| *s)
        .collect();
    inside.iter().map(|s| mappings.remove(s).unwrap_or(0)).sum()
}

fn region_bytes(index: u32, flags: u32, size: u64) -> Vec<u8> {
    let mut buf = Vec::with_capacity(32);
    for v in [32u32, flags, index, 0] {
        buf.extend_from_slice(&v.to_ne_bytes());
    }
    buf.extend_from_slice(&size.to_ne_bytes());
    buf.extend_from_slice(&(u64::from(index) << REGION_SHIFT).to_ne_bytes());
    buf
}

impl VfioOps for Sim {
    fn open(&self, path: &Path) -> io::Result<OwnedFd> {
        let parts: Vec<&str> = path
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => s.to_str(),
                _ => None,
            })
            .collect();
        match parts.as_slice() {
            ["dev", "iommu"] if self.kernel().quirks.iommufd => self.new_handle(Handle::Iommufd {
                ioases: BTreeMap::new(),
            }),
            ["dev", "vfio", "devices", cdev] => {
                let bdf = cdev
                    .strip_prefix("vfio")
                    .and_then(|n| n.parse().ok())
                    .and_then(|n| self.kernel().cdev_device(n))
                    .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
                self.new_device_handle(bdf, Some(CdevState::Opened))
            }
            ["dev", "vfio", "vfio"] => self.new_handle(Handle::Container {
                iommu: false,
                groups: Vec::new(),
                dma: BTreeMap::new(),
            }),
            ["dev", "vfio", group] => {
                let number: u32 = group
                    .parse()
                    .map_err(|_| io::Error::from_raw_os_error(libc::ENOENT))?;
                if !self.kernel().vfio_nodes.contains_key(&number) {
                    return err(libc::ENOENT);
                }
                let open = self.live_vfio_handles();
                if open.contains(&paths::vfio_group_node(number)) {
                    return err(libc::EBUSY);
                }
                self.new_handle(Handle::Group {
                    number,
                    container: None,
                })
            }
            _ => err(libc::ENOENT),
        }
    }

    fn api_version(&self, container: BorrowedFd<'_>) -> io::Result<i32> {
        self.handle(container)?;
        Ok(b::VFIO_API_VERSION as i32)
    }

    fn check_extension(&self, container: BorrowedFd<'_>, extension: u32) -> io::Result<bool> {
        self.handle(container)?;
        Ok(matches!(
            extension,
            b::VFIO_TYPE1v2_IOMMU | b::VFIO_TYPE1_IOMMU
        ))
    }

    fn set_iommu(&self, container: BorrowedFd<'_>, kind: u32) -> io::Result<()> {
        self.update(container, |h| match h {
            Handle::Container { groups, .. } if groups.is_empty() => err(libc::EINVAL),
            // The IOMMU model is set once per container.
            Handle::Container { iommu: true, .. } => err(libc::EINVAL),
            Handle::Container { iommu, .. }
                if matches!(kind, b::VFIO_TYPE1v2_IOMMU | b::VFIO_TYPE1_IOMMU) =>
            {
                *iommu = true;
                Ok(())
            }
            _ => err(libc::EINVAL),
        })
    }

    fn iommu_info(&self, container: BorrowedFd<'_>) -> io::Result<Vec<u8>> {
        let Handle::Container { iommu: true, .. } = self.handle(container)? else {
            return err(libc::EINVAL);
        };
        let mut buf = Vec::new();
        let total = 24 + 16 + 16 * IOVA_RANGES.len() as u32;
        for v in [total, b::VFIO_IOMMU_INFO_PGSIZES | b::VFIO_IOMMU_INFO_CAPS] {
            buf.extend_from_slice(&v.to_ne_bytes());
        }
        buf.extend_from_slice(&IOVA_PGSIZES.to_ne_bytes());
        buf.extend_from_slice(&24u32.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&(b::VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE as u16).to_ne_bytes());
        buf.extend_from_slice(&1u16.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&(IOVA_RANGES.len() as u32).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes());
        for (start, end) in IOVA_RANGES {
            buf.extend_from_slice(&start.to_ne_bytes());
            buf.extend_from_slice(&end.to_ne_bytes());
        }
        Ok(buf)
    }

    fn map_dma(
        &self,
        container: BorrowedFd<'_>,
        vaddr: u64,
        iova: u64,
        size: u64,
    ) -> io::Result<()> {
        self.update(container, |h| {
            let Handle::Container {
                iommu: true, dma, ..
            } = h
            else {
                return err(libc::EINVAL);
            };
            map_into(dma, vaddr, iova, size)
        })
    }

    fn unmap_dma(&self, container: BorrowedFd<'_>, iova: u64, size: u64) -> io::Result<u64> {
        let mut unmapped = 0;
        self.update(container, |h| {
            let Handle::Container { dma, .. } = h else {
                return err(libc::EINVAL);
            };
            unmapped = unmap_from(dma, iova, size);
            Ok(())
        })?;
        Ok(unmapped)
    }

    fn group_status(&self, group: BorrowedFd<'_>) -> io::Result<u32> {
        let (number, container) = self.group_of(group)?;
        let mut flags = 0;
        if self.group_viable(number) {
            flags |= b::VFIO_GROUP_FLAGS_VIABLE;
        }
        if container.is_some() {
            flags |= b::VFIO_GROUP_FLAGS_CONTAINER_SET;
        }
        Ok(flags)
    }

    fn group_set_container(
        &self,
        group: BorrowedFd<'_>,
        container: BorrowedFd<'_>,
    ) -> io::Result<()> {
        let (number, current) = self.group_of(group)?;
        if current.is_some() {
            return err(libc::EINVAL);
        }
        if !self.group_viable(number) {
            return err(libc::EPERM);
        }
        self.update(container, |h| match h {
            Handle::Container { groups, .. } => {
                groups.push(number);
                Ok(())
            }
            _ => err(libc::EINVAL),
        })?;
        let container = container.as_raw_fd();
        self.update(group, |h| {
            if let Handle::Group { container: c, .. } = h {
                *c = Some(container);
            }
            Ok(())
        })
    }

    fn group_unset_container(&self, group: BorrowedFd<'_>) -> io::Result<()> {
        let (number, container) = self.group_of(group)?;
        let Some(container) = container else {
            return err(libc::EINVAL);
        };
        // A group with a device fd open stays attached (closed descriptors forgotten first).
        self.live_vfio_handles();
        let device_open = self.vfio_handles().values().any(|(_, h)| {
            matches!(h, Handle::Device { bdf, .. } if self.kernel().devices.get(bdf).is_some_and(|d| d.iommu_group == number))
        });
        if device_open {
            return err(libc::EBUSY);
        }
        if let Some((_, Handle::Container { groups, iommu, dma })) =
            self.vfio_handles().get_mut(&container)
        {
            groups.retain(|g| *g != number);
            if groups.is_empty() {
                *iommu = false;
                dma.clear();
            }
        }
        self.update(group, |h| {
            if let Handle::Group { container, .. } = h {
                *container = None;
            }
            Ok(())
        })
    }

    fn group_device_fd(&self, group: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
        let (number, container) = self.group_of(group)?;
        let iommu_set = container
            .and_then(|c| self.vfio_handles().get(&c).map(|(_, h)| h.clone()))
            .is_some_and(|h| matches!(h, Handle::Container { iommu: true, .. }));
        if !iommu_set {
            return err(libc::EINVAL);
        }
        let bdf: Bdf = name
            .parse()
            .map_err(|_| io::Error::from_raw_os_error(libc::ENODEV))?;
        let kernel = self.kernel();
        let member = kernel.devices.get(&bdf).filter(|d| d.iommu_group == number);
        let vfio_bound = member
            .and_then(|d| d.driver.as_ref())
            .is_some_and(|d| kernel.drivers.get(d).is_some_and(|d| d.vfio));
        if !vfio_bound {
            return err(libc::ENODEV);
        }
        self.new_device_handle(bdf, None)
    }

    fn device_info(&self, device: BorrowedFd<'_>) -> io::Result<DeviceInfo> {
        self.device_of(device)?;
        Ok(DeviceInfo {
            flags: b::VFIO_DEVICE_FLAGS_PCI | b::VFIO_DEVICE_FLAGS_RESET,
            num_regions: b::VFIO_PCI_NUM_REGIONS,
            num_irqs: b::VFIO_PCI_NUM_IRQS,
        })
    }

    fn region_info(&self, device: BorrowedFd<'_>, index: u32) -> io::Result<Vec<u8>> {
        self.device_of(device)?;
        let rw = b::VFIO_REGION_INFO_FLAG_READ | b::VFIO_REGION_INFO_FLAG_WRITE;
        Ok(match index {
            b::VFIO_PCI_BAR0_REGION_INDEX => {
                region_bytes(index, rw | b::VFIO_REGION_INFO_FLAG_MMAP, BAR0_SIZE)
            }
            b::VFIO_PCI_CONFIG_REGION_INDEX => region_bytes(index, rw, CONFIG_SIZE),
            // A VF has no VGA region: vfio-pci answers EINVAL (seen on the real kernel).
            b::VFIO_PCI_VGA_REGION_INDEX => return err(libc::EINVAL),
            i if i < b::VFIO_PCI_NUM_REGIONS => region_bytes(index, 0, 0),
            _ => return err(libc::EINVAL),
        })
    }

    fn irq_info(&self, device: BorrowedFd<'_>, index: u32) -> io::Result<IrqInfo> {
        self.device_of(device)?;
        let (flags, count) = match index {
            b::VFIO_PCI_MSIX_IRQ_INDEX => (b::VFIO_IRQ_INFO_EVENTFD | b::VFIO_IRQ_INFO_NORESIZE, 3),
            b::VFIO_PCI_ERR_IRQ_INDEX | b::VFIO_PCI_REQ_IRQ_INDEX => (b::VFIO_IRQ_INFO_EVENTFD, 1),
            i if i < b::VFIO_PCI_NUM_IRQS => (b::VFIO_IRQ_INFO_EVENTFD, 0),
            _ => return err(libc::EINVAL),
        };
        Ok(IrqInfo {
            index,
            flags,
            count,
        })
    }

    fn set_irq_eventfd(
        &self,
        device: BorrowedFd<'_>,
        index: u32,
        _eventfd: Option<BorrowedFd<'_>>,
    ) -> io::Result<()> {
        self.device_of(device)?;
        if index == b::VFIO_PCI_REQ_IRQ_INDEX || index == b::VFIO_PCI_ERR_IRQ_INDEX {
            Ok(())
        } else {
            err(libc::EINVAL)
        }
    }

    fn reset(&self, device: BorrowedFd<'_>) -> io::Result<()> {
        let bdf = self.device_of(device)?;
        self.resets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(bdf);
        Ok(())
    }

    fn read_at(&self, device: BorrowedFd<'_>, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let bdf = self.device_of(device)?;
        let dev = self.kernel().devices[&bdf].clone();
        let config_start = u64::from(b::VFIO_PCI_CONFIG_REGION_INDEX) << REGION_SHIFT;
        let mut config = [0u8; 4];
        config[..2].copy_from_slice(&dev.vendor.to_le_bytes());
        config[2..].copy_from_slice(&dev.device.to_le_bytes());
        for (i, byte) in buf.iter_mut().enumerate() {
            let at = offset + i as u64;
            *byte = match at.checked_sub(config_start) {
                Some(o) if o < 4 => config[o as usize],
                _ => 0,
            };
        }
        Ok(buf.len())
    }

    fn write_at(&self, device: BorrowedFd<'_>, _offset: u64, buf: &[u8]) -> io::Result<usize> {
        self.device_of(device)?;
        Ok(buf.len())
    }

    fn bind_iommufd(&self, device: BorrowedFd<'_>, iommufd: BorrowedFd<'_>) -> io::Result<()> {
        if !matches!(self.handle(iommufd)?, Handle::Iommufd { .. }) {
            return err(libc::EINVAL);
        }
        let removed = !matches!(self.handle(device)?, Handle::Device { bdf, .. } if self.kernel().devices.contains_key(&bdf));
        if removed {
            return err(libc::ENODEV);
        }
        self.update(device, |h| match h {
            Handle::Device {
                cdev: Some(state @ CdevState::Opened),
                ..
            } => {
                *state = CdevState::Bound {
                    iommufd: iommufd.as_raw_fd(),
                    ioas: None,
                };
                Ok(())
            }
            _ => err(libc::EINVAL),
        })
    }

    fn ioas_alloc(&self, iommufd: BorrowedFd<'_>) -> io::Result<u32> {
        let mut id = 0;
        self.update(iommufd, |h| match h {
            Handle::Iommufd { ioases } => {
                // Object ids start at 1 and are never reused while the iommufd lives.
                id = ioases.keys().next_back().map_or(1, |last| last + 1);
                ioases.insert(id, BTreeMap::new());
                Ok(())
            }
            _ => err(libc::EINVAL),
        })?;
        Ok(id)
    }

    fn attach_ioas(&self, device: BorrowedFd<'_>, ioas: u32) -> io::Result<()> {
        let Handle::Device {
            cdev: Some(CdevState::Bound { iommufd, .. }),
            ..
        } = self.handle(device)?
        else {
            return err(libc::EINVAL);
        };
        let known = matches!(
            self.vfio_handles().get(&iommufd),
            Some((_, Handle::Iommufd { ioases })) if ioases.contains_key(&ioas)
        );
        if !known {
            return err(libc::ENOENT);
        }
        self.update(device, |h| {
            if let Handle::Device {
                cdev: Some(CdevState::Bound { ioas: attached, .. }),
                ..
            } = h
            {
                *attached = Some(ioas);
            }
            Ok(())
        })
    }

    fn ioas_map(
        &self,
        iommufd: BorrowedFd<'_>,
        ioas: u32,
        vaddr: u64,
        iova: u64,
        size: u64,
    ) -> io::Result<()> {
        self.with_ioas(iommufd, ioas, |mappings| {
            map_into(mappings, vaddr, iova, size)
        })
    }

    fn ioas_unmap(
        &self,
        iommufd: BorrowedFd<'_>,
        ioas: u32,
        iova: u64,
        size: u64,
    ) -> io::Result<u64> {
        self.with_ioas(iommufd, ioas, |mappings| {
            // The kernel answers ENOENT when nothing was mapped there.
            match unmap_from(mappings, iova, size) {
                0 => err(libc::ENOENT),
                unmapped => Ok(unmapped),
            }
        })
    }
}
