//! The process's one wasmtime [`Engine`], its epoch clock, and compiled modules kept in memory
//! and on disk.
//!
//! Every plugin call runs with an epoch deadline: a thread advances the engine's epoch every
//! [`EPOCH_TICK`], so a call given `n` ticks is interrupted between `(n-1)` and `n` ticks
//! later, whatever the guest does (loops included). The thread starts with the engine and
//! lives as long as the process.
//!
//! Compiling is the slow part of loading a plugin, so a module is compiled once per process
//! (in memory, keyed by the SHA-256 of its bytes) and once per machine: the compiled code is
//! written to the cache directory under a name made of that hash and the engine's
//! compatibility hash (wasmtime version, target, settings), and read back on restart. Loading
//! compiled code trusts the file completely, so the cache is used only in a directory owned by
//! the current user and writable by no one else; files are written whole (temporary file,
//! then rename) so a crash never leaves half a module.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use parking_lot::Mutex;
use wasmtime::{Config, Engine, Module};

use super::module::{ModuleError, PluginModule};

/// How often the epoch advances: call deadlines are rounded up to it. A 2 ms tick cost ~0.4%
/// of a worker's CPU in wake-ups under load; 10 ms, a fifth of that.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Modules kept compiled in memory, at most (the oldest go first).
const MEMORY_CACHE_ENTRIES: usize = 64;

/// The engine every plugin runs on, created with its epoch thread on first use.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let engine = match Engine::new(&config) {
            Ok(engine) => engine,
            Err(e) => {
                // Only an unsupported host CPU gets here; plugins then cannot load at all.
                tracing::error!(error = %e, "cannot create the WebAssembly engine; using defaults");
                Engine::default()
            }
        };
        let ticking = engine.weak();
        let started = std::thread::Builder::new()
            .name("vigie-wasm-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticking.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            });
        if let Err(e) = started {
            tracing::error!(error = %e, "cannot start the plugin deadline thread");
        }
        engine
    })
}

/// Epoch ticks that give a call at least `timeout`.
pub fn deadline_ticks(timeout: Duration) -> u64 {
    (timeout.as_micros() / EPOCH_TICK.as_micros()).max(1) as u64 + 1
}

/// A module's SHA-256, the key of both caches.
pub type ModuleHash = [u8; 32];

/// The SHA-256 of `bytes`.
pub fn module_hash(bytes: &[u8]) -> ModuleHash {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Compiles and checks `bytes`, or takes them from the caches; `cache_dir` is the disk cache
/// (none: memory only).
pub fn load(bytes: &[u8], cache_dir: Option<&Path>) -> Result<PluginModule, ModuleError> {
    static COMPILED: OnceLock<Mutex<Vec<(ModuleHash, Module)>>> = OnceLock::new();
    let hash = module_hash(bytes);
    let compiled = COMPILED.get_or_init(|| Mutex::new(Vec::new()));
    if let Some((_, m)) = compiled.lock().iter().find(|(h, _)| *h == hash) {
        return PluginModule::check(m.clone());
    }
    let engine = engine();
    let on_disk = cache_dir.and_then(|dir| DiskCache::open(dir, engine));
    let module = match on_disk.as_ref().and_then(|c| c.read(&hash)) {
        Some(module) => module,
        None => {
            let module =
                Module::new(engine, bytes).map_err(|e| ModuleError::Invalid(format!("{e:#}")))?;
            if let Some(cache) = &on_disk {
                cache.write(&hash, &module);
            }
            module
        }
    };
    let checked = PluginModule::check(module.clone())?;
    let mut compiled = compiled.lock();
    if compiled.len() >= MEMORY_CACHE_ENTRIES {
        compiled.remove(0);
    }
    compiled.push((hash, module));
    Ok(checked)
}

/// The default cache directory: `$XDG_CACHE_HOME/vigie/plugins`, else
/// `$HOME/.cache/vigie/plugins`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("vigie").join("plugins"))
}

/// Compiled modules in a private directory.
struct DiskCache {
    dir: PathBuf,
    engine: Engine,
    compat: u64,
}

impl DiskCache {
    /// The cache in `dir`, created if needed; none (logged) if it is not private to us.
    fn open(dir: &Path, engine: &Engine) -> Option<DiskCache> {
        if let Err(e) = create_private_dir(dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "plugin cache unusable; compiling in memory only");
            return None;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Some(DiskCache {
            dir: dir.to_path_buf(),
            engine: engine.clone(),
            compat: h.finish(),
        })
    }

    fn path(&self, hash: &ModuleHash) -> PathBuf {
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{hex}-{:016x}.cwasm", self.compat))
    }

    fn read(&self, hash: &ModuleHash) -> Option<Module> {
        let path = self.path(hash);
        if !path.exists() {
            return None;
        }
        // SAFETY: `Module::deserialize_file` runs the file's machine code as the module. The
        // file was written by `write` below into a directory `open` checked is owned by this
        // user and writable by no one else, under a name that binds the module's hash and
        // the engine's compatibility hash (wasmtime also checks its own header).
        #[allow(unsafe_code)]
        let module = unsafe { Module::deserialize_file(&self.engine, &path) };
        match module {
            Ok(module) => Some(module),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "ignoring a bad plugin cache file");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    fn write(&self, hash: &ModuleHash, module: &Module) {
        let path = self.path(hash);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let written = module
            .serialize()
            .map_err(|e| std::io::Error::other(format!("{e:#}")))
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(file = %path.display(), error = %e, "cannot write the plugin cache");
        }
    }
}

/// Creates `dir` (mode 0700) if missing and checks it is ours and private.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::metadata(dir)?;
    let uid = nix_uid();
    if meta.uid() != uid {
        return Err(std::io::Error::other("owned by another user"));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(std::io::Error::other(
            "writable by others (needs mode 0700)",
        ));
    }
    Ok(())
}

/// The effective user id, read from `/proc/self` (no libc call needed).
fn nix_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A fresh private directory under the system's temporary one.
    fn temp_dir(name: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("vigie-cache-{name}-{nanos}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        dir
    }

    fn wat(unique: &str) -> String {
        format!(
            r#"(module (memory (export "memory") 1) (func (export "proxy_abi_version_0_2_1"))
               (func (export "malloc") (param i32) (result i32) (i32.const 0))
               (global (export "{unique}") i32 (i32.const 0)))"#
        )
    }

    #[test]
    fn a_compiled_module_is_written_once_and_read_back() {
        let dir = temp_dir("roundtrip");
        let bytes = wat("roundtrip");
        let loaded = load(bytes.as_bytes(), Some(&dir)).unwrap();
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(files.len(), 1, "one file per module and engine");
        let cache = DiskCache::open(&dir, engine()).unwrap();
        let hash = module_hash(bytes.as_bytes());
        let read = cache.read(&hash).expect("read back from disk");
        assert_eq!(
            read.exports()
                .map(|e| e.name().to_string())
                .collect::<Vec<_>>(),
            loaded
                .module
                .exports()
                .map(|e| e.name().to_string())
                .collect::<Vec<_>>()
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_damaged_file_is_ignored_and_removed() {
        let dir = temp_dir("damaged");
        let cache = DiskCache::open(&dir, engine()).unwrap();
        let hash = module_hash(b"damaged");
        std::fs::write(cache.path(&hash), b"not machine code").unwrap();
        assert!(cache.read(&hash).is_none());
        assert!(
            !cache.path(&hash).exists(),
            "removed, so the next load rewrites it"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_directory_others_may_write_is_not_used() {
        let dir = temp_dir("shared");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(DiskCache::open(&dir, engine()).is_none());
        // Loading still works, compiled in memory only.
        assert!(load(wat("shared").as_bytes(), Some(&dir)).is_ok());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
