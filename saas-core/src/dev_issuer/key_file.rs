//! The development issuer's key file: read, or generated and published without replacing one
//! another process wrote first.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{DevIssuerError, KEY_FILE};
use crate::rsa_key::RsaKey;

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// A key file larger than this is not a key (an RSA-8192 PKCS#8 PEM is about 6.3 KiB).
const MAX_KEY_FILE_LEN: u64 = 64 * 1024;

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> DevIssuerError {
    let path = path.to_path_buf();
    move |source| DevIssuerError::Io {
        action,
        path,
        source,
    }
}

/// The key in `path`: `None` if there is no such file, an error if it is not a key.
pub(super) fn read_key(path: &Path) -> Result<Option<RsaKey>, DevIssuerError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("open", path)(e)),
    };
    warn_if_readable_by_others(&file, path);
    let mut text = Vec::new();
    file.take(MAX_KEY_FILE_LEN + 1)
        .read_to_end(&mut text)
        .map_err(io_error("read", path))?;
    let corrupt = |reason| DevIssuerError::CorruptKey {
        path: path.to_path_buf(),
        reason,
    };
    if text.len() as u64 > MAX_KEY_FILE_LEN {
        return Err(corrupt("larger than 64 KiB"));
    }
    let text = std::str::from_utf8(&text).map_err(|_| corrupt("not UTF-8 text"))?;
    let der = pem_decode(text).map_err(corrupt)?;
    RsaKey::from_pkcs8(&der)
        .map(Some)
        .map_err(|e| corrupt(e.description_()))
}

#[cfg(unix)]
fn warn_if_readable_by_others(file: &File, path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = file.metadata()
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            "the dev issuer's key file is accessible to other users; chmod 600 it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_file: &File, _path: &Path) {}

/// Generates a key and publishes it at `path`, or, if another process published one first, reads
/// that one. Returns the key and whether it was generated here.
pub(super) fn create_key(dir: &Path, path: &Path) -> Result<(RsaKey, bool), DevIssuerError> {
    fs::create_dir_all(dir).map_err(io_error("create the directory", dir))?;
    let key = RsaKey::generate().map_err(|_| DevIssuerError::KeyGeneration)?;
    let der = key.to_pkcs8().map_err(|_| DevIssuerError::KeyGeneration)?;
    let pem = pem_encode(der.as_ref());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(".{KEY_FILE}.{}.{nanos}.tmp", std::process::id()));
    let published = write_private(&tmp, pem.as_bytes()).and_then(|()| publish(&tmp, path));
    // The temporary name is gone after a rename; after a hard link (or a failure) remove it.
    let _ = fs::remove_file(&tmp);
    if !published? {
        // Another process wrote the key first: use theirs, so both sign with the same key.
        return match read_key(path)? {
            Some(theirs) => Ok((theirs, false)),
            None => Err(DevIssuerError::Io {
                action: "read",
                path: path.to_path_buf(),
                source: io::ErrorKind::NotFound.into(),
            }),
        };
    }
    sync_dir(dir);
    Ok((key, true))
}

/// Writes a new file readable by its owner only (on unix), flushed to disk.
fn write_private(path: &Path, contents: &[u8]) -> Result<(), DevIssuerError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io_error("create", path))?;
    file.write_all(contents).map_err(io_error("write", path))?;
    file.sync_all().map_err(io_error("write", path))
}

/// Publishes the written temporary file `tmp` under `path` atomically. `Ok(false)` if `path`
/// already exists: it is never replaced.
pub(super) fn publish(tmp: &Path, path: &Path) -> Result<bool, DevIssuerError> {
    // A hard link creates `path` only if it does not exist yet, so a key another process has
    // just published is never replaced.
    match fs::hard_link(tmp, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        // A file system without hard links: rename, after checking the name is still free.
        Err(_) => {
            if fs::symlink_metadata(path).is_ok() {
                return Ok(false);
            }
            fs::rename(tmp, path).map_err(io_error("create", path))?;
            Ok(true)
        }
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) {
    // Best effort: makes the new name durable; the key works without it.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) {}

pub(super) fn pem_encode(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = String::with_capacity(body.len() + body.len() / 64 + 64);
    pem.push_str(PEM_BEGIN);
    pem.push('\n');
    // base64 text is ASCII, so 64-byte chunks are whole characters.
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(PEM_END);
    pem.push('\n');
    pem
}

fn pem_decode(text: &str) -> Result<Vec<u8>, &'static str> {
    let body = text
        .trim()
        .strip_prefix(PEM_BEGIN)
        .and_then(|rest| rest.strip_suffix(PEM_END))
        .ok_or("not a PEM \"PRIVATE KEY\" block")?;
    let body: String = body.split_ascii_whitespace().collect();
    STANDARD
        .decode(body)
        .map_err(|_| "the PEM body is not base64")
}
