//! The `--domain` file of `qatctl xml`: read with a size bound, and replaced in place the way a
//! careful editor replaces it.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use qat_vf::domain::MAX_DOMAIN_XML_BYTES;

use crate::Failure;

/// Reads a domain document, refusing one larger than libvirt would read before reading it all.
pub(crate) fn read(path: &Path) -> Result<String, Failure> {
    let unreadable =
        |e: std::io::Error| Failure::Usage(format!("cannot read {}: {e}", path.display()));
    let file = File::open(path).map_err(unreadable)?;
    let mut text = String::new();
    file.take(MAX_DOMAIN_XML_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(unreadable)?;
    if text.len() > MAX_DOMAIN_XML_BYTES {
        return Err(Failure::Usage(format!(
            "{} is larger than {} MiB, the most virsh reads for a domain",
            path.display(),
            MAX_DOMAIN_XML_BYTES >> 20
        )));
    }
    Ok(text)
}

/// A domain file that `--in-place` may replace: the regular file a path leads to, through any
/// symbolic links, checked before any work is done.
pub(crate) struct InPlace {
    /// The file itself (the link's target, when the path is a link).
    target: PathBuf,
    meta: std::fs::Metadata,
}

impl InPlace {
    /// Follows `path` to its file and checks that it may be replaced: a regular file (not a
    /// device, FIFO or directory), writable unless `force`.
    pub(crate) fn check(path: &Path, force: bool) -> Result<Self, Failure> {
        let target = std::fs::canonicalize(path)
            .map_err(|e| Failure::Usage(format!("cannot resolve {}: {e}", path.display())))?;
        let meta = std::fs::metadata(&target)
            .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", target.display())))?;
        if !meta.is_file() {
            return Err(Failure::Usage(format!(
                "{} is not a regular file; --in-place replaces regular files only",
                target.display()
            )));
        }
        // No write bit for anyone, or none for this user: a file someone meant to keep as it
        // is (root passes access(2) for every file, hence the mode check too).
        let writable = meta.mode() & 0o222 != 0
            && nix::unistd::access(&target, nix::unistd::AccessFlags::W_OK).is_ok();
        if !writable && !force {
            return Err(Failure::Usage(format!(
                "{} is read-only; pass --force to replace it anyway",
                target.display()
            )));
        }
        Ok(InPlace { target, meta })
    }

    /// Replaces the file so that a reader never sees half of it: a new file of a random name in
    /// the same directory (created exclusively, so no link is followed), with the original's mode
    /// and, where the caller may give it, its owner and group; synced, renamed over the
    /// original, and the directory synced. Returns a warning when ownership could not be kept.
    pub(crate) fn replace(&self, text: &str) -> Result<Option<String>, Failure> {
        let path = &self.target;
        let failed =
            |e: std::io::Error| Failure::Failed(format!("cannot write {}: {e}", path.display()));
        let dir = path.parent().unwrap_or(Path::new("/"));
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
        tmp.write_all(text.as_bytes()).map_err(failed)?;
        let file = tmp.as_file();
        let (uid, gid) = (self.meta.uid(), self.meta.gid());
        // As sed -i does: owner and group, else the group alone (any member of it may), else
        // leave the new file the caller's and say so.
        if std::os::unix::fs::fchown(file, Some(uid), Some(gid)).is_err() {
            let _ = std::os::unix::fs::fchown(file, None, Some(gid));
        }
        // After chown, which clears set-id bits.
        file.set_permissions(self.meta.permissions())
            .map_err(failed)?;
        let now = file.metadata().map_err(failed)?;
        let warning = (now.uid() != uid || now.gid() != gid).then(|| {
            format!(
                "{} now belongs to uid {} gid {} (was uid {uid} gid {gid}): this user may not give files to that owner",
                path.display(),
                now.uid(),
                now.gid()
            )
        });
        file.sync_all().map_err(failed)?;
        tmp.persist(path).map_err(|e| failed(e.error))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(failed)?;
        Ok(warning)
    }
}
