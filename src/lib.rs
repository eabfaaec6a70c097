pub use qat_vf;
