//! The `--domain` file of `qatctl xml`: read with a size bound, and replaced in place the way a
//! careful editor replaces it.

use std::fs::{File, Metadata};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use qat_vf::domain::MAX_DOMAIN_XML_BYTES;

use crate::failure::Failure;

/// A domain document as read, and, for `--in-place`, the file to replace.
pub(crate) struct DomainFile {
    /// The document.
    pub(crate) text: String,
    in_place: Option<InPlace>,
}

/// The regular file a path leads to (through symbolic links), as it was when it was read.
struct InPlace {
    target: PathBuf,
    meta: Metadata,
}

impl DomainFile {
    /// Reads the document at `path` (a file, or a pipe such as `/dev/stdin`), refusing one
    /// larger than libvirt would read after reading at most one byte more. With `in_place`, the
    /// file must be one that may be replaced: a regular file, writable unless `force`, in a
    /// directory where a new file can be made; all of it is checked on the file that is read.
    pub(crate) fn read(path: &Path, in_place: bool, force: bool) -> Result<Self, Failure> {
        let shown = path.display();
        let unreadable = |e: std::io::Error| Failure::Usage(format!("cannot read {shown}: {e}"));
        // Not blocking on a FIFO that --in-place is about to refuse anyway.
        let flags = if in_place { nix::libc::O_NONBLOCK } else { 0 };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(path)
            .map_err(unreadable)?;
        let in_place = match in_place {
            true => Some(InPlace::check(path, &file, force)?),
            false => None,
        };
        let mut bytes = Vec::new();
        file.take(MAX_DOMAIN_XML_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        if bytes.len() > MAX_DOMAIN_XML_BYTES {
            return Err(Failure::Usage(format!(
                "{shown} is larger than {} MiB, the most virsh reads for a domain",
                MAX_DOMAIN_XML_BYTES >> 20
            )));
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| Failure::Usage(format!("{shown} is not UTF-8 text")))?;
        Ok(DomainFile { text, in_place })
    }

    /// Replaces the file read with `--in-place` by `text`, unless they are the same (a re-run
    /// leaves the file, its inode and its links alone). Returns a warning when the owner or
    /// group could not be kept.
    pub(crate) fn replace(&self, text: &str) -> Result<Option<String>, Failure> {
        match &self.in_place {
            Some(file) if text != self.text => file.replace(text),
            _ => Ok(None),
        }
    }
}

/// What identifies a file's content: a replaced file has another inode, an edited one another
/// size or modification time.
fn identity(meta: &Metadata) -> (u64, u64, u64, i64, i64) {
    (
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
    )
}

impl InPlace {
    fn check(path: &Path, file: &File, force: bool) -> Result<Self, Failure> {
        let usage = |what: String| Failure::Usage(format!("{}: {what}", path.display()));
        let meta = file.metadata().map_err(|e| usage(e.to_string()))?;
        if !meta.is_file() {
            return Err(usage(
                "not a regular file; --in-place replaces regular files only".into(),
            ));
        }
        // The path of the file that was opened, checked to still be that file.
        let target = std::fs::canonicalize(path).map_err(|e| usage(e.to_string()))?;
        let same = |now: Metadata| (now.dev(), now.ino()) == (meta.dev(), meta.ino());
        if !std::fs::metadata(&target).is_ok_and(same) {
            return Err(usage("it was replaced while being opened".into()));
        }
        let writable = |p: &Path| nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok();
        // No write bit for anyone, or none for this user: a file someone meant to keep as it
        // is (root passes access(2) for every file, hence the mode check too).
        if !force && (meta.mode() & 0o222 == 0 || !writable(&target)) {
            return Err(usage("read-only; pass --force to replace it anyway".into()));
        }
        let dir = target.parent().unwrap_or(Path::new("/"));
        if !writable(dir) {
            return Err(usage(format!(
                "cannot make a file in {}, which --in-place writes before renaming it over",
                dir.display()
            )));
        }
        Ok(InPlace { target, meta })
    }

    /// A new file of a random name beside the original (created exclusively, so no link is
    /// followed), with the original's mode and, where the caller may give them, its owner and
    /// group; synced, then renamed over the original, so a reader never sees half of it. If
    /// the original changed since it was read, nothing is written.
    fn replace(&self, text: &str) -> Result<Option<String>, Failure> {
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
        let current = std::fs::metadata(path).map_err(failed)?;
        if identity(&current) != identity(&self.meta) {
            return Err(Failure::Failed(format!(
                "{} changed while qatctl worked on it; it was not written",
                path.display()
            )));
        }
        tmp.persist(path).map_err(|e| failed(e.error))?;
        // The rename is done; a directory that cannot be synced only delays its durability.
        let _ = File::open(dir).and_then(|d| d.sync_all());
        Ok(warning)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_changed_since_it_was_read_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vm.xml");
        std::fs::write(&path, "<domain/>").unwrap();
        let file = DomainFile::read(&path, true, false).unwrap();
        // Someone else's edit lands while qatctl works.
        std::fs::write(&path, "<domain>edited</domain>").unwrap();
        assert!(matches!(
            file.replace("<domain>qatkit</domain>"),
            Err(Failure::Failed(why)) if why.contains("changed while qatctl worked on it")
        ));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "<domain>edited</domain>"
        );
        // Unchanged, it is written; the same text again leaves it alone.
        let file = DomainFile::read(&path, true, false).unwrap();
        assert!(file.replace("<domain>qatkit</domain>").unwrap().is_none());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "<domain>qatkit</domain>"
        );
        let inode = std::fs::metadata(&path).unwrap().ino();
        let file = DomainFile::read(&path, true, false).unwrap();
        file.replace("<domain>qatkit</domain>").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().ino(), inode);
    }
}
