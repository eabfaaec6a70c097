//! Parsers for the answers VFIO returns as bytes: region info and IOMMU info with their
//! capability chains. Pure functions over `&[u8]`, tested on literal buffers.

use std::ops::RangeInclusive;

use vfio_bindings::bindings::vfio as b;

/// A region of a device (a BAR, the ROM, config space).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegionInfo {
    /// Region index (BAR0 = 0 ... config = 7).
    pub index: u32,
    /// `VFIO_REGION_INFO_FLAG_*`.
    pub flags: u32,
    /// Size in bytes.
    pub size: u64,
    /// Offset of the region in the device fd (for pread/pwrite/mmap).
    pub offset: u64,
    /// Mappable parts when the region carries a sparse-mmap capability: (offset, size).
    pub sparse_mmap: Option<Vec<(u64, u64)>>,
}

impl RegionInfo {
    /// Readable.
    pub fn readable(&self) -> bool {
        self.flags & b::VFIO_REGION_INFO_FLAG_READ != 0
    }
    /// Writable.
    pub fn writable(&self) -> bool {
        self.flags & b::VFIO_REGION_INFO_FLAG_WRITE != 0
    }
    /// Can be mmap'ed (where `sparse_mmap` says, when present).
    pub fn mappable(&self) -> bool {
        self.flags & b::VFIO_REGION_INFO_FLAG_MMAP != 0
    }
}

/// The container's IOMMU: page sizes and usable IOVA ranges.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IommuInfo {
    /// Bitmap of supported page sizes (`0x40201000`: 4 KiB, 2 MiB, 1 GiB).
    pub iova_pgsizes: u64,
    /// Usable IOVA ranges (inclusive); empty when the kernel reports none.
    pub iova_ranges: Vec<RangeInclusive<u64>>,
}

impl IommuInfo {
    /// The smallest IOMMU page size (4096 when unknown).
    pub fn min_page_size(&self) -> u64 {
        if self.iova_pgsizes == 0 {
            4096
        } else {
            1 << self.iova_pgsizes.trailing_zeros()
        }
    }

    /// Whether `[iova, iova + size)` lies inside one usable range (always, when none are known).
    pub fn iova_usable(&self, iova: u64, size: u64) -> bool {
        let Some(last) = size.checked_sub(1).and_then(|s| iova.checked_add(s)) else {
            return false;
        };
        self.iova_ranges.is_empty()
            || self
                .iova_ranges
                .iter()
                .any(|r| r.contains(&iova) && r.contains(&last))
    }
}

fn u32_at(buf: &[u8], offset: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(
        buf.get(offset..offset + 4)?.try_into().ok()?,
    ))
}

fn u64_at(buf: &[u8], offset: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(
        buf.get(offset..offset + 8)?.try_into().ok()?,
    ))
}

fn u16_at(buf: &[u8], offset: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(
        buf.get(offset..offset + 2)?.try_into().ok()?,
    ))
}

/// Walks a capability chain from `first` (0: none): yields (id, offset of the header). Stops on
/// a loop or an offset outside the buffer instead of trusting it.
fn capabilities(buf: &[u8], first: u32) -> Vec<(u16, usize)> {
    let mut found = Vec::new();
    let mut next = first as usize;
    while next != 0 && found.len() < 64 {
        let (Some(id), Some(following)) = (u16_at(buf, next), u32_at(buf, next + 4)) else {
            break;
        };
        found.push((id, next));
        if following as usize <= next {
            break;
        }
        next = following as usize;
    }
    found
}

/// Parses `struct vfio_region_info` and its sparse-mmap capability. `None` when too short.
#[allow(unreachable_pub)] // public to the fuzz targets (cfg fuzzing)
pub fn parse_region_info(buf: &[u8]) -> Option<RegionInfo> {
    let flags = u32_at(buf, 4)?;
    let cap_offset = if flags & b::VFIO_REGION_INFO_FLAG_CAPS != 0 {
        u32_at(buf, 12)?
    } else {
        0
    };
    let mut sparse_mmap = None;
    for (id, at) in capabilities(buf, cap_offset) {
        if u32::from(id) == b::VFIO_REGION_INFO_CAP_SPARSE_MMAP {
            let areas = u32_at(buf, at + 8)? as usize;
            let list = (0..areas.min(256))
                .map(|i| {
                    Some((
                        u64_at(buf, at + 16 + i * 16)?,
                        u64_at(buf, at + 24 + i * 16)?,
                    ))
                })
                .collect::<Option<Vec<_>>>()?;
            sparse_mmap = Some(list);
        }
    }
    Some(RegionInfo {
        index: u32_at(buf, 8)?,
        flags,
        size: u64_at(buf, 16)?,
        offset: u64_at(buf, 24)?,
        sparse_mmap,
    })
}

/// Parses `struct vfio_iommu_type1_info` and its IOVA-range capability. `None` when too short.
#[allow(unreachable_pub)] // public to the fuzz targets (cfg fuzzing)
pub fn parse_iommu_info(buf: &[u8]) -> Option<IommuInfo> {
    let flags = u32_at(buf, 4)?;
    let cap_offset = if flags & b::VFIO_IOMMU_INFO_CAPS != 0 {
        u32_at(buf, 16)?
    } else {
        0
    };
    let mut iova_ranges = Vec::new();
    for (id, at) in capabilities(buf, cap_offset) {
        if u32::from(id) == b::VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE {
            let count = u32_at(buf, at + 8)? as usize;
            for i in 0..count.min(256) {
                let start = u64_at(buf, at + 16 + i * 16)?;
                let end = u64_at(buf, at + 24 + i * 16)?;
                iova_ranges.push(start..=end);
            }
        }
    }
    Some(IommuInfo {
        iova_pgsizes: u64_at(buf, 8)?,
        iova_ranges,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put32(buf: &mut Vec<u8>, v: u32) {
        buf.extend_from_slice(&v.to_ne_bytes());
    }
    fn put64(buf: &mut Vec<u8>, v: u64) {
        buf.extend_from_slice(&v.to_ne_bytes());
    }

    #[test]
    fn region_with_sparse_mmap() {
        // An MSI-X BAR: readable, writable, mmap-able around the table, caps at 32.
        let mut buf = Vec::new();
        put32(&mut buf, 64); // argsz
        put32(&mut buf, 0xf); // read|write|mmap|caps
        put32(&mut buf, 3); // index
        put32(&mut buf, 32); // cap_offset
        put64(&mut buf, 0x4000); // size
        put64(&mut buf, 3 << 40); // offset
        buf.extend_from_slice(&1u16.to_ne_bytes()); // id: sparse mmap
        buf.extend_from_slice(&1u16.to_ne_bytes()); // version
        put32(&mut buf, 0); // next
        put32(&mut buf, 2); // nr_areas
        put32(&mut buf, 0);
        put64(&mut buf, 0);
        put64(&mut buf, 0x1000);
        put64(&mut buf, 0x3000);
        put64(&mut buf, 0x1000);
        let info = parse_region_info(&buf).unwrap();
        assert_eq!(info.index, 3);
        assert_eq!(info.size, 0x4000);
        assert_eq!(info.offset, 3 << 40);
        assert!(info.readable() && info.writable() && info.mappable());
        assert_eq!(info.sparse_mmap, Some(vec![(0, 0x1000), (0x3000, 0x1000)]));
        // Truncated: no panic, no answer.
        assert_eq!(parse_region_info(&buf[..20]), None);
        assert!(parse_region_info(&buf[..60]).is_none());
    }

    #[test]
    fn chains_that_loop_or_point_outside_are_not_followed() {
        let mut buf = vec![0u8; 32];
        buf[4..8].copy_from_slice(&0x8u32.to_ne_bytes()); // caps
        buf[12..16].copy_from_slice(&24u32.to_ne_bytes()); // cap at 24
        buf[24..26].copy_from_slice(&9u16.to_ne_bytes()); // unknown id
        buf[28..32].copy_from_slice(&24u32.to_ne_bytes()); // points at itself
        let info = parse_region_info(&buf).unwrap();
        assert_eq!(info.sparse_mmap, None);
        buf[12..16].copy_from_slice(&4096u32.to_ne_bytes());
        assert!(parse_region_info(&buf).is_some());
    }

    #[test]
    fn iommu_info_with_iova_ranges() {
        let mut buf = Vec::new();
        put32(&mut buf, 24 + 16 + 32);
        put32(&mut buf, 0x3); // pgsizes | caps
        put64(&mut buf, 0x4020_1000);
        put32(&mut buf, 24); // cap_offset
        put32(&mut buf, 0);
        buf.extend_from_slice(&1u16.to_ne_bytes()); // IOVA range
        buf.extend_from_slice(&1u16.to_ne_bytes());
        put32(&mut buf, 0);
        put32(&mut buf, 2);
        put32(&mut buf, 0);
        put64(&mut buf, 0);
        put64(&mut buf, 0xfedf_ffff);
        put64(&mut buf, 0xfef0_0000);
        put64(&mut buf, 0x0000_ffff_ffff_ffff);
        let info = parse_iommu_info(&buf).unwrap();
        assert_eq!(info.min_page_size(), 4096);
        assert_eq!(
            info.iova_ranges,
            vec![0..=0xfedf_ffff, 0xfef0_0000..=0xffff_ffff_ffff]
        );
        assert!(info.iova_usable(0x10_0000, 0x1000));
        assert!(!info.iova_usable(0xfee0_0000, 0x1000), "MSI window");
        assert!(
            !info.iova_usable(0xfedf_f000, 0x2000),
            "straddles the window"
        );
        assert!(!info.iova_usable(u64::MAX, 2));
    }
}
