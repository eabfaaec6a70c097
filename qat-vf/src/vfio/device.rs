//! A VFIO device: info, regions, irqs, config space, BAR mappings, reset, and the REQ notifier.

use std::os::fd::{AsFd, OwnedFd};

use nix::sys::eventfd::{EfdFlags, EventFd};
use vfio_bindings::bindings::vfio as b;

use super::caps::{RegionInfo, parse_region_info};
use super::mmio::Mmio;
use crate::error::{Result, VfioError};
use crate::host::{DeviceInfo, HostEnv, IrqInfo};
use crate::pci::Bdf;

/// An open device.
#[derive(Debug)]
pub struct Device {
    fd: OwnedFd,
    bdf: Bdf,
    env: HostEnv,
    info: DeviceInfo,
}

impl Device {
    pub(super) fn new(fd: OwnedFd, bdf: Bdf, env: HostEnv) -> Result<Self> {
        let info = env
            .vfio()
            .device_info(fd.as_fd())
            .map_err(|source| VfioError::Request {
                request: "VFIO_DEVICE_GET_INFO",
                target: bdf.to_string(),
                source,
            })?;
        Ok(Device { fd, bdf, env, info })
    }

    fn error(&self, request: &'static str, source: std::io::Error) -> VfioError {
        VfioError::Request {
            request,
            target: self.bdf.to_string(),
            source,
        }
    }

    /// The device's address.
    pub fn bdf(&self) -> Bdf {
        self.bdf
    }

    /// Flags, number of regions and irqs.
    pub fn info(&self) -> DeviceInfo {
        self.info
    }

    /// Whether `VFIO_DEVICE_RESET` is supported.
    pub fn resettable(&self) -> bool {
        self.info.flags & b::VFIO_DEVICE_FLAGS_RESET != 0
    }

    /// Region `index`, with its sparse-mmap areas.
    pub fn region(&self, index: u32) -> Result<RegionInfo> {
        let buf = self
            .env
            .vfio()
            .region_info(self.fd.as_fd(), index)
            .map_err(|e| self.error("VFIO_DEVICE_GET_REGION_INFO", e))?;
        parse_region_info(&buf).ok_or_else(|| {
            VfioError::Malformed {
                request: "VFIO_DEVICE_GET_REGION_INFO",
                target: self.bdf.to_string(),
            }
            .into()
        })
    }

    /// Every region the device has. Indexes the device lacks (vfio-pci answers EINVAL for the
    /// VGA region of a non-VGA device) are left out.
    pub fn regions(&self) -> Result<Vec<RegionInfo>> {
        let mut regions = Vec::new();
        for index in 0..self.info.num_regions {
            match self.region(index) {
                Ok(region) => regions.push(region),
                Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(regions)
    }

    /// Irq index `index`.
    pub fn irq(&self, index: u32) -> Result<IrqInfo> {
        self.env
            .vfio()
            .irq_info(self.fd.as_fd(), index)
            .map_err(|e| self.error("VFIO_DEVICE_GET_IRQ_INFO", e).into())
    }

    /// Every irq index the device reports.
    pub fn irqs(&self) -> Result<Vec<IrqInfo>> {
        (0..self.info.num_irqs).map(|i| self.irq(i)).collect()
    }

    /// Reads PCI config space at `offset`.
    pub fn read_config(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let region = self.region(b::VFIO_PCI_CONFIG_REGION_INDEX)?;
        self.check_range(&region, offset, buf.len())?;
        let n = self
            .env
            .vfio()
            .read_at(self.fd.as_fd(), region.offset + offset, buf)
            .map_err(|e| self.error("pread", e))?;
        self.full(n, buf.len(), "read", offset)
    }

    /// Writes PCI config space at `offset` (vfio-pci virtualises parts of it).
    pub fn write_config(&self, offset: u64, data: &[u8]) -> Result<()> {
        let region = self.region(b::VFIO_PCI_CONFIG_REGION_INDEX)?;
        self.check_range(&region, offset, data.len())?;
        let n = self
            .env
            .vfio()
            .write_at(self.fd.as_fd(), region.offset + offset, data)
            .map_err(|e| self.error("pwrite", e))?;
        self.full(n, data.len(), "write", offset)
    }

    fn check_range(&self, region: &RegionInfo, offset: u64, len: usize) -> Result<()> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= region.size => Ok(()),
            _ => Err(VfioError::OutOfBounds {
                offset: offset as usize,
                width: len,
                len: region.size as usize,
            }
            .into()),
        }
    }

    fn full(&self, done: usize, wanted: usize, op: &'static str, offset: u64) -> Result<()> {
        if done == wanted {
            Ok(())
        } else {
            Err(VfioError::ShortTransfer {
                bdf: self.bdf,
                op,
                offset,
                done,
                wanted,
            }
            .into())
        }
    }

    /// Maps a BAR (region `index`) into this process: the whole region, or, when it has a
    /// sparse-mmap capability, its largest mappable area. Returns the mapping and the offset of
    /// the mapped part within the region.
    pub fn map_region(&self, index: u32) -> Result<(Mmio<'_>, u64)> {
        let region = self.region(index)?;
        let not_mappable = VfioError::RegionNotMappable {
            bdf: self.bdf,
            index,
        };
        if !region.mappable() || region.size == 0 {
            return Err(not_mappable.into());
        }
        let (start, len) = match &region.sparse_mmap {
            Some(areas) => *areas
                .iter()
                .max_by_key(|(_, size)| *size)
                .ok_or(not_mappable)?,
            None => (0, region.size),
        };
        let mmio =
            Mmio::map(self.fd.as_fd(), region.offset + start, len as usize).map_err(|source| {
                VfioError::MapRegion {
                    bdf: self.bdf,
                    index,
                    source,
                }
            })?;
        Ok((mmio, start))
    }

    /// `VFIO_DEVICE_RESET`.
    pub fn reset(&self) -> Result<()> {
        let _span = tracing::info_span!("vfio_reset", bdf = %self.bdf).entered();
        self.env
            .vfio()
            .reset(self.fd.as_fd())
            .map_err(|e| self.error("VFIO_DEVICE_RESET", e).into())
    }

    /// Connects the PCI REQ irq to an eventfd: it fires when the kernel wants the device back
    /// (someone disables the VFs or unbinds it), so a holder can let go instead of blocking it.
    pub fn request_notifier(&self) -> Result<RequestNotifier<'_>> {
        let eventfd = EventFd::from_flags(EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC)
            .map_err(|e| VfioError::EventFd(e.into()))?;
        self.env
            .vfio()
            .set_irq_eventfd(
                self.fd.as_fd(),
                b::VFIO_PCI_REQ_IRQ_INDEX,
                Some(eventfd.as_fd()),
            )
            .map_err(|e| self.error("VFIO_DEVICE_SET_IRQS", e))?;
        Ok(RequestNotifier {
            device: self,
            eventfd,
        })
    }
}

/// The REQ irq's eventfd; disconnected when dropped.
#[derive(Debug)]
pub struct RequestNotifier<'a> {
    device: &'a Device,
    eventfd: EventFd,
}

impl RequestNotifier<'_> {
    /// Whether the kernel has asked for the device since the last call (does not block).
    pub fn requested(&self) -> bool {
        self.eventfd.read().is_ok_and(|n| n > 0)
    }

    /// The eventfd, for a poll loop.
    pub fn eventfd(&self) -> &EventFd {
        &self.eventfd
    }
}

impl Drop for RequestNotifier<'_> {
    fn drop(&mut self) {
        let d = self.device;
        let _ = d
            .env
            .vfio()
            .set_irq_eventfd(d.fd.as_fd(), b::VFIO_PCI_REQ_IRQ_INDEX, None);
    }
}

impl AsFd for Device {
    /// The descriptor, for what qat-vf does not wrap (e.g. handing it to KVM).
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
