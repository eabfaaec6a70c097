//! The answers VFIO gives as bytes (region info and IOMMU info with capability chains), as a
//! broken or hostile kernel could give them. Invariants: no panic, no read outside the buffer,
//! and what is reported lies in the buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qat_vf::vfio::fuzzing::{parse_iommu_info, parse_region_info};

fuzz_target!(|data: &[u8]| {
    if let Some(region) = parse_region_info(data) {
        assert!(data.len() >= 32);
        assert!(region.sparse_mmap.is_none_or(|areas| areas.len() <= 256));
    }
    if let Some(iommu) = parse_iommu_info(data) {
        assert!(data.len() >= 16);
        assert!(iommu.iova_ranges.len() <= 64 * 256);
        let page = iommu.min_page_size();
        assert!(page.is_power_of_two());
        let _ = iommu.iova_usable(u64::from(data.len() as u32), page);
    }
});
