//! Evidence archives: a zip of one run's files plus a manifest of their
//! SHA-256 checksums, and a reader that refuses what could escape the
//! archive or exhaust memory before reading anything from it.

use std::io::{Read, Write};
use std::path::Path;

use analytics_domain::artifact::MANIFEST_VERSION;
use analytics_domain::artifact::{unsafe_entry_name, Manifest, ManifestEntry, MANIFEST_NAME};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

/// No artifact comes near this; a bigger entry is refused unread.
pub const MAX_ENTRY_BYTES: u64 = 8 * 1024 * 1024;
/// Entries read from one archive at most.
pub const MAX_ENTRIES: usize = 10_000;

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `files` (path inside the archive, content) and their manifest.
pub fn write(path: &Path, files: &[(String, Vec<u8>)], generated_at: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION.into(),
        generated_at: generated_at.into(),
        files: files
            .iter()
            .map(|(name, bytes)| ManifestEntry {
                path: name.clone(),
                sha256: sha256_hex(bytes),
                bytes: bytes.len() as u64,
            })
            .collect(),
    };
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path)?);
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        zip.start_file(name.as_str(), options)?;
        zip.write_all(bytes)?;
    }
    zip.start_file(MANIFEST_NAME, options)?;
    zip.write_all(&serde_json::to_vec_pretty(&manifest)?)?;
    zip.finish()?.sync_all()?;
    Ok(())
}

/// What reading an archive found: the entries it may read, and each entry
/// it refused with the reason (in words, for the operator).
#[derive(Debug, Default)]
pub struct Contents {
    pub entries: Vec<(String, Vec<u8>)>,
    pub refused: Vec<String>,
}

/// Reads every file entry into memory (nothing is extracted to disk), after
/// checking its name and size; an entry whose data runs past its declared
/// size is refused as oversize too.
pub fn read(archive: &mut zip::ZipArchive<std::fs::File>) -> Contents {
    let mut out = Contents::default();
    if archive.len() > MAX_ENTRIES {
        out.refused.push(format!(
            "the archive has {} entries, more than the {MAX_ENTRIES} allowed",
            archive.len()
        ));
        return out;
    }
    for i in 0..archive.len() {
        let mut entry = match archive.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                out.refused
                    .push(format!("entry {i} could not be read: {e}"));
                continue;
            }
        };
        let name = match entry.name() {
            Ok(name) => name.to_string(),
            Err(e) => {
                out.refused
                    .push(format!("entry {i}: a name that is not text ({e})"));
                continue;
            }
        };
        if entry.is_dir() {
            continue;
        }
        if let Some(why) = unsafe_entry_name(&name) {
            out.refused.push(format!("{name}: {why}"));
            continue;
        }
        let oversize = || format!("{name}: larger than the {MAX_ENTRY_BYTES} bytes allowed");
        if entry.size() > MAX_ENTRY_BYTES {
            out.refused.push(oversize());
            continue;
        }
        let mut bytes = Vec::new();
        match (&mut entry)
            .take(MAX_ENTRY_BYTES + 1)
            .read_to_end(&mut bytes)
        {
            Ok(n) if n as u64 > MAX_ENTRY_BYTES => out.refused.push(oversize()),
            Ok(_) => out.entries.push((name, bytes)),
            Err(e) => out.refused.push(format!("{name}: could not be read: {e}")),
        }
    }
    out
}
