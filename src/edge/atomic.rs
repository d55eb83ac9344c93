//! Files written whole or not at all (edge): every report, export and
//! model-store file goes through [`write_atomically`].

use std::fs::{self, File};
use std::path::Path;

/// Writes `path` through a temporary file in the same folder: `write`
/// fills it, it is synced, renamed into place and the folder synced, so a
/// reader (or a crash) sees the old file or the new one, never a mix; a
/// failed write removes the temporary file and leaves the old one.
///
/// What is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO) is
/// written as it is: renaming over it would replace it (as root,
/// `--output /dev/null` once replaced the machine's /dev/null with a
/// file). A symbolic link is followed, so the file it points to is
/// replaced, not the link.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    // Temporary names unique per process and call (a container's process
    // is often PID 1).
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        let mut file = fs::OpenOptions::new().write(true).open(path)?;
        return write(&mut file);
    }
    let resolved = fs::canonicalize(path).ok();
    let path = resolved.as_deref().unwrap_or(path);
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // The clock as a nonce for the temporary file's name, not as time.
    #[allow(clippy::disallowed_methods)]
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}-{nanos}-{call}", std::process::id()));
    let tmp = path.with_file_name(name);
    let result = (|| {
        let mut file = File::create(&tmp)?;
        write(&mut file)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        // The rename itself is durable only once the folder is synced.
        File::open(folder)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Whether [`write_atomically`] could write `path`, found out before a
/// run does anything that cannot be taken back (records the run, patches
/// HPAs): a temporary file is made in its folder and removed again; what
/// is not a regular file is opened for writing.
///
/// # Errors
///
/// Why it cannot be written (no such folder, no permission).
pub fn check_writable(path: &Path) -> std::io::Result<()> {
    if fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return fs::OpenOptions::new().write(true).open(path).map(drop);
    }
    let resolved = fs::canonicalize(path).ok();
    let path = resolved.as_deref().unwrap_or(path);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".check-{}", std::process::id()));
    let probe = path.with_file_name(name);
    File::create(&probe)?;
    fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        write_atomically(&path, |f| f.write_all(b"old")).unwrap();
        let failed = write_atomically(&path, |f| {
            f.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(failed.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
