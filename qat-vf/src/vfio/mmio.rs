//! A BAR mapped into this process, read and written only through bounds-checked volatile
//! accesses of 8, 16, 32 or 64 bits.

use std::os::fd::BorrowedFd;

use memmap2::{MmapOptions, MmapRaw};

use crate::error::{Error, Result};

/// A mapped device region.
#[derive(Debug)]
pub struct Mmio {
    map: MmapRaw,
}

/// Widths a register access can have.
pub trait Register: Copy {
    /// Bytes.
    const WIDTH: usize;
}
impl Register for u8 {
    const WIDTH: usize = 1;
}
impl Register for u16 {
    const WIDTH: usize = 2;
}
impl Register for u32 {
    const WIDTH: usize = 4;
}
impl Register for u64 {
    const WIDTH: usize = 8;
}

impl Mmio {
    /// Maps `len` bytes of `fd` from `offset` (a region's offset plus a sparse area's).
    pub(super) fn map(fd: BorrowedFd<'_>, offset: u64, len: usize) -> std::io::Result<Self> {
        let map = MmapOptions::new().offset(offset).len(len).map_raw(&fd)?;
        Ok(Mmio { map })
    }

    /// Length of the mapping.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the mapping is empty.
    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    fn check<T: Register>(&self, offset: usize) -> Result<()> {
        let fits = offset
            .checked_add(T::WIDTH)
            .is_some_and(|end| end <= self.len());
        if fits && offset % T::WIDTH == 0 {
            Ok(())
        } else {
            Err(Error::MmioOutOfBounds {
                offset,
                width: T::WIDTH,
                len: self.len(),
            })
        }
    }

    /// Reads a register.
    pub fn read<T: Register>(&self, offset: usize) -> Result<T> {
        self.check::<T>(offset)?;
        // SAFETY: offset..offset+WIDTH is inside the live mapping and aligned to WIDTH (checked
        // above); device memory must be read with one volatile access of the register's width.
        Ok(unsafe { self.map.as_ptr().add(offset).cast::<T>().read_volatile() })
    }

    /// Writes a register.
    pub fn write<T: Register>(&self, offset: usize, value: T) -> Result<()> {
        self.check::<T>(offset)?;
        // SAFETY: as in `read`; the mapping is writable (mapped shared read-write).
        unsafe {
            self.map
                .as_mut_ptr()
                .add(offset)
                .cast::<T>()
                .write_volatile(value)
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn accesses_are_bounds_and_alignment_checked() {
        let file = tempfile::tempfile().unwrap();
        file.set_len(4096).unwrap();
        let mmio = Mmio::map(file.as_fd(), 0, 4096).unwrap();
        mmio.write::<u32>(8, 0xdead_beef).unwrap();
        assert_eq!(mmio.read::<u32>(8).unwrap(), 0xdead_beef);
        assert_eq!(mmio.read::<u16>(8).unwrap(), 0xbeef);
        assert_eq!(mmio.read::<u8>(11).unwrap(), 0xde);
        mmio.write::<u64>(4088, u64::MAX).unwrap();
        assert!(matches!(
            mmio.read::<u64>(4092),
            Err(Error::MmioOutOfBounds { .. })
        ));
        assert!(mmio.read::<u32>(4096).is_err());
        assert!(mmio.read::<u32>(usize::MAX - 1).is_err());
        assert!(mmio.read::<u32>(2).is_err(), "unaligned");
        assert!(mmio.write::<u16>(4095, 1).is_err());
    }
}
