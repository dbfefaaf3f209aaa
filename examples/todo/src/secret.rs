//! The cursor secret: 32 random bytes in the data directory, made on the first run, so that
//! pagination cursors stay valid across restarts (and never verify for another data directory).

use std::io::{self, Write as _};
use std::path::Path;

/// Reads the secret at `path`, or writes a new one there (a temporary file, then renamed).
pub(crate) fn load_or_create(path: &Path) -> io::Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(secret) if secret.len() >= 32 => return Ok(secret),
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is shorter than 32 bytes", path.display()),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut secret = vec![0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| io::Error::other(e.to_string()))?;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(&secret)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(secret)
}
