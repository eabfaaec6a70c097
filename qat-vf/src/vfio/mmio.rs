//! A BAR mapped into this process, read and written only through bounds-checked volatile
//! accesses of 8, 16, 32 or 64 bits.

use std::marker::PhantomData;
use std::os::fd::BorrowedFd;

use memmap2::{MmapOptions, MmapRaw};

use crate::error::{Result, VfioError};

/// A mapped device region. It borrows the device: a mapping keeps the device open in the kernel
/// (disabling the VF would block on it), so it must not outlive the `Device`.
#[derive(Debug)]
pub struct Mmio<'d> {
    map: MmapRaw,
    _device: PhantomData<&'d ()>,
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for u16 {}
    impl Sealed for u32 {}
    impl Sealed for u64 {}
}

/// The register widths: u8, u16, u32 and u64 (sealed: the accesses rely on plain integers).
pub trait Register: Copy + sealed::Sealed {}
impl Register for u8 {}
impl Register for u16 {}
impl Register for u32 {}
impl Register for u64 {}

impl<'d> Mmio<'d> {
    /// Maps `len` bytes of `fd` from `offset` (a region's offset plus a sparse area's). The
    /// mapping is not inherited by forked children, which would otherwise hold the device.
    pub(super) fn map(fd: BorrowedFd<'d>, offset: u64, len: usize) -> std::io::Result<Self> {
        let map = MmapOptions::new().offset(offset).len(len).map_raw(&fd)?;
        map.advise(memmap2::Advice::DontFork)?;
        Ok(Mmio {
            map,
            _device: PhantomData,
        })
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
        let width = std::mem::size_of::<T>();
        let fits = offset
            .checked_add(width)
            .is_some_and(|end| end <= self.len());
        // The mapping starts page-aligned, so an aligned offset is an aligned address.
        if fits && offset % std::mem::align_of::<T>() == 0 {
            Ok(())
        } else {
            Err(VfioError::OutOfBounds {
                offset,
                width,
                len: self.len(),
            }
            .into())
        }
    }

    /// Reads a register.
    pub fn read<T: Register>(&self, offset: usize) -> Result<T> {
        self.check::<T>(offset)?;
        // SAFETY: offset..offset+size_of::<T>() lies inside the live mapping and is aligned for
        // T (checked above); T is a plain integer (the trait is sealed), valid for any bits.
        // Device memory is read with one volatile access of the register's width.
        Ok(unsafe { self.map.as_ptr().add(offset).cast::<T>().read_volatile() })
    }

    /// Writes a register.
    pub fn write<T: Register>(&self, offset: usize, value: T) -> Result<()> {
        self.check::<T>(offset)?;
        // SAFETY: as in `read`; the mapping is shared and read-write.
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
            Err(crate::Error::Vfio(VfioError::OutOfBounds { .. }))
        ));
        assert!(mmio.read::<u32>(4096).is_err());
        assert!(mmio.read::<u32>(usize::MAX - 1).is_err());
        assert!(mmio.read::<u32>(2).is_err(), "unaligned");
        assert!(mmio.write::<u16>(4095, 1).is_err());
    }
}
