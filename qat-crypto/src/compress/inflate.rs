//! What the inflaters (libdeflate's, and ISA-L's with feature `isal`) share: how one call
//! ended. Its own module so that each library depends on it, not on the other.

/// How one call of an inflater ended.
pub(super) enum Step {
    /// Used this many input bytes (the rest follows the end of the stream or member).
    Done {
        consumed: usize,
    },
    /// The output space ran out.
    NoSpace,
    Corrupt,
}
